"""The sandbox's simulated world around a running QMOI: its clock, shared through a
file with other processes, and (``qmoi start``) the enabled providers' emulators on
loopback ports in threads of this process, on that clock, with their published sandbox
credentials filled in for the connectors, and the simulated customers of the traffic
model.

This module, ``qmoi sandbox`` and the checks of ``qmoi validate --online`` are the only
places outside the tests that import ``qmoi_sandbox``; the composition root never does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from qmoi.config import AccountSettings, AirtelSettings, MpesaSettings, Settings
from qmoi.domain.clock import Clock, ScaledClock
from qmoi.domain.streams import STREAMS, StreamKey
from qmoi.errors import ConfigError
from qmoi.providers.base import PaymentProvider
from qmoi.providers.mpesa.client import MpesaConnector
from qmoi.providers.sandbox import SandboxControl

CUSTOMERS_PER_STREAM = 12

#: the Airtel countries the emulator of ``qmoi start`` serves besides AIRTEL_COUNTRY,
#: each in its own currency, as one Airtel Open API serves many countries
AIRTEL_EMULATOR_COUNTRIES = ("KE", "UG", "TZ", "ZM", "MW", "RW", "CD", "NG")

CLOCK_FILE = "sandbox_clock.json"


def sandbox_clock(speed: float, start: datetime | None) -> ScaledClock:
    return ScaledClock(start or datetime.now(UTC), speed)


def save_clock(var_dir: Path, clock: ScaledClock) -> None:
    """Let other commands (``qmoi revenue status``) tell the sandbox's simulated time."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (var_dir / CLOCK_FILE).write_text(
        json.dumps({"start": clock.start.isoformat(), "speed": clock.speed, "origin": clock.origin})
    )


def shared_clock(path: Path) -> ScaledClock:
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


def start_emulators(
    settings: Settings, threads: ExitStack, clock: Clock, seed: int | None
) -> tuple[Settings, dict[str, str]]:
    """One emulator per account (each its own merchant wallet, till or paybill; a
    disabled account has none), stopped when ``threads`` closes, on ``clock``, posting
    Airtel's callbacks to the account's URL under ``settings.public_url``; returns the
    settings with their credentials and the emulators' URLs by account."""
    urls: dict[str, str] = {}
    for index, account in enumerate(settings.accounts):
        own_seed = None if seed is None else seed + index
        section: AirtelSettings | MpesaSettings
        if account.provider == "airtel":
            section, urls[account.id] = _airtel_emulator(
                settings, account, threads, clock, own_seed
            )
        else:
            section, urls[account.id] = _mpesa_emulator(account, threads, clock, own_seed)
        settings = settings.with_section(account.id, section)
    return settings, urls


def _shared(clock: Clock) -> dict[str, Any]:
    """The emulator clock settings that tell ``clock``'s time: an accelerated clock is
    copied exactly (start, speed and the wall-clock second it started), so an emulator
    made later is not behind it by its set-up time times the speed."""
    if isinstance(clock, ScaledClock):
        return {"start": clock.start, "speed": clock.speed, "clock_origin": clock.origin}
    return {"start": clock.now(), "speed": 1.0}


def _airtel_emulator(
    settings: Settings, account: AccountSettings, threads: ExitStack, clock: Clock, seed: int | None
) -> tuple[AirtelSettings, str]:
    from qmoi_sandbox.airtel import AirtelSandboxConfig
    from qmoi_sandbox.airtel import create_app as airtel_app
    from qmoi_sandbox.common.server import serve_in_thread

    callback_key = secrets.token_hex(16)
    airtel_config = AirtelSandboxConfig(
        seed=seed,
        **_shared(clock),
        callback_url=f"{settings.public_url or ''}{airtel_callback_path(account.id)}",
        callback_auth=True,
        callback_key=callback_key,
        country=account.country,
        currency=account.currency,
        countries=AIRTEL_EMULATOR_COUNTRIES,
    )
    airtel_url = threads.enter_context(serve_in_thread(airtel_app(airtel_config)))
    airtel = account.airtel.model_copy(
        update={
            "client_id": airtel_config.client_id,
            "client_secret": SecretStr(airtel_config.client_secret),
            "pin": SecretStr(airtel_config.pin),
            "base_url": airtel_url,
            "callback_auth": True,
            "callback_secret": SecretStr(callback_key),
        }
    )
    return airtel, airtel_url


