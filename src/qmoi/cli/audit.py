"""``qmoi audit``: check the signed, hash-chained audit trail."""

from __future__ import annotations

import typer

from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.db.migrate import require_current
from qmoi.services.bookkeeping import verify_audit

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
def verify_command(ctx: typer.Context) -> None:
    """Recompute the hash chain and every signature; name the first broken record."""
    cli: CliContext = ctx.obj
    container = cli.container()
    require_current(container.engine)
    verdict = verify_audit(container.uow, container.signer.verifier())
    if verdict.broken is not None:
        out.print(
            f"audit trail BROKEN at record {verdict.broken.seq}: {verdict.broken.reason} "
            f"({verdict.records} record(s) read)",
            markup=False,
        )
        raise typer.Exit(FAILED)
    out.print(
        f"audit trail intact: {verdict.records} record(s), chain and signatures verified",
        markup=False,
    )
