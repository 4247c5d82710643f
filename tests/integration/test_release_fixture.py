"""A database written by an earlier release keeps working: the current code migrates a
copy of it, and its books and signed audit trail still verify with nothing lost (see
tests/fixtures/release-2026-12-07/README.md)."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

from tests.integration.test_cli import qmoi

FIXTURE = Path(__file__).parents[1] / "fixtures" / "release-2026-12-07"
COUNTS = {
    "collections": 40,
    "transfers": 10,
    "journal_entries": 60,
    "audit_log": 95,
    "inbox": 53,
}


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
            for table in COUNTS
        }


def test_the_2026_12_07_database_migrates_and_still_verifies(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    with gzip.open(FIXTURE / "qmoi.db.gz") as packed, (var / "qmoi.db").open("wb") as db:
        shutil.copyfileobj(packed, db)
    shutil.copy(FIXTURE / "signing.key", var / "signing.key")
    assert counts(var / "qmoi.db") == COUNTS

    upgrade = qmoi(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    status = qmoi(tmp_path, "db", "status")
    assert status.returncode == 0, status.stderr
    assert "up to date" in status.stdout

    ledger = qmoi(tmp_path, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    audit = qmoi(tmp_path, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "95 record(s)" in audit.stdout
    assert counts(var / "qmoi.db") == COUNTS
