"""``qmoi db``: apply and inspect schema migrations."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from qmoi.bootstrap import code_revision, migrate, pending_migrations, schema_revision
from qmoi.cli.context import CliContext
from qmoi.cli.render import out
from qmoi.config import redact_database_url

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Apply every migration the database does not have yet."""
    cli: CliContext = ctx.obj
    container = cli.container()
    steps = pending_migrations(container.engine)
    columns = (
        TextColumn("migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=out, transient=True, disable=not steps) as progress:
        task = progress.add_task("", total=len(steps))
        before, after = migrate(
            container.engine, on_step=lambda rev: progress.update(task, advance=1, description=rev)
        )
    where = redact_database_url(cli.settings().database_url)
    if before == after:
        out.print(f"{where}: already at {after}", markup=False)
    else:
        out.print(f"{where}: upgraded from {before or 'empty'} to {after}", markup=False)


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Show the schema revision of the database and of the code."""
    cli: CliContext = ctx.obj
    current = schema_revision(cli.container().engine)
    head = code_revision()
    state = "up to date" if current == head else "needs `qmoi db upgrade`"
    out.print(f"database at {current or 'nothing'}, code at {head}: {state}", markup=False)
