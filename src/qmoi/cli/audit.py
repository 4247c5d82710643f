"""``qmoi audit``: check the signed, hash-chained audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qmoi.bootstrap import require_current
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.services.audit_export import ExportUnreadable, export, verify_file
from qmoi.services.bookkeeping import verify_audit

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="check an export (qmoi audit export) instead of the database"),
    ] = None,
) -> None:
    """Recompute the hash chain and every signature; name the first broken record."""
    cli: CliContext = ctx.obj
    if file is not None:
        _verify_file(file)
        return
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


def _verify_file(file: Path) -> None:
    if not file.is_file():
        out.print(f"--file: {file} does not exist — give the path of an export", markup=False)
        raise typer.Exit(FAILED)
    try:
        key_id, count, broken = verify_file(file)
    except ExportUnreadable as exc:
        out.print(f"{file}: {exc} — is it a file `qmoi audit export` wrote?", markup=False)
        raise typer.Exit(FAILED) from None
    if broken is not None:
        out.print(
            f"{file}: audit trail BROKEN at record {broken.seq}: {broken.reason} "
            f"({count} record(s) read, key {key_id})",
            markup=False,
        )
        raise typer.Exit(FAILED)
    out.print(
        f"{file}: audit trail intact: {count} record(s), chain and signatures verified "
        f"with key {key_id}",
        markup=False,
    )


@app.command("export")
def export_command(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="where to write the export")],
) -> None:
    """Write the whole signed trail with the public key, for anyone to verify
    (qmoi audit verify --file FILE)."""
    cli: CliContext = ctx.obj
    container = cli.container()
    require_current(container.engine)
    with out_file.open("w", encoding="utf-8") as handle:
        count, key_id = export(container.uow, container.signer, handle)
    out.print(
        f"{count} audit record(s) written to {out_file}, signed by key {key_id}", markup=False
    )
