"""Rules across sections: sandbox and live never mixed, what a live QMOI must have, and
targets and chunks that make sense together. Each records into the reader's report."""

from __future__ import annotations

from pydantic import SecretStr

from qmoi.config.models import (
    AirtelSettings,
    Environment,
    MpesaSettings,
    TargetSettings,
    TransferSettings,
)
from qmoi.config.reader import Reader


def environments_match(reader: Reader, airtel: AirtelSettings, mpesa: MpesaSettings) -> None:
    """Simulated and real money must never share a database."""
    if (airtel.environment is Environment.SANDBOX) != (mpesa.environment is Environment.SANDBOX):
        reader.problem(
            "MPESA_ENVIRONMENT"
            if airtel.environment is Environment.SANDBOX
            else "AIRTEL_ENVIRONMENT",
            "one provider is the sandbox and the other is live; simulated and real money "
            "must never share a database",
            "set both AIRTEL_ENVIRONMENT and MPESA_ENVIRONMENT to sandbox, or both to live ones",
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
    reader: Reader, targets: TargetSettings, transfers: TransferSettings
) -> None:
    """A chunk above the daily target, or a floor above it, is almost surely a typo."""
    for provider, chunk, daily in (
        ("AIRTEL", transfers.chunk_airtel, targets.daily_airtel),
        ("MPESA", transfers.chunk_mpesa, targets.daily_mpesa),
    ):
        if chunk.currency == daily.currency and chunk > daily:
            reader.warn(
                f"QMOI_AUTO_TRANSFER_{provider}",
                f"the chunk ({chunk}) is above the daily target ({daily}), so on an "
                "ordinary day nothing is transferred",
                "use a chunk smaller than the daily target",
            )
    if targets.minimum > targets.daily_airtel or targets.minimum > targets.daily_mpesa:
        reader.warn(
            "QMOI_MINIMUM_GUARANTEE",
            "is above a provider's daily target",
            "keep the minimum below each daily target",
        )
