"""Random bookkeeping stories for property tests: sequences of payments, transfer
reservations, settlements, releases, fees and duplicate bookings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import strategies as st

from qmoi.domain import ledger as L
from qmoi.domain.ledger import JournalEntry
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PROVIDERS = ("airtel", "mpesa")


@dataclass(frozen=True)
class Op:
    kind: str  # pay | reserve | settle | release | fee | duplicate
    provider: str
    amount_minor: int
    stream: StreamKey
    pick: int  # which earlier reservation to settle/release, or entry to duplicate


ops = st.builds(
    Op,
    kind=st.sampled_from(["pay", "pay", "reserve", "settle", "release", "fee", "duplicate"]),
    provider=st.sampled_from(PROVIDERS),
    amount_minor=st.integers(min_value=1, max_value=5_000_000),
    stream=st.sampled_from(list(StreamKey)),
    pick=st.integers(min_value=0, max_value=1000),
)


class Story:
    """Turns operations into journal entries, remembering open reservations."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.open: list[tuple[str, Money, str]] = []
        self.booked: list[JournalEntry] = []
        self.counter = 0

    def entry_for(self, op: Op) -> JournalEntry | None:
        self.counter += 1
        ref = f"{self.tag}-{self.counter}"
        amount = Money(op.amount_minor, "KES")
        if op.kind == "pay":
            return L.payment_confirmed(op.provider, op.stream, amount, ref, AT, sandbox=True)
        if op.kind == "reserve":
            return L.transfer_reserved(op.provider, amount, ref, AT, sandbox=True)
        if op.kind == "fee":
            return L.fee_charged(op.provider, amount, ref, AT, sandbox=True)
        if op.kind in ("settle", "release"):
            if not self.open:
                return None
            provider, reserved, transfer_ref = self.open.pop(op.pick % len(self.open))
            make = L.transfer_settled if op.kind == "settle" else L.transfer_released
            return make(provider, reserved, transfer_ref, AT, sandbox=True)
        if op.kind == "duplicate" and self.booked:
            return self.booked[op.pick % len(self.booked)]
        return None

    def booked_ok(self, entry: JournalEntry) -> None:
        self.booked.append(entry)
        if entry.kind is L.EntryKind.TRANSFER_RESERVE:
            assert entry.reference is not None
            transfer_ref = entry.reference.removesuffix(":reserve")
            self.open.append((entry.provider or "", entry.amount, transfer_ref))

    def not_booked(self, entry: JournalEntry) -> None:
        """A settle/release that failed keeps its reservation open."""
        if entry.kind in (L.EntryKind.TRANSFER_SETTLE, L.EntryKind.TRANSFER_RELEASE):
            assert entry.reference is not None
            ref = entry.reference.rsplit(":", 1)[0]
            self.open.append((entry.provider or "", entry.amount, ref))
