"""Several processes post to one PostgreSQL database at once: no lost update, no
negative wallet, a single unforked audit chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts
from qmoi.security.signing import Signer
from qmoi.services.bookkeeping import verify_audit, verify_ledger

WORKER = Path(__file__).with_name("posting_worker.py")


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_writers_keep_balances_exact(
    postgres_url: str, tmp_path: Path, clock, signer: Signer
) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from qmoi.db.engine import create_db_engine

    key_file = tmp_path / "keys" / "signing.key"  # the `signer` fixture made it
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), postgres_url, str(key_file), str(n), "150"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        for n in range(4)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    paid = sum(r["paid"] for r in results)
    reserved = sum(r["reserved"] for r in results)
    assert paid > 0
    assert reserved > 0

    engine = create_db_engine(postgres_url)
    uows = UnitOfWorkFactory(engine, clock, ZoneInfo("Africa/Nairobi"), signer)
    with uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")).minor == paid - reserved
        assert uow.ledger.balance(accounts.in_transit("airtel")).minor == reserved
        booked = uow.ledger.entry_count()
    assert verify_ledger(uows) == []
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.ok
    assert verdict.records == booked == 600 - sum(r["refused"] for r in results)
    engine.dispose()
