"""Daily targets and auto-transfer chunks: amounts in shillings, and a chunk each
provider can actually pay in one transaction."""

from __future__ import annotations

from qmoi.config.models import TargetMode, TargetSettings, TransferSettings
from qmoi.config.reader import Reader, key_values, stream_key
from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey


def read_targets(
    reader: Reader,
    airtel_currency: str = "KES",
    *,
    airtel: Reader | None = None,
    mpesa: Reader | None = None,
) -> TargetSettings:
    """The daily targets; per-stream overrides of the proportional split are optional.
    ``airtel`` / ``mpesa`` read that provider's own figures (muted when it is disabled)."""
    airtel, mpesa = airtel or reader, mpesa or reader
    stream_targets: list[tuple[StreamKey, Money]] = []
    for key, value in key_values(reader, "QMOI_STREAM_TARGETS"):
        stream = stream_key(reader, "QMOI_STREAM_TARGETS", key)
        try:
            amount = Money.parse(value)
        except InvalidAmount as exc:
            reader.problem("QMOI_STREAM_TARGETS", f"{key}: {exc}", "give whole shillings")
            continue
        if stream is not None:
            stream_targets.append((stream, amount))
    return TargetSettings(
        # in the wallet's currency, with its decimals (none for UGX)
        daily_airtel=airtel.amount("QMOI_DAILY_TARGET_AIRTEL", airtel_currency),
        daily_mpesa=mpesa.amount("QMOI_DAILY_TARGET_MPESA"),
        combined=reader.amount("QMOI_COMBINED_TARGET"),
        minimum=reader.amount("QMOI_MINIMUM_GUARANTEE"),
        growth_airtel=airtel.ratio("QMOI_AIRTEL_GROWTH_TARGET"),
        growth_mpesa=mpesa.ratio("QMOI_MPESA_GROWTH_TARGET"),
        mode=TargetMode(reader.choice("QMOI_TARGET_MODE", ["fixed", "growth"], "fixed")),
        stream_targets=tuple(stream_targets),
    )


#: what Daraja's B2C pays per transaction: whole shillings from 1 to 250,000 (see
#: docs/providers/mpesa.md; the connector refuses anything else before sending)
MPESA_PAYOUT_SHILLINGS = (1, 250_000)


def mpesa_chunk(reader: Reader) -> Money:
    """A chunk B2C can pay. Any other would be reserved and then never paid, its money
    stuck in transit."""
    name = "QMOI_AUTO_TRANSFER_MPESA"
    low, high = MPESA_PAYOUT_SHILLINGS
    fix = f"give whole shillings from {low} to {high:,}, e.g. 2000"
    chunk = reader.amount(name, fix=fix)
    if chunk.is_positive and chunk.minor % 100:
        reader.problem(name, f"{chunk} has cents, and M-Pesa pays whole shillings only", fix)
    elif chunk.is_positive and not low * 100 <= chunk.minor <= high * 100:
        reader.problem(name, f"{chunk} is outside what M-Pesa pays in one transaction", fix)
    return chunk


def read_transfers(
    reader: Reader,
    airtel_currency: str,
    *,
    airtel: Reader | None = None,
    mpesa: Reader | None = None,
) -> TransferSettings:
    """Whether and in what chunks earnings go to the owner; ``airtel`` / ``mpesa`` read
    that provider's chunk (muted when it is disabled)."""
    airtel, mpesa = airtel or reader, mpesa or reader
    return TransferSettings(
        enabled=reader.boolean("QMOI_AUTO_TRANSFER"),
        # Airtel pays cents (its amounts are JSON numbers with decimals); a currency
        # without minor units refuses them when parsed
        chunk_airtel=airtel.amount("QMOI_AUTO_TRANSFER_AIRTEL", airtel_currency),
        chunk_mpesa=mpesa_chunk(mpesa),
        fallback=reader.boolean("QMOI_TRANSFER_FALLBACK"),
    )
