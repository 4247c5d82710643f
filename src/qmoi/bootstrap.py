"""The one place that wires settings, engine, clock, signing key, units of work,
providers and services into a container, and the one door of the CLI, the API and the
worker to the database package. Importing this module does nothing; :func:`build` and
:func:`connect` do it, when asked, and return frozen containers: what a process runs
with is decided here, never assigned afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from qmoi.config import AccountSettings, MpesaSettings, RawValues, Settings
from qmoi.db import backup as database_backup
from qmoi.db import migrate as schema
from qmoi.db.engine import create_db_engine, is_sqlite
from qmoi.db.migrate import health
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.db.vault import read_sealed
from qmoi.domain.clock import Clock, SystemClock
from qmoi.domain.streams import StreamKey
from qmoi.errors import ConfigError
from qmoi.notify.base import Channel
from qmoi.notify.build import channels_from
from qmoi.providers.base import PaymentProvider, ResultWaiter
from qmoi.providers.registry import MPESA_CALLBACK_PREFIX, build_provider, capabilities_for
from qmoi.security.signing import Signer
from qmoi.services import ports, vault
from qmoi.services.context import Services
from qmoi.services.policy import Policy, ProviderPolicy
from qmoi.services.results import StoredResultWaiter

SandboxCustomers = Mapping[str, Mapping[StreamKey, Sequence[str]]]


class Doorbell:
    """How the services nudge this process's worker (a payment was booked, a callback
    arrived): rung from any thread, it starts the worker's next round now. Built with
    the services, before the worker that listens to it."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self) -> None:
        """Take rings on the running event loop (the worker's)."""
        self._loop = asyncio.get_running_loop()

    def ring(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.event.set)


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    signer: Signer
    uow: UnitOfWorkFactory
    services: Services
    providers: Mapping[str, PaymentProvider] = field(default_factory=dict)
    doorbell: Doorbell = field(default_factory=Doorbell)

    def close(self) -> None:
        self.engine.dispose()

    async def close_providers(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    async def aclose(self) -> None:
        await self.close_providers()
        self.close()


def build(settings: Settings, *, clock: Clock | None = None, pool_size: int = 10) -> Container:
    """The store and the services over it, without providers (commands that read or
    book; a running QMOI connects them with :func:`connect`)."""
    clock = clock or SystemClock()
    engine, signer, uow = open_store(
        settings.database_url, settings.signing_key_file, settings.timezone, clock, pool_size
    )
    doorbell = Doorbell()
    services = build_services(settings, uow, clock, wake=doorbell.ring)
    return Container(settings, engine, clock, signer, uow, services, doorbell=doorbell)


def connect(
    container: Container,
    settings: Settings,
    *,
    sandbox_customers: SandboxCustomers | None = None,
) -> Container:
    """A running QMOI: ``container``'s store with its enabled providers connected and
    the services over them (a disabled provider gets no connector). ``settings``: as
    :func:`runtime_settings` completed them (and the sandbox filled in its emulators'
    credentials)."""
    results = StoredResultWaiter(container.uow, "mpesa")
    providers = {a.id: _connector(settings, a, results) for a in settings.accounts}
    services = build_services(
        settings,
        container.uow,
        container.clock,
        providers=providers,
        results=results,
        wake=container.doorbell.ring,
        sandbox_customers=sandbox_customers,
    )
    return replace(container, settings=settings, services=services, providers=providers)


def _connector(
    settings: Settings, account: AccountSettings, results: ResultWaiter
) -> PaymentProvider:
    """The account's connector (M-Pesa's posts its results under the account's token)."""
    if settings.public_url is None:
        raise ConfigError("QMOI_PUBLIC_URL: a running QMOI needs it — it is filled in at start")
    view = settings.for_account(account)
    if account.provider == "airtel":
        return build_provider(view, "airtel")
    token = account.mpesa.callback_token
    if token is None:
        raise ConfigError(
            f"MPESA_CALLBACK_TOKEN ({account.id}): a running QMOI needs one — it is filled "
            "in when QMOI starts"
        )
    return build_provider(
        view,
        "mpesa",
        results=results,
        callback_base_url=f"{settings.public_url}{MPESA_CALLBACK_PREFIX}/{token.get_secret_value()}",
    )


def build_services(
    settings: Settings,
    uows: ports.UnitOfWorkFactory,
    clock: Clock,
    *,
    providers: Mapping[str, PaymentProvider] | None = None,
    results: ResultWaiter | None = None,
    channels: Mapping[str, Channel] | None = None,
    wake: Callable[[], None] | None = None,
    sandbox_customers: SandboxCustomers | None = None,
) -> Services:
    """The services every entry point uses, over ``uows``. Tests give their own clock,
    notification ``channels`` and provider fakes; by default the channels are those the
    settings turn on."""
    return Services(
        uows=uows,
        providers=dict(providers or {}),
        policy=policy_from(settings, clock),
        clock=clock,
        account_references={a.id: a.section.account_reference for a in settings.accounts},
        results=results,
        channels=channels_from(settings.notify) if channels is None else channels,
        sandbox_customers=sandbox_customers,
        wake=wake or _no_worker,
    )


def _no_worker() -> None:
    """No worker listens in this process (a command, a test)."""


def runtime_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """``settings`` as a running QMOI needs them: the master key (in the sandbox kept in
    ``var/master.key`` unless configured), the M-Pesa callback token (kept in ``var/``
    unless configured) and the public URL (default: where the API listens)."""
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
    completed = settings.model_copy(
        update={"master_key": master, "public_url": settings.public_url or f"http://{host}:{port}"}
    )
    return with_callback_tokens(completed)


def with_callback_tokens(settings: Settings) -> Settings:
    """Every M-Pesa account with its own callback path token, which is how a callback
    names its account: the configured one (``MPESA_CALLBACK_TOKEN`` belongs to the
    default M-Pesa account; others name theirs in ``credentials.callbackToken``), else
    one kept in ``var/`` under the account's id (``mpesa_callback_token`` for ``mpesa``,
    as before accounts; ``mpesa_callback_token.{id}`` otherwise) — the same on every
    start whatever the order of the accounts, so the URLs registered with Daraja hold."""
    var = settings.var_dir
    if settings.listed_accounts is None:
        if not settings.mpesa.enabled:
            return settings
        token = install_secret(var, "mpesa_callback_token", settings.mpesa.callback_token)
        return settings.model_copy(
            update={"mpesa": settings.mpesa.model_copy(update={"callback_token": token})}
        )
    shared = settings.mpesa.callback_token  # the variable every account inherits
    owners: dict[str, str] = {}
    accounts = []
    for account in settings.listed_accounts:
        if account.provider == "mpesa":
            given = account.mpesa.callback_token
            if given is not None and shared is not None and not account.default:
                if given.get_secret_value() == shared.get_secret_value():
                    given = None  # inherited: the default account's, not this one's
            file = "mpesa_callback_token" + ("" if account.id == "mpesa" else f".{account.id}")
            token = install_secret(var, file, given)
            other = owners.setdefault(token.get_secret_value(), account.id)
            if other != account.id:
                raise ConfigError(
                    f"accounts.{account.id}.credentials.callbackToken: it is also "
                    f"{other}'s, and the token is how a callback names its account — give "
                    "each M-Pesa account its own (or none, to have one made)"
                )
            section = account.mpesa.model_copy(update={"callback_token": token})
            account = account.model_copy(update={"section": section})
        accounts.append(account)
    return settings.model_copy(update={"listed_accounts": tuple(accounts)})


def prepare_database(container: Container) -> str | None:
    """Migrate SQLite automatically; on PostgreSQL require ``qmoi db upgrade`` first."""
    if is_sqlite(container.engine):
        before, after = schema.upgrade(container.engine)
        return after if before != after else None
    schema.require_current(container.engine)
    return None


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


def check_accounts(container: Container) -> None:
    """Record each configured account in the database, and refuse one whose provider or
    currency differs from what the database holds for that id: money booked in UGX
    cannot become KES. (A new currency, or another wallet, is a new account id.)"""
    problems: list[str] = []
    with container.uow() as uow:
        for account in container.settings.accounts:
            stored = uow.merchant_accounts.register(
                account.id, account.provider, account.currency, account.country, uow.now
            )
            was = (stored.provider, stored.currency, stored.country or account.country)
            if was != (account.provider, account.currency, account.country):
                problems.append(
                    f"accounts.{account.id}: this database holds it as an {stored.provider} "
                    f"account in {stored.currency}"
                    + (f" ({stored.country})" if stored.country else "")
                    + f", and it is configured as {account.provider} in {account.currency} "
                    f"({account.country}) — an account keeps its provider, country and "
                    "currency for life; give the new one a new id"
                )
        if problems:
            uow.rollback()
            raise ConfigError("\n".join(problems))
        uow.commit()


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


def database_health(engine: Engine) -> str:
    """``"ok"``, or one line saying why the database is not ready (for ``/health``)."""
    return health(engine)


def require_current(engine: Engine) -> None:
    """Refuse a database whose schema is not the code's (``qmoi db upgrade`` fixes it)."""
    schema.require_current(engine)


def schema_revision(engine: Engine) -> str | None:
    return schema.current_revision(engine)


def code_revision() -> str:
    return schema.head_revision()


def pending_migrations(engine: Engine) -> list[str]:
    return schema.pending_revisions(engine)


def migrate(engine: Engine, on_step: Callable[[str], None] | None = None) -> tuple[str | None, str]:
    """Apply every pending migration; returns (before, after)."""
    return schema.upgrade(engine, on_step=on_step)


def backup_backend(database_url: str) -> str:
    return database_backup.backend_of(database_url)


def snapshot_database(database_url: str) -> bytes:
    return database_backup.snapshot(database_url)


def restore_database(database_url: str, backend: str, data: bytes) -> None:
    database_backup.restore(database_url, backend, data)


def complete_from_vault(raw: RawValues) -> RawValues:
    """``raw`` with the credential vault's secrets where no other source set them."""
    return vault.complete(raw, read_sealed)


def policy_from(settings: Settings, clock: Clock | None = None) -> Policy:
    """The rules as plain data, one entry per enabled account (named by its id), so every
    service that goes over ``policy.providers`` leaves a disabled one out."""
    targets = settings.targets
    legacy = settings.listed_accounts is None
    return Policy(
        providers={a.id: _account_policy(a, legacy) for a in settings.accounts},
        combined_target=targets.combined,
        minimum=targets.minimum,
        growth_mode=targets.mode.value == "growth",
        tz=settings.timezone,
        sandbox=settings.sandbox,
        auto_transfer=settings.transfers.enabled,
        fallback=settings.transfers.fallback,
        stop_at_target=settings.sandbox_stop_at_target,
        stream_targets=dict(targets.stream_targets),
        strict_network=settings.strict_network,
        speed=float(getattr(clock, "speed", 1.0)),
        reporting_currency=settings.reporting.currency,
        rates={r.currency: r for r in settings.reporting.rates},
    )


#: the phonenumbers carrier name of each provider's network
NETWORKS = {"airtel": "Airtel", "mpesa": "Safaricom"}


def _account_policy(account: AccountSettings, legacy: bool) -> ProviderPolicy:
    """One account's rules; how its provider differs (deduped pushes, fees by enquiry)
    as its connector says. A legacy account keeps the policy-wide target rules."""
    able = capabilities_for(account.provider)
    section = account.section
    c2b = (
        (section.c2b_rules, section.c2b_default_stream)
        if isinstance(section, MpesaSettings)
        else None
    )
    return ProviderPolicy(
        name=account.id,
        kind=account.provider,
        label=able.label,
        network=NETWORKS[account.provider],
        country=account.country,
        currency=account.currency,
        owner_msisdn=section.phone_number,
        daily_target=account.daily_target,
        chunk=account.chunk,
        growth_goal=account.growth_goal,
        idempotent_collect=able.idempotent_collect,
        fee_by_enquiry=able.fee_by_enquiry,
        c2b_rules=c2b[0] if c2b else (),
        c2b_default_stream=c2b[1] if c2b else StreamKey.DIGITAL_PAYMENTS,
        minimum=None if legacy else account.minimum,
        growth_mode=None if legacy else account.target_mode.value == "growth",
        stream_targets=None if legacy else dict(account.stream_targets),
        default=account.default,
    )


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
