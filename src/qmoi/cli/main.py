"""The ``qmoi`` root command: global options, sub-commands, and the error boundary."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import structlog
import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from qmoi.cli import accounts, audit, backup, db, keys, ledger, revenue, secrets
from qmoi.cli.chaos import chaos
from qmoi.cli.context import CliContext
from qmoi.cli.help import tidy, usage_problem
from qmoi.cli.private import UMASK
from qmoi.cli.reconcile import reconcile
from qmoi.cli.render import INTERNAL, USAGE, fail
from qmoi.cli.sandbox import WithEmulatorFlags, sandbox
from qmoi.cli.start import api, start, worker
from qmoi.cli.validate import validate
from qmoi.errors import QmoiError

app = typer.Typer(
    name="qmoi",
    help="QMOI: collect mobile-money payments, track targets, pay the owner.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[Path, typer.Option(help="dotenv file to read")] = Path(".env"),
    config: Annotated[
        Path | None,
        typer.Option(help="JSON config file (docs/configuration.md); or QMOI_CONFIG_FILE"),
    ] = None,
) -> None:
    # before anything is created: the database, keys and logs hold customers' numbers
    # and secrets, so nothing QMOI makes is for other users (files 0600, directories 0700)
    os.umask(UMASK)
    ctx.obj = CliContext(env_file=env_file, config_file=config)
    ctx.call_on_close(ctx.obj.close)


app.command("validate")(validate)
app.command("start")(start)
app.command("api")(api)
app.command("worker")(worker)
app.command(
    "sandbox",
    cls=WithEmulatorFlags,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(sandbox)
app.add_typer(db.app, name="db")
app.add_typer(revenue.app, name="revenue")
app.add_typer(accounts.app, name="accounts")
app.command("transfer")(revenue.transfer)
app.command("reconcile")(reconcile)
app.command("chaos")(chaos)
app.add_typer(audit.app, name="audit")
app.add_typer(ledger.app, name="ledger")
app.add_typer(keys.app, name="keys")
app.add_typer(backup.app, name="backup")
app.add_typer(secrets.app, name="secrets")


def command() -> TyperGroup:
    """The ``qmoi`` command tree, ready to run and to print its help."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)  # noqa: S101 - the app has sub-commands
    tidy(root)
    return root


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: maps every failure to one line and an exit code.
    ``argv``: the arguments (default: the command line's)."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = command()
    try:
        code = root.main(args=args, prog_name="qmoi", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        fail("aborted", USAGE)
    except TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message:  # a bare group: its help was already printed
            sys.exit(USAGE)
        fail(usage_problem(exc, root, args), USAGE)
    except QmoiError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        fail("interrupted", USAGE)
    except Exception as exc:  # the boundary: never a traceback to the user
        structlog.get_logger("qmoi.cli").exception("internal_error")
        fail(f"internal error: {type(exc).__name__} — see logs/qmoi.log", INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
