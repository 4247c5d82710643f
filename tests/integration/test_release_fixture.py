"""A database written by an earlier release keeps working: the current code migrates a
copy of it, its books and signed audit trail still verify with nothing lost, and it
becomes the accounts ``airtel`` and ``mpesa`` that today's variables make (see
tests/fixtures/release-2026-12-07/README.md)."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from qmoi.bootstrap import build, check_accounts
from qmoi.config import RawValues, Settings, build_settings
from qmoi.errors import ConfigError
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


def unpack(tmp_path: Path) -> Path:
    var = tmp_path / "var"
    var.mkdir()
    with gzip.open(FIXTURE / "qmoi.db.gz") as packed, (var / "qmoi.db").open("wb") as db:
        shutil.copyfileobj(packed, db)
    return var


def test_the_2026_12_07_database_migrates_and_still_verifies(tmp_path: Path) -> None:
    var = unpack(tmp_path)
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


def test_the_2026_12_07_database_becomes_the_accounts_airtel_and_mpesa(tmp_path: Path) -> None:
    var = unpack(tmp_path)
    upgrade = qmoi(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    with sqlite3.connect(var / "qmoi.db") as connection:
        rows = connection.execute(
            "SELECT id, provider, currency, country FROM merchant_accounts ORDER BY id"
        ).fetchall()
        providers = {
            row[0] for row in connection.execute("SELECT DISTINCT provider FROM collections")
        }
    assert rows == [("airtel", "airtel", "KES", None), ("mpesa", "mpesa", "KES", None)]
    assert providers == {"airtel", "mpesa"}  # the rows already name their accounts

    def settings_with(**values: str) -> Settings:
        raw = {
            "QMOI_DATABASE_URL": f"sqlite:///{var / 'qmoi.db'}",
            "QMOI_SIGNING_KEY_FILE": str(var / "signing.key"),
            **values,
        }
        built, report = build_settings(RawValues(raw))
        assert built is not None, report.problems
        return built

    today = build(settings_with())
    try:
        check_accounts(today)  # today's variables: the same two accounts
        with today.uow(read_only=True) as uow:
            stored = {(a.id, a.currency, a.country) for a in uow.merchant_accounts.all()}
        assert stored == {("airtel", "KES", "KE"), ("mpesa", "KES", "KE")}
    finally:
        today.engine.dispose()
    # the Airtel account's money is shillings: it cannot turn Ugandan under that name
    ugandan = build(settings_with(AIRTEL_COUNTRY="UG"))
    try:
        with pytest.raises(ConfigError, match="accounts.airtel: this database holds it as"):
            check_accounts(ugandan)
    finally:
        ugandan.engine.dispose()
    assert counts(var / "qmoi.db") == COUNTS
