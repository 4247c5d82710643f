"""``qmoi ledger``: prove the books balance."""

from __future__ import annotations

import typer

from qmoi.bootstrap import require_current
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.services.bookkeeping import verify_ledger

app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@app.command("verify")
def verify_command(ctx: typer.Context) -> None:
    """Check that every entry balances, balances equal their postings, and the trial
    balance is zero."""
    cli: CliContext = ctx.obj
    container = cli.container()
    require_current(container.engine)
    problems = verify_ledger(container.uow)
    for problem in problems:
        out.print(problem, markup=False)
    if problems:
        raise typer.Exit(FAILED)
    out.print("ledger sound: every entry balances and the trial balance is zero", markup=False)
