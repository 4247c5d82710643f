"""Rules across sections: sandbox and live never mixed, what a live QMOI must have, and
targets and chunks that make sense together. Each records into the reader's report."""

from __future__ import annotations

from pydantic import SecretStr

from qmoi.config.models import (
    AccountSettings,
    AirtelSettings,
    Environment,
    MpesaSettings,
    TargetSettings,
    TransferSettings,
)
from qmoi.config.reader import Reader


def providers_enabled(reader: Reader, airtel: AirtelSettings, mpesa: MpesaSettings) -> None:
    """QMOI with no provider has nothing to collect on."""
    if not (airtel.enabled or mpesa.enabled):
        reader.problem(
            "AIRTEL_ENABLED / MPESA_ENABLED",
            "both providers are disabled, so there is nothing to collect on",
            "set AIRTEL_ENABLED=true or MPESA_ENABLED=true (or both)",
        )


def environments_match(reader: Reader, airtel: AirtelSettings, mpesa: MpesaSettings) -> None:
    """Simulated and real money must never share a database (a disabled provider does
    not count: it has no money here)."""
    if not (airtel.enabled and mpesa.enabled):
        return
    if (airtel.environment is Environment.SANDBOX) != (mpesa.environment is Environment.SANDBOX):
        reader.problem(
            "MPESA_ENVIRONMENT"
            if airtel.environment is Environment.SANDBOX
            else "AIRTEL_ENVIRONMENT",
            "one provider is the sandbox and the other is live; simulated and real money "
            "must never share a database",
            "set both AIRTEL_ENVIRONMENT and MPESA_ENVIRONMENT to sandbox, or both to live "
            "ones, or disable one (AIRTEL_ENABLED / MPESA_ENABLED=false)",
        )


def master_key(reader: Reader, live: bool) -> SecretStr | None:
    """The owner's API key: required and long outside the sandbox."""
    key = reader.secret("QMOI_MASTER_KEY")
    if live and key is None:
        reader.problem(
            "QMOI_MASTER_KEY",
            "is required outside the sandbox",
            "set a long random key, e.g. `openssl rand -hex 32`",
        )
    elif key is not None and len(key.get_secret_value()) < 16:
        (reader.problem if live else reader.warn)(
            "QMOI_MASTER_KEY", "is shorter than 16 characters", "use `openssl rand -hex 32`"
        )
    return key


def public_url_reachable(
    reader: Reader, public_url: str | None, *, live: bool, production: bool
) -> None:
    """Live providers post their callbacks to the public URL; production's over https."""
    if public_url is None and live:
        reader.problem(
            "QMOI_PUBLIC_URL",
            "is required outside the sandbox: providers post their callbacks there",
            "give the https URL where QMOI is reachable",
        )
    elif public_url is not None and public_url.startswith("http://") and production:
        reader.warn(
            "QMOI_PUBLIC_URL",
            "production callbacks over plain http can be read and forged in transit",
            "serve QMOI behind https and use an https:// URL",
        )


def chunks_fit_targets(
    reader: Reader,
    targets: TargetSettings,
    transfers: TransferSettings,
    enabled: tuple[str, ...] = ("airtel", "mpesa"),
) -> None:
    """A chunk above the daily target, or a floor above it, is almost surely a typo
    (checked for the ``enabled`` providers only)."""
    sections = {
        "airtel": ("AIRTEL", transfers.chunk_airtel, targets.daily_airtel),
        "mpesa": ("MPESA", transfers.chunk_mpesa, targets.daily_mpesa),
    }
    for provider, chunk, daily in (sections[name] for name in enabled):
        if chunk.currency == daily.currency and chunk > daily:
            reader.warn(
                f"QMOI_AUTO_TRANSFER_{provider}",
                f"the chunk ({chunk}) is above the daily target ({daily}), so on an "
                "ordinary day nothing is transferred",
                "use a chunk smaller than the daily target",
            )
    floor = targets.minimum  # compared with the targets in its own currency only
    dailies = [sections[name][2] for name in enabled]
    if any(d.currency == floor.currency and floor > d for d in dailies):
        reader.warn(
            "QMOI_MINIMUM_GUARANTEE",
            "is above a provider's daily target",
            "keep the minimum below each daily target",
        )
    elsewhere = sorted({d.currency for d in dailies if d.currency != floor.currency})
    if elsewhere:
        reader.warn(
            "QMOI_MINIMUM_GUARANTEE",
            f"is in {floor.currency}, so it guards nothing collected in "
            f"{', '.join(elsewhere)}, and the combined target counts only "
            f"{targets.combined.currency}",
            "expect no minimum alert for those collections",
        )


def account_figures(
    reader: Reader, accounts: tuple[AccountSettings, ...], targets: TargetSettings
) -> None:
    """Each account's chunk and minimum against its own daily target (as
    :func:`chunks_fit_targets` does for the legacy two), and the combined target's reach."""
    for account in accounts:
        name = f"accounts.{account.id}"
        if account.chunk > account.daily_target:
            reader.warn(
                f"{name}.autoTransfer",
                f"the chunk ({account.chunk}) is above the daily target "
                f"({account.daily_target}), so on an ordinary day nothing is transferred",
                "use a chunk smaller than the daily target",
            )
        if account.minimum > account.daily_target:
            reader.warn(
                f"{name}.minimum",
                "is above the account's daily target",
                "keep the minimum below the daily target",
            )
    elsewhere = sorted({a.currency for a in accounts} - {targets.combined.currency})
    if elsewhere:
        reader.warn(
            "QMOI_COMBINED_TARGET",
            f"is in {targets.combined.currency}, so it counts nothing collected in "
            f"{', '.join(elsewhere)}",
            "nothing to fix: each account has its own target, and the metrics' byCurrency "
            "counts them per currency",
        )
