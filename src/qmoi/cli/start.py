"""``qmoi start`` (everything in one process: the embedded default), ``qmoi api`` and
``qmoi worker`` (split deployments: any number of each against PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from qmoi.cli.context import CliContext
from qmoi.cli.render import out
from qmoi.cli.runtime import Runtime, assemble, serve
from qmoi.config import redact_database_url
from qmoi.errors import ConfigError
from qmoi.services import notices

Host = Annotated[str, typer.Option(help="address to listen on")]
Port = Annotated[int, typer.Option(help="port of the API", min=1, max=65535)]
Speed = Annotated[
    float, typer.Option(help="sandbox clock speed (60: an hour a minute)", min=0.001, max=100_000)
]
StartAt = Annotated[
    str | None,
    typer.Option("--start", help="sandbox clock start, ISO 8601 with a zone (default: now)"),
]
Seed = Annotated[int | None, typer.Option(help="make the simulation reproducible")]
SandboxClock = Annotated[
    Path | None,
    typer.Option(
        "--sandbox-clock",
        help="sandbox only: tell the time of the accelerated clock in this JSON file "
        '({"start", "speed", "origin"}, as qmoi start publishes it), shared with '
        "emulators and other processes",
    ),
]
Debug = Annotated[bool, typer.Option(help="debug logging")]


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--start: {text!r} is not an ISO 8601 time — use e.g. 2026-11-29T23:55:00+03:00"
        ) from None
    if when.tzinfo is None:
        raise ConfigError(f"--start: {text!r} has no time zone — add one, e.g. +03:00")
    return when


def _banner(runtime: Runtime, host: str, port: int, speed: float) -> None:
    settings = runtime.container.settings
    if settings.sandbox:
        out.print(
            f"QMOI sandbox (simulated money) on http://{host}:{port} — speed ×{speed:g}",
            markup=False,
        )
        for name, url in runtime.emulators.items():
            out.print(f"  {name} emulator: {url}", markup=False)
        # where the key is, never the key: console output ends up in files and journals
        kept = settings.var_dir / "master.key"
        generated = kept.is_file() and kept.read_text().strip() == runtime.master_key
        where = f"`cat {kept}`" if generated else "as set in QMOI_MASTER_KEY"
        out.print(f"  master key: {where}", markup=False)
    else:
        out.print(f"QMOI live on http://{host}:{port}", markup=False)
    out.print(
        f"  dashboard: http://{host}:{port}/ (sign in with the master key); database: "
        f"{redact_database_url(settings.database_url)}; API docs at "
        f"http://{host}:{port}/docs; Ctrl-C stops",
        markup=False,
    )


def start(
    ctx: typer.Context,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    speed: Speed = 1.0,
    start_at: StartAt = None,
    seed: Seed = None,
    debug: Debug = False,
) -> None:
    """Run QMOI in one process: API, worker and scheduler; in the sandbox also the
    enabled providers' emulators and the simulated customers."""
    cli: CliContext = ctx.obj
    settings = cli.settings(debug=debug)

    async def main() -> None:
        async with assemble(
            settings, host=host, port=port, speed=speed, start=_start_time(start_at), seed=seed
        ) as runtime:
            await _warn_owner(cli, runtime)
            _banner(runtime, host, port, speed)
            await serve(
                runtime,
                host=host,
                port=port,
                run_api=True,
                run_worker=True,
                log_level="info" if debug else "warning",
            )

    _run(main)


def api(
    ctx: typer.Context,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    debug: Debug = False,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker", help="also run every worker job here (one process on SQLite)"
        ),
    ] = False,
    sandbox_clock: SandboxClock = None,
) -> None:
    """Serve the HTTP API only (run qmoi worker processes beside it)."""
    cli: CliContext = ctx.obj
    settings = cli.settings(debug=debug)

    async def main() -> None:
        async with assemble(
            settings,
            host=host,
            port=port,
            with_emulators=False,
            simulate=False,
            clock_file=sandbox_clock,
        ) as runtime:
            await _warn_owner(cli, runtime)
            _banner(runtime, host, port, float(getattr(runtime.container.clock, "speed", 1.0)))
            await serve(
                runtime,
                host=host,
                port=port,
                run_api=True,
                run_worker=with_worker,
                log_level="info" if debug else "warning",
            )

    _run(main)


def worker(ctx: typer.Context, debug: Debug = False, sandbox_clock: SandboxClock = None) -> None:
    """Run a worker only: inbox, transfers, resolver, day roll-over."""
    cli: CliContext = ctx.obj
    settings = cli.settings(debug=debug)

    async def main() -> None:
        async with assemble(
            settings,
            host="127.0.0.1",
            port=0,
            with_emulators=False,
            simulate=False,
            clock_file=sandbox_clock,
        ) as runtime:
            await _warn_owner(cli, runtime)
            out.print(f"QMOI worker {runtime.worker.name} — Ctrl-C stops", markup=False)
            await serve(runtime, host="127.0.0.1", port=0, run_api=False, run_worker=True)

    _run(main)


async def _warn_owner(cli: CliContext, runtime: Runtime) -> None:
    """The settings' risky choices go to the owner too, not only to this console."""
    warnings = list(cli.report.warnings) if cli.report is not None else []
    if warnings:
        await asyncio.to_thread(notices.configuration_warnings, runtime.services, warnings)


def _run(main: object) -> None:
    try:
        asyncio.run(main())  # type: ignore[operator]
    except KeyboardInterrupt:
        out.print("stopped", markup=False)
