"""Run as a separate process by the concurrency test: post random payments and
reservations against one database and print what succeeded, as JSON."""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qmoi.db.engine import create_db_engine
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import ledger as L
from qmoi.domain.clock import SystemClock
from qmoi.domain.errors import InsufficientFunds
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.security.signing import Signer
from qmoi.services.bookkeeping import record_entry


def main(url: str, key_file: str, worker: int, count: int) -> None:
    rng = random.Random(worker)  # noqa: S311 - test data
    engine = create_db_engine(url, pool_size=2)
    uows = UnitOfWorkFactory(
        engine, SystemClock(), ZoneInfo("Africa/Nairobi"), Signer.load_or_create(Path(key_file))
    )
    paid = reserved = refused = 0
    at = datetime.now(UTC)
    for i in range(count):
        amount = Money(rng.randint(1, 50_000), "KES")
        if rng.random() < 0.6:
            entry = L.payment_confirmed(
                "airtel", rng.choice(list(StreamKey)), amount, f"w{worker}-p{i}", at, sandbox=True
            )
        else:
            entry = L.transfer_reserved("airtel", amount, f"w{worker}-t{i}", at, sandbox=True)
        try:
            with uows() as uow:
                record_entry(uow, entry, f"worker-{worker}")
                uow.commit()
        except InsufficientFunds:
            refused += 1
            continue
        if entry.kind is L.EntryKind.COLLECTION:
            paid += amount.minor
        else:
            reserved += amount.minor
    engine.dispose()
    sys.stdout.write(json.dumps({"paid": paid, "reserved": reserved, "refused": refused}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
