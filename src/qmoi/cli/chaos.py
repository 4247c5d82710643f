"""``qmoi chaos``: the reliability run (``qmoi_chaos``), imported only when asked for so
that ordinary commands never load the harness."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qmoi.cli.render import fail, out


class Switch(StrEnum):
    on = "on"
    off = "off"


def chaos(
    seed: Annotated[int, typer.Option(help="seed of the fault schedule and the traffic")] = 1,
    attempts: Annotated[int, typer.Option(help="collection attempts", min=20)] = 10_000,
    transfers: Annotated[
        int, typer.Option(help="auto-transfers aimed at (sizes the chunk)", min=2)
    ] = 500,
    days: Annotated[float, typer.Option(help="simulated days the attempts span", min=0.1)] = 7.0,
    rate: Annotated[float, typer.Option(help="attempts per real second", min=1)] = 40.0,
    kills: Annotated[int, typer.Option(help="SIGKILLs of API/worker processes", min=0)] = 8,
    apis: Annotated[int, typer.Option(help="API processes (PostgreSQL)", min=1)] = 2,
    workers: Annotated[int, typer.Option(help="worker processes (PostgreSQL)", min=1)] = 2,
    db_restarts: Annotated[int, typer.Option(help="PostgreSQL server restarts", min=0)] = 1,
    sqlite: Annotated[
        bool, typer.Option("--sqlite", help="one process on SQLite, kills of that process")
    ] = False,
    attacker: Annotated[
        bool,
        typer.Option(
            "--attacker/--no-attacker",
            help="post forged, replayed and altered callbacks during the traffic",
        ),
    ] = True,
    attack_rate: Annotated[
        float, typer.Option(help="forged callbacks per real second", min=0.1)
    ] = 4.0,
    airtel_hash: Annotated[
        Switch,
        typer.Option(
            help="Airtel callback hash: the emulator signs and QMOI requires it (on), or "
            "neither (off: every Airtel callback is only a hint)"
        ),
    ] = Switch.off,
    keep: Annotated[
        bool, typer.Option("--keep", help="keep the run's directory even when it passes")
    ] = False,
    report: Annotated[Path, typer.Option(help="where the JSON report goes")] = Path(
        "chaos/report.json"
    ),
    work_dir: Annotated[
        Path | None, typer.Option(help="keep databases and logs here (default: a temp dir)")
    ] = None,
) -> None:
    """Run QMOI under a seeded schedule of faults and an attacker forging callbacks, then
    hold its books against the emulators' ground truth; exit 1 if anything was lost,
    doubled or left wrong, or a forged callback was acted on."""
    from qmoi_chaos.postgres import ClusterUnavailable
    from qmoi_chaos.run import ChaosConfig, run
    from qmoi_chaos.table import render

    config = ChaosConfig(
        seed=seed,
        attempts=attempts,
        transfers=transfers,
        days=days,
        rate=rate,
        kills=kills,
        apis=apis,
        workers=workers,
        db_restarts=db_restarts,
        sqlite=sqlite,
        attacker=attacker,
        attack_rate=attack_rate,
        airtel_hash=airtel_hash is Switch.on,
        report=report,
        work_dir=work_dir,
        keep=keep,
        log=lambda line: out.print(line, markup=False),
    )
    try:
        result = run(config)
    except ClusterUnavailable as exc:
        fail(f"chaos: {exc} (or run with --sqlite)")
    render(result, out)
    out.print(f"report: {report}", markup=False)
    if not result.passed:
        raise typer.Exit(1)