def airtel_callback_path(account: str) -> str:
    """Where an Airtel account's callbacks come: the original path for ``airtel``."""
    return "/api/airtel/callback" if account == "airtel" else f"/api/airtel/callback/{account}"


def _mpesa_emulator(
    account: AccountSettings, threads: ExitStack, clock: Clock, seed: int | None
) -> tuple[MpesaSettings, str]:
    from qmoi_sandbox.common.server import serve_in_thread
    from qmoi_sandbox.mpesa import MpesaSandboxConfig, MpesaState
    from qmoi_sandbox.mpesa import create_app as mpesa_app

    mpesa_config = MpesaSandboxConfig(seed=seed, **_shared(clock))
    app = mpesa_app(mpesa_config)
    state: MpesaState = app.state.mpesa
    mpesa_url = threads.enter_context(serve_in_thread(app))
    mpesa = account.mpesa.model_copy(
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
    return mpesa, mpesa_url


def sandbox_credentials(settings: Settings) -> Settings:
    """Emulators started elsewhere (``qmoi sandbox``): their published credentials, at
    each account's base URL (AIRTEL_BASE_URL / MPESA_BASE_URL, or its ``baseUrl``),
    unless configured otherwise."""
    missing = sorted(
        {
            f"{account.provider.upper()}_BASE_URL"
            if settings.listed_accounts is None
            else f"accounts.{account.id}.baseUrl"
            for account in settings.accounts
            if account.section.base_url is None
        }
    )
    if missing:
        raise ConfigError(
            f"{' / '.join(missing)}: a sandbox API or worker needs the emulators' URLs — "
            "run `qmoi sandbox airtel|mpesa --port P` for each account and set its URL"
        )
    for account in settings.accounts:
        section = account.section
        filled = with_emulator_credentials(
            section, partial(_emulator_certificate, str(section.base_url))
        )
        settings = settings.with_section(account.id, filled)
    return settings


def with_emulator_credentials(
    section: AirtelSettings | MpesaSettings, certificate: Callable[[], str | None]
) -> AirtelSettings | MpesaSettings:
    """``section`` with the emulators' published sandbox credentials wherever it has
    none of its own; ``certificate`` fetches the Daraja emulator's when it is needed."""
    from qmoi_sandbox.airtel import AirtelSandboxConfig
    from qmoi_sandbox.mpesa import MpesaSandboxConfig

    if isinstance(section, AirtelSettings):
        a = AirtelSandboxConfig()
        return section.model_copy(
            update={
                "client_id": section.client_id or a.client_id,
                "client_secret": section.client_secret or SecretStr(a.client_secret),
                "pin": section.pin or SecretStr(a.pin),
            }
        )
    m = MpesaSandboxConfig()
    return section.model_copy(
        update={
            "consumer_key": section.consumer_key or SecretStr(m.consumer_key),
            "consumer_secret": section.consumer_secret or SecretStr(m.consumer_secret),
            "shortcode": section.shortcode or m.shortcode,
            "passkey": section.passkey or SecretStr(m.passkey),
            "initiator_name": section.initiator_name or m.initiator,
            "initiator_password": section.initiator_password or SecretStr(m.initiator_password),
            "certificate": section.certificate or certificate(),
        }
    )


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


async def create_customers(emulators: dict[str, str]) -> dict[str, dict[StreamKey, list[str]]]:
    """The traffic model's simulated customers: a pool per stream, approving with the
    stream's success rate (docs/architecture.md)."""
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


async def register_c2b(providers: Mapping[str, PaymentProvider]) -> None:
    """Register each M-Pesa account's C2B URLs with its emulator, so simulated customers
    may pay the paybill directly."""
    for connector in providers.values():
        if isinstance(connector, MpesaConnector):
            await connector.register_c2b_urls()
