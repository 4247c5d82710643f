"""The credential vault as an owner uses it (``qmoi secrets …`` in a subprocess, values
on stdin): values are sealed, listed by name only, checked like configuration, win only
where nothing else sets them, and survive key rotation — by key file and by
``QMOI_SECRET_KEY`` — while a wrong key is named, not guessed around."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qmoi.bootstrap import complete_from_vault
from qmoi.config import RawValues
from qmoi.db.engine import create_db_engine
from qmoi.security import secret_key
from tests.integration.test_cli import qmoi

#: said outright: a client secret with no environment would otherwise mean "staging"
SANDBOX = {"AIRTEL_ENVIRONMENT": "sandbox", "MPESA_ENVIRONMENT": "sandbox"}
PASSKEY = "vault-test-passkey-3f9a1c7e5b"
SECRET = "vault-test-client-secret-8d2b"


def run(cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """``qmoi *args`` with ``stdin``; returns stdout + stderr, asserting exit 0."""
    done = _run(cwd, args, stdin, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def refused(cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    done = _run(cwd, args, stdin, env)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text
    return text


def _run(
    cwd: Path, args: tuple[str, ...], stdin: str, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    return qmoi(cwd, *args, env={**SANDBOX, **(env or {})}, stdin=stdin)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    run(tmp_path, "db", "upgrade")
    return tmp_path


def sealed_rows(home: Path) -> dict[str, tuple[str, bytes]]:
    engine = create_db_engine(f"sqlite:///{home / 'var' / 'qmoi.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, key_id, sealed FROM vault_secrets")
            return {name: (key, bytes(blob)) for name, key, blob in rows}
    finally:
        engine.dispose()


def test_a_secret_is_sealed_listed_by_name_and_fills_the_configuration(home: Path) -> None:
    said = run(home, "secrets", "set", "mpesa_passkey", stdin=PASSKEY + "\n")
    assert "MPESA_PASSKEY sealed in the vault" in said
    (name, (key, blob)), = sealed_rows(home).items()  # fmt: skip
    assert name == "MPESA_PASSKEY"
    assert PASSKEY.encode() not in blob
    assert key == secret_key.key_id(secret_key.read_key_file(home / "var" / "secret.key"))
    assert (home / "var" / "secret.key").stat().st_mode & 0o777 == 0o600

    listed = run(home, "secrets", "list")
    assert "MPESA_PASSKEY" in listed
    assert PASSKEY not in listed
    checked = run(home, "validate")
    assert "MPESA_PASSKEY: from the credential vault" in checked
    assert PASSKEY not in checked
    raw = complete_from_vault(RawValues({"QMOI_VAR_DIR": str(home / "var")}))
    assert raw.values["MPESA_PASSKEY"] == PASSKEY
    assert raw.from_vault == {"MPESA_PASSKEY"}

    env_wins = complete_from_vault(
        RawValues({"QMOI_VAR_DIR": str(home / "var"), "MPESA_PASSKEY": "from-env"})
    )
    assert env_wins.values["MPESA_PASSKEY"] == "from-env"
    assert not env_wins.from_vault

    run(home, "secrets", "unset", "MPESA_PASSKEY")
    assert sealed_rows(home) == {}
    assert "not in the vault" in refused(home, "secrets", "unset", "MPESA_PASSKEY")


def test_bad_names_and_values_are_refused_in_one_line_and_nothing_is_stored(home: Path) -> None:
    assert "not a secret the vault keeps" in refused(home, "secrets", "set", "QMOI_TIMEZONE")
    assert "not a secret the vault keeps" in refused(home, "secrets", "set", "QMOI_SECRET_KEY")
    pin = refused(home, "secrets", "set", "AIRTEL_PIN", stdin="98765\n")
    assert "AIRTEL_PIN: must be exactly 4 digits" in pin
    assert "98765" not in pin
    assert "is empty" in refused(home, "secrets", "set", "AIRTEL_PIN", stdin="\n")
    short = refused(home, "secrets", "set", "MPESA_CALLBACK_TOKEN", stdin="short\n")
    assert "too short" in short
    assert sealed_rows(home) == {}


def test_rotating_the_key_file_reseals_everything_and_keeps_old_backups_open(
    home: Path,
) -> None:
    run(home, "secrets", "set", "AIRTEL_CLIENT_SECRET", stdin=SECRET + "\n")
    run(home, "secrets", "set", "MPESA_PASSKEY", stdin=PASSKEY + "\n")
    run(home, "backup", "create", "--out", "before.qmoi")
    before = sealed_rows(home)
    old_id = secret_key.key_id(secret_key.read_key_file(home / "var" / "secret.key"))

    said = run(home, "secrets", "rotate")
    assert "2 secret(s) re-sealed" in said
    new_id = secret_key.key_id(secret_key.read_key_file(home / "var" / "secret.key"))
    after = sealed_rows(home)
    assert new_id != old_id
    assert {key for key, _ in after.values()} == {new_id}
    assert all(after[n][1] != before[n][1] for n in before)
    assert (home / "var" / "retired-keys" / f"{old_id}.key").stat().st_mode & 0o777 == 0o600
    assert not secret_key.pending_file(home / "var" / "secret.key").exists()
    raw = complete_from_vault(RawValues({"QMOI_VAR_DIR": str(home / "var")}))
    assert (raw.values["AIRTEL_CLIENT_SECRET"], raw.values["MPESA_PASSKEY"]) == (SECRET, PASSKEY)

    elsewhere = {"QMOI_VAR_DIR": str(home / "var"), "QMOI_DATABASE_URL": f"sqlite:///{home}/r.db"}
    restored = run(home, "backup", "restore", "before.qmoi", env=elsewhere)
    assert "restored before.qmoi" in restored  # sealed under the retired key
    assert "audit trail intact" in run(home, "audit", "verify")


def test_an_interrupted_rotation_is_finished_by_running_it_again(home: Path) -> None:
    run(home, "secrets", "set", "MPESA_PASSKEY", stdin=PASSKEY + "\n")
    key_file = home / "var" / "secret.key"
    old = secret_key.read_key_file(key_file)
    next_key = secret_key.begin_rotation(key_file)  # the process died right after this
    assert secret_key.key_id(next_key) != secret_key.key_id(old)
    again = complete_from_vault(RawValues({"QMOI_VAR_DIR": str(home / "var")}))
    assert again.values["MPESA_PASSKEY"] == PASSKEY
    run(home, "secrets", "rotate")
    assert secret_key.read_key_file(key_file) == next_key
    assert {key for key, _ in sealed_rows(home).values()} == {secret_key.key_id(next_key)}


def test_rotating_qmoi_secret_key_needs_the_new_key_at_the_next_start(home: Path) -> None:
    old = {"QMOI_SECRET_KEY": "o" * 40}
    new = {"QMOI_SECRET_KEY": "n" * 40}
    run(home, "secrets", "set", "MPESA_PASSKEY", stdin=PASSKEY + "\n", env=old)
    assert "at least 32 characters" in refused(
        home, "secrets", "rotate", stdin="too-short\n", env=old
    )
    said = run(home, "secrets", "rotate", stdin="n" * 40 + "\n", env=old)
    assert "1 secret(s) re-sealed" in said
    assert "set QMOI_SECRET_KEY to the new key" in said

    stale = refused(home, "validate", env=old)
    assert "MPESA_PASSKEY: the vault's value cannot be opened" in stale
    assert f"sealed with secret key {secret_key.key_id(secret_key.from_text('n' * 40))}" in stale
    assert PASSKEY not in stale
    assert "MPESA_PASSKEY: from the credential vault" in run(home, "validate", env=new)
    no_key = refused(home, "validate")  # no QMOI_SECRET_KEY, and no key file was ever made
    assert "MPESA_PASSKEY: is in the vault, but there is no key to open it" in no_key


def test_a_live_configuration_is_completed_by_the_vault(home: Path) -> None:
    """Live settings lacking their secrets are unusable, yet `qmoi secrets set` works —
    and once the vault holds them, the configuration is usable."""
    live = {
        "QMOI_SECRET_KEY": "k" * 40,
        "QMOI_PUBLIC_URL": "https://qmoi.example.com",
        "AIRTEL_ENVIRONMENT": "staging",
        "AIRTEL_CLIENT_ID": "client-id",
        "AIRTEL_PHONE_NUMBER": "0733123456",
        "MPESA_ENVIRONMENT": "staging",
        "MPESA_SHORTCODE": "174379",
        "MPESA_PHONE_NUMBER": "0712345678",
    }
    missing = refused(home, "validate", env=live)
    assert "AIRTEL_CLIENT_SECRET: is required for staging" in missing
    for name, value in {
        "AIRTEL_CLIENT_SECRET": SECRET,
        "MPESA_CONSUMER_KEY": "consumer-key-1",
        "MPESA_CONSUMER_SECRET": "consumer-secret-1",
        "MPESA_PASSKEY": PASSKEY,
        "QMOI_MASTER_KEY": "m" * 40,
    }.items():
        run(home, "secrets", "set", name, stdin=value + "\n", env=live)
    usable = run(home, "validate", env=live)
    assert "configuration is usable: live" in usable
    assert "AIRTEL_CLIENT_SECRET: from the credential vault" in usable
    assert SECRET not in usable
    assert PASSKEY not in usable
