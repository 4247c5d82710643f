"""``qmoi validate``: every problem as ``VARIABLE: what is wrong — how to fix it``."""

from __future__ import annotations

import typer

from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, OK, out
from qmoi.config import build_settings, read_raw


def validate(ctx: typer.Context) -> None:
    """Check the configuration, correct what is safe to correct, and say what is wrong."""
    cli: CliContext = ctx.obj
    settings, report = build_settings(read_raw(cli.env_file, cli.config_file))
    for line in report.corrections:
        out.print(f"corrected: {line}", markup=False)
    for line in report.warnings:
        out.print(f"warning: {line}", markup=False)
    for line in report.problems:
        out.print(line, markup=False)
    if settings is None:
        count = len(report.problems)
        out.print(f"configuration is not usable: {count} problem{'s' * (count != 1)}", markup=False)
        raise typer.Exit(FAILED)
    mode = "sandbox (built-in emulators, simulated money)" if settings.sandbox else "live"
    out.print(
        f"configuration is usable: {mode}; Airtel {settings.airtel.environment.value}, "
        f"M-Pesa {settings.mpesa.environment.value}; "
        f"{len(report.warnings)} warning(s), {len(report.corrections)} correction(s)",
        markup=False,
    )
    raise typer.Exit(OK)
