"""Running QMOI for ``qmoi start``, ``qmoi api`` and ``qmoi worker``: the container
from the composition root, the worker listening to its doorbell, the API over it, and
in the sandbox the simulated world around them (:mod:`qmoi.cli.simulation`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from qmoi.bootstrap import (
    Container,
    build,
    check_accounts,
    check_mode,
    connect,
    prepare_database,
    runtime_settings,
)
from qmoi.cli import simulation
from qmoi.config import Settings
from qmoi.domain.clock import Clock, SystemClock
from qmoi.errors import ConfigError
from qmoi.services.context import Services
from qmoi.worker.main import Worker


@dataclass(frozen=True)
class Runtime:
    container: Container
    worker: Worker
    emulators: Mapping[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.container.services

    @property
    def master_key(self) -> str:
        key = self.container.settings.master_key
        assert key is not None  # noqa: S101 - runtime_settings always sets it
        return key.get_secret_value()


@asynccontextmanager
async def assemble(
    settings: Settings,
    *,
    host: str,
    port: int,
    speed: float = 1.0,
    start: datetime | None = None,
    seed: int | None = None,
    with_emulators: bool = True,
    simulate: bool = True,
    clock_file: Path | None = None,
) -> AsyncIterator[Runtime]:
    """Everything ``qmoi start`` runs, built and torn down in order. ``clock_file``: tell
    the time of an accelerated sandbox clock published there (split processes sharing
    one simulated clock with emulators started elsewhere)."""
    if not settings.sandbox and (speed != 1.0 or start is not None or clock_file is not None):
        raise ConfigError(
            "--speed, --start and --sandbox-clock exist only in the sandbox: live time is real"
        )
    clock: Clock = SystemClock()
    if settings.sandbox:
        scaled = (
            simulation.sandbox_clock(speed, start)
            if clock_file is None
            else simulation.shared_clock(clock_file)
        )
        if with_emulators:  # the process that owns the sandbox's time publishes it
            simulation.save_clock(settings.var_dir, scaled)
        clock = scaled
    settings = runtime_settings(settings, host=host, port=port)
    store = build(settings, clock=clock)
    async with AsyncExitStack() as stack:
        stack.callback(store.close)
        prepare_database(store)
        check_mode(store)
        check_accounts(store)
        emulators: dict[str, str] = {}
        threads = stack.enter_context(ExitStack())
        if settings.sandbox and with_emulators:
            settings, emulators = simulation.start_emulators(settings, threads, clock, seed)
        elif settings.sandbox:
            settings = simulation.sandbox_credentials(settings)
        customers = None
        if settings.sandbox and simulate and emulators:
            customers = await simulation.create_customers(emulators)
        container = connect(store, settings, sandbox_customers=customers)
        stack.push_async_callback(container.close_providers)
        if emulators:
            await simulation.register_c2b(container.providers)
        worker = Worker(
            container.services, sales_customers=customers, seed=seed, doorbell=container.doorbell
        )
        yield Runtime(container, worker, emulators)


async def serve(
    runtime: Runtime,
    *,
    host: str,
    port: int,
    run_api: bool,
    run_worker: bool,
    log_level: str = "warning",
) -> None:
    """Run the API and/or the worker until interrupted, then stop cleanly."""
    import uvicorn

    from qmoi.api.app import create_app

    stop = asyncio.Event()
    # An API process without a worker books what it receives: it drains the inbox
    # (safely beside any number of workers) so a payment is booked within moments of
    # its callback.
    jobs = None if run_worker else frozenset({"inbox"})
    tasks = [asyncio.create_task(runtime.worker.run(stop, jobs=jobs), name="worker")]
    server = None
    if run_api:
        config = uvicorn.Config(
            create_app(runtime.container), host=host, port=port, log_level=log_level, lifespan="off"
        )
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="api"))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
