"""Writes that must survive a database restart retry while it is away, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from qmoi.services import transient
from qmoi.services.transient import is_transient, with_patience


def test_a_write_waits_out_a_database_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transient.time, "sleep", lambda _: None)
    calls = []

    def write() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT …", {}, Exception("terminating connection"))
        return "stored"

    assert with_patience(write, "test") == "stored"
    assert len(calls) == 3


def test_refused_data_is_not_retried() -> None:
    calls = []

    def write() -> None:
        calls.append(1)
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        with_patience(write, "test")
    assert len(calls) == 1
    assert not is_transient(ValueError("no"))


def test_patience_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000))
    monkeypatch.setattr(transient.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(transient.time, "sleep", lambda _: None)

    def write() -> None:
        raise OperationalError("INSERT …", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        with_patience(write, "test", patience_s=5.0)
