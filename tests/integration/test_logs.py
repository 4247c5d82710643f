"""Logs are written where the README says, and no secret or full phone number reaches
them, whatever key or text it hides in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

from qmoi import logs


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "logs"
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()
    structlog.reset_defaults()


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_airtel_events_and_debug_detail_go_to_their_files(log_dir: Path) -> None:
    logs.configure(log_dir, debug_airtel=True, console=False)
    structlog.get_logger("qmoi.providers.airtel").info("airtel.collect", reference="X1")
    structlog.get_logger("qmoi.providers.airtel").debug("airtel.wire", status=200)
    structlog.get_logger("qmoi.db").info("db.migrated")
    assert [e["event"] for e in read(log_dir / "airtel_revenue.log")] == ["airtel.collect"]
    assert [e["event"] for e in read(log_dir / "airtel_debug.log")] == [
        "airtel.collect",
        "airtel.wire",
    ]
    assert {e["event"] for e in read(log_dir / "qmoi.log")} == {"airtel.collect", "db.migrated"}


def test_no_airtel_debug_file_unless_asked(log_dir: Path) -> None:
    logs.configure(log_dir, console=False)
    structlog.get_logger("qmoi.providers.airtel").debug("airtel.wire")
    assert not (log_dir / "airtel_debug.log").exists()


def test_secrets_pins_tokens_and_numbers_are_redacted(log_dir: Path) -> None:
    logs.configure(log_dir, console=False, secrets=[SecretStr("s3cr3t-client-value"), "9876"])
    log = structlog.get_logger("qmoi.providers.mpesa")
    log.info(
        "mpesa.request",
        client_secret="plain-secret-1",
        pin="4321",
        headers={"Authorization": "Bearer tok-abc", "X-Country": "KE"},
        password=SecretStr("pw-xyz"),
        msisdn="254712345678",
        note="retrying with s3cr3t-client-value for 0712345678 and pin 9876",
    )
    text = (log_dir / "qmoi.log").read_text()
    for leaked in ("plain-secret-1", "4321", "tok-abc", "pw-xyz", "s3cr3t-client-value",
                   "254712345678", "0712345678", "9876"):  # fmt: skip
        assert leaked not in text
    (event,) = read(log_dir / "qmoi.log")
    assert event["headers"] == {"Authorization": "***", "X-Country": "KE"}
    assert event["msisdn"] == "…678"
