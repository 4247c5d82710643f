"""``qmoi secrets``: the credential vault — set (from a prompt or stdin, never the
command line), list (names only), unset, and rotate the key that seals them."""

from __future__ import annotations

import sys
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import SecretStr
from rich.table import Table

from qmoi.bootstrap import open_store, require_current
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.config import RawValues, read_raw, store_location
from qmoi.services import vault
from qmoi.services.ports import UnitOfWorkFactory

app = typer.Typer(help="Provider secrets, sealed in the database.", no_args_is_help=True)


def _uows(cli: CliContext) -> UnitOfWorkFactory:
    """The database alone, not the whole configuration: that may still lack the very
    secrets being stored (a live AIRTEL_CLIENT_SECRET is required before QMOI starts)."""
    where = store_location(_raw(cli))
    engine, _, uows = open_store(where.database_url, where.signing_key_file, ZoneInfo("UTC"))
    cli.on_close(engine.dispose)
    require_current(engine)
    return uows


def _raw(cli: CliContext) -> RawValues:
    return read_raw(cli.env_file, cli.config_file)


def _key(cli: CliContext) -> vault.VaultKey:
    return vault.VaultKey.of(_raw(cli))


def _read_secret(prompt: str) -> str:
    """From a hidden prompt at a terminal (typed twice), else one line of stdin."""
    if sys.stdin.isatty():
        value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
        return value
    return sys.stdin.readline().rstrip("\r\n")


@app.command("set")
def set_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"one of {', '.join(vault.VAULT_NAMES)}")],
) -> None:
    """Seal a secret into the vault. The value is read from a prompt, or from stdin
    (qmoi secrets set MPESA_PASSKEY < file), never from the command line."""
    cli: CliContext = ctx.obj
    name = name.strip().upper()
    vault.check_name(name, _raw(cli))  # before asking for the value
    value = _read_secret(name)
    vault.check_value(_raw(cli), name, value)
    key_id = vault.set_secret(_uows(cli), _key(cli), name, value)
    out.print(f"{name} sealed in the vault (key {key_id})", markup=False)
    raw = _raw(cli)
    if name in raw.values or name in raw.referenced:
        out.print(
            f"note: {name} is also set in the environment or a config file, and that value "
            "wins — remove it there to use the vault's",
            markup=False,
        )


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """The vault's names, which key sealed each and when (never a value)."""
    cli: CliContext = ctx.obj
    elsewhere = _raw(cli).values
    table = Table("name", "sealed by key", "updated", "in use")
    for entry in vault.entries(_uows(cli)):
        table.add_row(
            entry.name,
            entry.key_id,
            entry.updated_at.isoformat(timespec="seconds"),
            "no: the environment's value wins" if entry.name in elsewhere else "yes",
        )
    out.print(table)


@app.command("unset")
def unset_command(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Remove a secret from the vault."""
    cli: CliContext = ctx.obj
    name = name.strip().upper()
    if not vault.unset_secret(_uows(cli), name):
        out.print(f"{name!r} is not in the vault — see `qmoi secrets list`", markup=False)
        raise typer.Exit(FAILED)
    out.print(f"{name} removed from the vault", markup=False)


@app.command("rotate")
def rotate_command(ctx: typer.Context) -> None:
    """Re-seal every secret under a new key. With a key file (var/secret.key) QMOI makes
    the new key; with QMOI_SECRET_KEY, give the new value at the prompt or on stdin,
    then set QMOI_SECRET_KEY to it before the next start."""
    cli: CliContext = ctx.obj
    key = _key(cli)
    new = SecretStr(_read_secret("new QMOI_SECRET_KEY")) if key.secret_key else None
    count, key_id = vault.rotate(_uows(cli), key, new)
    out.print(f"{count} secret(s) re-sealed under key {key_id}", markup=False)
    if key.secret_key is not None:
        out.print(
            "now set QMOI_SECRET_KEY to the new key and restart QMOI; keep the old key "
            "as long as you keep backups made with it",
            markup=False,
        )
    else:
        out.print(
            f"the old key is kept in {key.key_file.parent / 'retired-keys'} for older "
            "backups; delete it when they expire",
            markup=False,
        )
