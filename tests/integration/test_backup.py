"""Sealed backups as a user runs them (``qmoi backup create|restore`` in a subprocess),
on SQLite and PostgreSQL: the round trip keeps balances and a verifiable audit chain;
a wrong key, a changed byte or a non-empty target is refused with one line, and
nothing is overwritten."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qmoi.db.engine import create_db_engine
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import ledger as L
from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.security.signing import Signer
from qmoi.services.bookkeeping import record_entry
from qmoi.services.keys import create_key
from tests.integration.test_cli import qmoi


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_and_target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """A migrated database and an empty one, on the same backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url")), f"sqlite:///{tmp_path}/restored.db"
    return (
        str(request.getfixturevalue("postgres_url")),
        str(request.getfixturevalue("empty_postgres_url")),
    )


def balances(url: str) -> dict[tuple[str, str], int]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, currency, balance_minor FROM accounts")
            return {(name, currency): int(minor) for name, currency, minor in rows}
    finally:
        engine.dispose()


def test_a_backup_round_trip_keeps_balances_and_the_audit_chain(
    source_and_target: tuple[str, str], clock: ManualClock, signer: Signer, tmp_path: Path
) -> None:
    db_url, empty_target = source_and_target
    engine = create_db_engine(db_url)
    uows = UnitOfWorkFactory(engine, clock, ZoneInfo("Africa/Nairobi"), signer)
    with uows() as uow:
        for n in range(5):
            entry = L.payment_confirmed(
                "airtel", StreamKey.AIRTIME_SALES, Money(10_000 + n, "KES"), f"airtel:pay:R{n}",
                uow.now, sandbox=True,
            )  # fmt: skip
            record_entry(uow, entry, "test")
        uow.commit()
    create_key(uows, "auditor", "accountant")
    engine.dispose()
    env = {
        "QMOI_VAR_DIR": str(tmp_path / "var"),
        "QMOI_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.key"),
    }
    made = qmoi(
        tmp_path, "backup", "create", "--out", "b.qmoi", env={**env, "QMOI_DATABASE_URL": db_url}
    )
    assert made.returncode == 0, made.stdout + made.stderr
    sealed = (tmp_path / "b.qmoi").read_bytes()
    assert b"airtel:pay:R1" not in sealed  # encrypted, not merely compressed
    assert (tmp_path / "b.qmoi").stat().st_mode & 0o777 == 0o600

    target = {**env, "QMOI_DATABASE_URL": empty_target}
    done = qmoi(tmp_path, "backup", "restore", "b.qmoi", env=target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert balances(empty_target) == balances(db_url)
    audit = qmoi(tmp_path, "audit", "verify", env=target)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "intact: 6 record(s)" in audit.stdout

    again = qmoi(tmp_path, "backup", "restore", "b.qmoi", env=target)
    assert again.returncode != 0
    assert "not empty" in again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr


def test_a_wrong_key_or_a_changed_byte_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    env = {"QMOI_VAR_DIR": str(tmp_path / "var"), "QMOI_DATABASE_URL": sqlite_url}
    assert qmoi(tmp_path, "backup", "create", "--out", "b.qmoi", env=env).returncode == 0
    restore_to = {**env, "QMOI_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"}

    wrong = qmoi(
        tmp_path, "backup", "restore", "b.qmoi", env={**restore_to, "QMOI_SECRET_KEY": "x" * 40}
    )
    assert wrong.returncode == 1
    assert "sealed with another key" in wrong.stdout

    data = bytearray((tmp_path / "b.qmoi").read_bytes())
    data[-20] ^= 0x01
    (tmp_path / "b.qmoi").write_bytes(bytes(data))
    changed = qmoi(tmp_path, "backup", "restore", "b.qmoi", env=restore_to)
    assert changed.returncode == 1
    assert "changed after it was made" in changed.stdout
    assert not Path(f"{tmp_path}/new.db").exists() or Path(f"{tmp_path}/new.db").stat().st_size == 0
