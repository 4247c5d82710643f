"""A database written by an earlier release keeps working: the current code migrates a
copy of it, and its books and signed audit trail still verify with nothing lost (see
tests/fixtures/release-2026-12-07/README.md)."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

from qmoi.bootstrap import build
from qmoi.config import RawValues, build_settings
from qmoi.security.signing import Verifier
from qmoi.services.bookkeeping import verify_audit
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
    assert counts(var / "qmoi.db") == COUNTS

    upgrade = qmoi(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    status = qmoi(tmp_path, "db", "status")
    assert status.returncode == 0, status.stderr
    assert "up to date" in status.stdout

    ledger = qmoi(tmp_path, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    # the trail against the public key of the run that wrote it (its private key was
    # not kept: `qmoi audit verify` would check against this machine's own key)
    settings, report = build_settings(
        RawValues(
            {
                "QMOI_DATABASE_URL": f"sqlite:///{var / 'qmoi.db'}",
                "QMOI_SIGNING_KEY_FILE": str(var / "signing.key"),
            }
        )
    )
    assert settings is not None, report.problems
    container = build(settings)
    try:
        verdict = verify_audit(
            container.uow, Verifier.from_pem((FIXTURE / "signing.pub").read_text())
        )
    finally:
        container.engine.dispose()
    assert verdict.broken is None, verdict.broken
    assert verdict.records == COUNTS["audit_log"]
    assert counts(var / "qmoi.db") == COUNTS
