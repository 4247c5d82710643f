"""The one place that wires settings, engine, clock, signing key, units of work,
providers and services into a container. Importing this module does nothing; ``build()``
and ``wire()`` do it, when asked."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from qmoi.config import Settings
from qmoi.db.engine import create_db_engine
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain.clock import Clock, SystemClock
from qmoi.domain.streams import StreamKey
from qmoi.notify.build import channels_from
from qmoi.providers.base import PaymentProvider, ResultWaiter
from qmoi.security.signing import Signer
from qmoi.services.context import Services
from qmoi.services.policy import Policy, ProviderPolicy


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    signer: Signer
    uow: UnitOfWorkFactory
    services: Services | None = None
    providers: dict[str, PaymentProvider] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        self.close()


def build(settings: Settings, *, clock: Clock | None = None, pool_size: int = 10) -> Container:
    """Engine, clock, signing key and units of work (no providers: see :func:`wire`)."""
    clock = clock or SystemClock()
    engine, signer, uow = open_store(
        settings.database_url, settings.signing_key_file, settings.timezone, clock, pool_size
    )
    return Container(settings, engine, clock, signer, uow)


def open_store(
    database_url: str,
    signing_key_file: Path,
    timezone: ZoneInfo,
    clock: Clock | None = None,
    pool_size: int = 10,
) -> tuple[Engine, Signer, UnitOfWorkFactory]:
    """The database and its units of work, without the rest of the settings (``qmoi
    secrets`` runs while the configuration still lacks the secrets it stores)."""
    engine = create_db_engine(database_url, pool_size=pool_size)
    signer = Signer.load_or_create(signing_key_file)
    return engine, signer, UnitOfWorkFactory(engine, clock or SystemClock(), timezone, signer)


def policy_from(settings: Settings, clock: Clock | None = None) -> Policy:
    a, m, targets = settings.airtel, settings.mpesa, settings.targets
    return Policy(
        providers={
            "airtel": ProviderPolicy(
                name="airtel",
                network="Airtel",
                currency=a.currency,
                owner_msisdn=a.phone_number,
                daily_target=targets.daily_airtel,
                chunk=settings.transfers.chunk_airtel,
                growth_goal=targets.growth_airtel,
                idempotent_collect=True,
            ),
            "mpesa": ProviderPolicy(
                name="mpesa",
                network="Safaricom",
                currency="KES",
                owner_msisdn=m.phone_number,
                daily_target=targets.daily_mpesa,
                chunk=settings.transfers.chunk_mpesa,
                growth_goal=targets.growth_mpesa,
                idempotent_collect=False,
                # Daraja's B2C result carries no fee; Transaction Status names it
                fee_by_enquiry=True,
                c2b_rules=m.c2b_rules,
                c2b_default_stream=m.c2b_default_stream,
            ),
        },
        combined_target=targets.combined,
        minimum=targets.minimum,
        growth_mode=targets.mode.value == "growth",
        tz=settings.timezone,
        sandbox=settings.sandbox,
        auto_transfer=settings.transfers.enabled,
        fallback=settings.transfers.fallback,
        stop_at_target=settings.sandbox_stop_at_target,
        stream_targets=dict(targets.stream_targets),
        speed=float(getattr(clock, "speed", 1.0)),
    )


def wire(
    container: Container,
    providers: Mapping[str, PaymentProvider],
    *,
    results: ResultWaiter | None = None,
    wake: Callable[[], None] | None = None,
    sandbox_customers: Mapping[str, Mapping[StreamKey, Sequence[str]]] | None = None,
) -> Services:
    """Attach providers and build the services every entry point uses."""
    settings = container.settings
    container.providers = dict(providers)
    services = Services(
        uows=container.uow,
        providers=container.providers,
        policy=policy_from(settings, container.clock),
        clock=container.clock,
        account_references={
            "airtel": settings.airtel.account_reference,
            "mpesa": settings.mpesa.account_reference,
        },
        results=results,
        channels=channels_from(settings.notify),
    )
    if wake is not None:
        services.wake = wake
    services.sandbox_customers = sandbox_customers
    container.services = services
    return services


def install_secret(var_dir: Path, name: str, value: SecretStr | None) -> SecretStr:
    """``value`` if configured, else a random secret kept in ``var/{name}`` (mode 0600),
    created on first use and the same on every later start."""
    if value is not None:
        return value
    path = var_dir / name
    if path.exists():
        return SecretStr(path.read_text(encoding="utf-8").strip())
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(24)  # hex: never spells a word Daraja refuses in URLs
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return SecretStr(secret)
