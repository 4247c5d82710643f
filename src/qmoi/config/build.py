"""Settings from raw values: every section parsed, the rules across sections applied, and
one report of every problem, warning and correction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qmoi.config import rules
from qmoi.config.accounts import read_accounts
from qmoi.config.database import database_url
from qmoi.config.models import (
    AccountSettings,
    AirtelSettings,
    Environment,
    MpesaSettings,
    Settings,
)
from qmoi.config.notify import read_notify
from qmoi.config.providers import read_airtel, read_mpesa
from qmoi.config.reader import Reader, Report
from qmoi.config.reporting import read_reporting
from qmoi.config.sources import RawValues, read_raw
from qmoi.config.targets import read_targets, read_transfers
from qmoi.errors import ConfigError


def build_settings(raw: RawValues) -> tuple[Settings | None, Report]:
    """Parse raw values into :class:`Settings`; ``None`` when there are problems."""
    report = Report(problems=list(raw.vault_problems))
    report.sources.extend(f"{name}: from the credential vault" for name in sorted(raw.from_vault))
    reader = Reader(raw, report)
    for name in raw.unknown_in_file:
        reader.warn(name, "is not a QMOI setting and is ignored", "check its spelling")
    public_url = reader.url("QMOI_PUBLIC_URL")
    listed = read_accounts(reader, raw, public_url)
    # with an accounts list the provider variables are only what accounts start from:
    # read quietly here, checked in each account that takes them
    base = reader if listed is None else reader.muted()
    airtel = read_airtel(base, public_url)
    mpesa = read_mpesa(base)
    if listed is not None:
        kinds = {a.provider for a in listed}
        airtel = airtel.model_copy(update={"enabled": "airtel" in kinds})
        mpesa = mpesa.model_copy(update={"enabled": "mpesa" in kinds})
    else:
        rules.providers_enabled(reader, airtel, mpesa)
    # a disabled provider's own figures are read for their defaults, never checked
    own = {
        "airtel": reader if airtel.enabled and listed is None else reader.muted(),
        "mpesa": reader if mpesa.enabled and listed is None else reader.muted(),
    }
    targets = read_targets(reader, airtel.currency, **own)
    transfers = read_transfers(reader, airtel.currency, **own)
    timezone_name = reader.text("QMOI_TIMEZONE") or "Africa/Nairobi"
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.problem(
            "QMOI_TIMEZONE", f"{timezone_name!r} is not a time zone", "use e.g. Africa/Nairobi"
        )
        timezone_name = "Africa/Nairobi"
    var_dir = Path(reader.text("QMOI_VAR_DIR") or "var")
    if listed is None:
        rules.environments_match(reader, airtel, mpesa)
        environments = [s.environment for s in (airtel, mpesa) if s.enabled]
    else:
        environments = [a.environment for a in listed]
    live = any(env.is_live for env in environments)
    master_key = rules.master_key(reader, live)
    production = Environment.PRODUCTION in environments
    rules.public_url_reachable(reader, public_url, live=live, production=production)
    if listed is None:
        names = tuple(n for n, on in (("airtel", airtel.enabled), ("mpesa", mpesa.enabled)) if on)
        rules.chunks_fit_targets(reader, targets, transfers, names)
    else:
        rules.account_figures(reader, listed, targets)
    notify = read_notify(reader, _owner_number(listed, airtel, mpesa))
    currencies = (
        {a.currency for a in listed}
        if listed is not None
        else {
            s.currency if isinstance(s, AirtelSettings) else "KES"
            for s in (airtel, mpesa)
            if s.enabled
        }
    )
    reporting = read_reporting(reader, currencies)
    signing_key = reader.text("QMOI_SIGNING_KEY_FILE")
    settings = Settings(
        airtel=airtel,
        mpesa=mpesa,
        targets=targets,
        transfers=transfers,
        notify=notify,
        timezone_name=timezone_name,
        master_key=master_key,
        secret_key=reader.secret("QMOI_SECRET_KEY"),
        database_url=database_url(reader, var_dir),
        public_url=public_url,
        debug=reader.boolean("QMOI_DEBUG"),
        var_dir=var_dir,
        log_dir=Path(reader.text("QMOI_LOG_DIR") or "logs"),
        signing_key_file=Path(signing_key) if signing_key else var_dir / "signing.key",
        sandbox_stop_at_target=reader.boolean("QMOI_SANDBOX_STOP_AT_TARGET"),
        strict_network=reader.strict_network,
        listed_accounts=listed,
        reporting=reporting,
    )
    return (settings if report.usable else None), report


def _owner_number(
    listed: tuple[AccountSettings, ...] | None, airtel: AirtelSettings, mpesa: MpesaSettings
) -> str:
    """Where the owner's SMS notifications go by default: the M-Pesa wallet's number,
    else the Airtel one's."""
    if listed is not None:
        ordered = sorted(listed, key=lambda a: (a.provider != "mpesa", not a.default))
        return ordered[0].section.phone_number if ordered else mpesa.phone_number
    return (mpesa if mpesa.enabled else airtel).phone_number


def load_settings(
    env_file: Path | None = Path(".env"),
    config_file: Path | None = None,
    *,
    on_report: Callable[[Report], None] | None = None,
    complete: Callable[[RawValues], RawValues] | None = None,
) -> Settings:
    """Read and check the configuration; raise :class:`ConfigError` listing every problem.
    ``complete`` may add values from elsewhere (the credential vault) before the check."""
    raw = read_raw(env_file, config_file)
    settings, report = build_settings(complete(raw) if complete else raw)
    if on_report is not None:
        on_report(report)
    if settings is None:
        raise ConfigError("\n".join(report.problems))
    return settings
