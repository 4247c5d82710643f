"""Assembling a running QMOI for ``qmoi start``, ``qmoi api`` and ``qmoi worker``.

In the sandbox, ``qmoi start`` also starts both emulators on loopback ports (each in its
own thread), sharing QMOI's simulated clock (same start, same speed), with their
published sandbox credentials filled in for the connectors, and creates the simulated
customers of the traffic model. This module and ``qmoi sandbox`` are the only places
outside the tests that import ``qmoi_sandbox``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from qmoi.bootstrap import Container, build, install_secret, wire
from qmoi.config import Settings
from qmoi.db.engine import is_sqlite
from qmoi.db.migrate import require_current, upgrade
from qmoi.domain.clock import Clock, ScaledClock, SystemClock
from qmoi.domain.streams import STREAMS, StreamKey
from qmoi.errors import ConfigError
from qmoi.providers.base import PaymentProvider
from qmoi.providers.mpesa.client import MpesaConnector
from qmoi.providers.registry import MPESA_CALLBACK_PREFIX, build_provider
from qmoi.providers.sandbox import SandboxControl
from qmoi.services.context import Services
from qmoi.services.results import StoredResultWaiter
from qmoi.worker.main import Worker

CUSTOMERS_PER_STREAM = 12


@dataclass
class Runtime:
    container: Container
    services: Services
    worker: Worker
    master_key: str
    public_url: str
    emulators: dict[str, str] = field(default_factory=dict)


def check_mode(container: Container) -> None:
    """A database holds sandbox or live money, never both: refuse the other mode."""
    mode = "sandbox" if container.settings.sandbox else "live"
    with container.uow() as uow:
        stored = uow.meta.set_once("mode", mode)
        uow.commit()
    if stored != mode:
        raise ConfigError(
            f"QMOI_DATABASE_URL: this database holds {stored} data and QMOI is configured "
            f"for {mode}; simulated and real money never share a database — use another "
            "database"
        )


def prepare_database(container: Container) -> str | None:
    """Migrate SQLite automatically; on PostgreSQL require ``qmoi db upgrade`` first."""
    if is_sqlite(container.engine):
        before, after = upgrade(container.engine)
        return after if before != after else None
    require_current(container.engine)
    return None


CLOCK_FILE = "sandbox_clock.json"


def sandbox_clock(speed: float, start: datetime | None) -> ScaledClock:
    return ScaledClock(start or datetime.now(UTC), speed)


def save_clock(var_dir: Path, clock: ScaledClock) -> None:
    """Let other commands (``qmoi revenue status``) tell the sandbox's simulated time."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (var_dir / CLOCK_FILE).write_text(
        json.dumps({"start": clock.start.isoformat(), "speed": clock.speed, "origin": clock.origin})
    )


def _shared_clock(path: Path) -> ScaledClock:
    clock = load_clock_file(path)
    if clock is None:
        raise ConfigError(
            f"--sandbox-clock: {path} is not a readable clock file — it holds "
            '{"start": ISO time, "speed": N, "origin": epoch seconds}, as `qmoi start` '
            f"writes to {CLOCK_FILE}"
        )
    return clock


def load_clock(var_dir: Path) -> ScaledClock | None:
    return load_clock_file(var_dir / CLOCK_FILE)


