"""``qmoi keys``: API keys for people and systems other than the owner's master key."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qmoi.bootstrap import require_current
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.services.keys import ROLES, create_key, list_keys, revoke_key
from qmoi.services.ports import UnitOfWorkFactory

app = typer.Typer(help="API keys and their roles.", no_args_is_help=True)


def _uows(cli: CliContext) -> UnitOfWorkFactory:
    container = cli.container()
    require_current(container.engine)
    return container.uow


@app.command("create")
def create_command(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    name: Annotated[str, typer.Option("--name", help="who or what the key is for")],
) -> None:
    """Make a key; it is printed once and only its digest is kept."""
    cli: CliContext = ctx.obj
    made = create_key(_uows(cli), role, name)
    out.print(f"key {made.key_id} ({made.role}, {made.name}) — shown once, keep it safe:")
    out.print(made.secret, markup=False, highlight=False)


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Every key: id, name, role, when made, and whether revoked (never the secret)."""
    cli: CliContext = ctx.obj
    table = Table("id", "name", "role", "created", "revoked")
    for key in list_keys(_uows(cli)):
        table.add_row(
            key.key_id,
            key.name,
            key.role,
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    out.print(table)


@app.command("revoke")
def revoke_command(ctx: typer.Context, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key at once: its requests and dashboard sessions are refused."""
    cli: CliContext = ctx.obj
    if not revoke_key(_uows(cli), key_id):
        out.print(f"no active key {key_id!r} — see `qmoi keys list` for the ids", markup=False)
        raise typer.Exit(FAILED)
    out.print(f"key {key_id} revoked", markup=False)
