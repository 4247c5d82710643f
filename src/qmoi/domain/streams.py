"""The five revenue streams (product lines), each an income account in the ledger.

The ranges and rates drive only the sandbox traffic model; the midpoints also give
the default split of a provider's daily target across streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qmoi.domain.errors import UnknownStream
from qmoi.domain.money import Money


class StreamKey(StrEnum):
    MOBILE_SERVICES = "mobile_services"
    DIGITAL_PAYMENTS = "digital_payments"
    AIRTIME_SALES = "airtime_sales"
    DATA_PACKAGES = "data_packages"
    UTILITY_PAYMENTS = "utility_payments"


@dataclass(frozen=True, slots=True)
class Stream:
    key: StreamKey
    name: str
    metrics_key: str  # camelCase name in the metrics answer
    sandbox_min: Money
    sandbox_max: Money
    sandbox_success_percent: int

    @property
    def midpoint_minor(self) -> int:
        return (self.sandbox_min.minor + self.sandbox_max.minor) // 2


def _kes(whole: int) -> Money:
    return Money(whole * 100, "KES")


STREAMS: tuple[Stream, ...] = (
    Stream(
        StreamKey.MOBILE_SERVICES, "Mobile Services", "mobileServices", _kes(400), _kes(2200), 95
    ),
    Stream(
        StreamKey.DIGITAL_PAYMENTS, "Digital Payments", "digitalPayments", _kes(250), _kes(1450), 92
    ),
    Stream(StreamKey.AIRTIME_SALES, "Airtime Sales", "airtimeSales", _kes(180), _kes(1080), 88),
    Stream(StreamKey.DATA_PACKAGES, "Data Packages", "dataPackages", _kes(120), _kes(820), 85),
    Stream(
        StreamKey.UTILITY_PAYMENTS, "Utility Payments", "utilityPayments", _kes(80), _kes(580), 90
    ),
)

_BY_KEY = {stream.key: stream for stream in STREAMS}


def stream(key: str | StreamKey) -> Stream:
    """The stream called ``key``; :class:`UnknownStream` otherwise."""
    try:
        return _BY_KEY[StreamKey(key)]
    except ValueError:
        known = ", ".join(s.value for s in StreamKey)
        raise UnknownStream(f"{key!r} is not a revenue stream; use one of {known}") from None


def attribute(
    account_reference: str, rules: tuple[tuple[str, StreamKey], ...], default: StreamKey
) -> StreamKey:
    """Stream of a customer-initiated payment from its account reference: the longest
    matching prefix rule wins (case-insensitive), else ``default``."""
    reference = account_reference.strip().upper()
    matches = [(len(p), s) for p, s in rules if reference.startswith(p.upper())]
    return max(matches, key=lambda m: m[0])[1] if matches else default