def load_clock_file(path: Path) -> ScaledClock | None:
    try:
        data = json.loads(path.read_text())
        return ScaledClock(
            datetime.fromisoformat(data["start"]), float(data["speed"]), float(data["origin"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
        scaled = sandbox_clock(speed, start) if clock_file is None else _shared_clock(clock_file)
        if with_emulators:  # the process that owns the sandbox's time publishes it
            save_clock(settings.var_dir, scaled)
        clock = scaled
    var = settings.var_dir
    master = (
        install_secret(var, "master.key", settings.master_key)
        if settings.sandbox
        else settings.master_key
    )
    if master is None:
        raise ConfigError(
            "QMOI_MASTER_KEY: is required outside the sandbox — set a long "
            "random key, e.g. `openssl rand -hex 32`"
        )
    token = install_secret(var, "mpesa_callback_token", settings.mpesa.callback_token)
    public_url = settings.public_url or f"http://{host}:{port}"
    settings = settings.model_copy(
        update={
            "master_key": master,
            "public_url": public_url,
            "mpesa": settings.mpesa.model_copy(update={"callback_token": token}),
        }
    )
    container = build(settings, clock=clock)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(container.aclose)
        prepare_database(container)
        check_mode(container)
        emulators: dict[str, str] = {}
        threads = stack.enter_context(ExitStack())
        if settings.sandbox and with_emulators:
            settings, emulators = _start_emulators(settings, threads, clock, seed, public_url)
            container.settings = settings
        elif settings.sandbox:
            settings = sandbox_credentials(settings)
            container.settings = settings
        results = StoredResultWaiter(container.uow)
        providers: dict[str, PaymentProvider] = {
            "airtel": build_provider(settings, "airtel"),
            "mpesa": build_provider(
                settings,
                "mpesa",
                results=results,
                callback_base_url=f"{public_url}{MPESA_CALLBACK_PREFIX}/{token.get_secret_value()}",
            ),
        }
        customers = None
        if settings.sandbox and simulate and emulators:
            customers = await _create_customers(emulators)
        if emulators:
            mpesa = providers["mpesa"]
            if isinstance(mpesa, MpesaConnector):
                await mpesa.register_c2b_urls()  # customers may pay the paybill directly
        services = wire(container, providers, results=results, sandbox_customers=customers)
        worker = Worker(services, sales_customers=customers, seed=seed)
        services.wake = worker.wake
        yield Runtime(container, services, worker, master.get_secret_value(), public_url, emulators)


def _start_emulators(
    settings: Settings, threads: ExitStack, clock: Clock, seed: int | None, public_url: str
) -> tuple[Settings, dict[str, str]]:
    from qmoi_sandbox.airtel import AirtelSandboxConfig
    from qmoi_sandbox.airtel import create_app as airtel_app
    from qmoi_sandbox.common.server import serve_in_thread
    from qmoi_sandbox.mpesa import MpesaSandboxConfig, MpesaState
    from qmoi_sandbox.mpesa import create_app as mpesa_app

    start = clock.now()
    speed = getattr(clock, "speed", 1.0)
    callback_key = secrets.token_hex(16)
    airtel_config = AirtelSandboxConfig(
        seed=seed,
        speed=speed,
        start=start,
        callback_url=f"{public_url}/api/airtel/callback",
        callback_auth=True,
        callback_key=callback_key,
        country=settings.airtel.country,
        currency=settings.airtel.currency,
    )
    airtel_url = threads.enter_context(serve_in_thread(airtel_app(airtel_config)))
    mpesa_config = MpesaSandboxConfig(
        seed=None if seed is None else seed + 1, speed=speed, start=start
    )
    app = mpesa_app(mpesa_config)
    state: MpesaState = app.state.mpesa
    mpesa_url = threads.enter_context(serve_in_thread(app))
    airtel = settings.airtel.model_copy(
        update={
            "client_id": airtel_config.client_id,
            "client_secret": SecretStr(airtel_config.client_secret),
            "pin": SecretStr(airtel_config.pin),
            "base_url": airtel_url,
            "callback_auth": True,
            "callback_secret": SecretStr(callback_key),
        }
    )
    mpesa = settings.mpesa.model_copy(
        update={
            "consumer_key": SecretStr(mpesa_config.consumer_key),
            "consumer_secret": SecretStr(mpesa_config.consumer_secret),
            "shortcode": mpesa_config.shortcode,
            "shortcode_type": "paybill",
            "till_number": mpesa_config.till_number,
            "passkey": SecretStr(mpesa_config.passkey),
            "initiator_name": mpesa_config.initiator,
            "initiator_password": SecretStr(mpesa_config.initiator_password),
            "certificate": state.keys.certificate_pem,
            "base_url": mpesa_url,
        }
    )
    updated = settings.model_copy(update={"airtel": airtel, "mpesa": mpesa})
    return updated, {"airtel": airtel_url, "mpesa": mpesa_url}


def sandbox_credentials(settings: Settings) -> Settings:
    """Emulators started elsewhere (``qmoi sandbox``): their published credentials, at
    AIRTEL_BASE_URL / MPESA_BASE_URL, unless configured otherwise."""
    from qmoi_sandbox.airtel import AirtelSandboxConfig
    from qmoi_sandbox.mpesa import MpesaSandboxConfig

    a, m = AirtelSandboxConfig(), MpesaSandboxConfig()
    if settings.airtel.base_url is None or settings.mpesa.base_url is None:
        raise ConfigError(
            "AIRTEL_BASE_URL / MPESA_BASE_URL: a sandbox API or worker needs "
            "the emulators' URLs — run `qmoi sandbox airtel|mpesa --port P` "
            "and set both"
        )
    airtel = settings.airtel.model_copy(
        update={
            "client_id": settings.airtel.client_id or a.client_id,
            "client_secret": settings.airtel.client_secret or SecretStr(a.client_secret),
            "pin": settings.airtel.pin or SecretStr(a.pin),
        }
    )
    mpesa = settings.mpesa.model_copy(
        update={
            "consumer_key": settings.mpesa.consumer_key or SecretStr(m.consumer_key),
            "consumer_secret": settings.mpesa.consumer_secret or SecretStr(m.consumer_secret),
            "shortcode": settings.mpesa.shortcode or m.shortcode,
            "passkey": settings.mpesa.passkey or SecretStr(m.passkey),
            "initiator_name": settings.mpesa.initiator_name or m.initiator,
            "initiator_password": settings.mpesa.initiator_password
            or SecretStr(m.initiator_password),
            "certificate": settings.mpesa.certificate
            or _emulator_certificate(settings.mpesa.base_url),
        }
    )
    return settings.model_copy(update={"airtel": airtel, "mpesa": mpesa})


def _emulator_certificate(base_url: str) -> str:
    """The Daraja emulator's certificate (``GET /sandbox/certificate``)."""
    import httpx

    try:
        answer = httpx.get(f"{base_url.rstrip('/')}/sandbox/certificate", timeout=10.0)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"MPESA_BASE_URL: the emulator's certificate could not be fetched "
            f"({type(exc).__name__}) — is `qmoi sandbox mpesa` running there?"
        ) from exc
    return answer.text


async def _create_customers(emulators: dict[str, str]) -> dict[str, dict[StreamKey, list[str]]]:
    """The traffic model's simulated customers: a pool per stream, approving with the
    stream's success rate (MISSION.md)."""
    pools: dict[str, dict[StreamKey, list[str]]] = {}
    for provider, url in emulators.items():
        control = SandboxControl(url)
        try:
            pools[provider] = {
                s.key: await control.create_customers(
                    CUSTOMERS_PER_STREAM, s.sandbox_success_percent / 100, s.key.value
                )
                for s in STREAMS
            }
        finally:
            await control.aclose()
    return pools


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
    tasks = []
    if not run_worker:
        # An API process books what it receives: it drains the inbox (safely beside any
        # number of workers) so a payment is booked within moments of its callback.
        runtime.worker.jobs = frozenset({"inbox"})
    tasks.append(asyncio.create_task(runtime.worker.run(stop), name="worker"))
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
