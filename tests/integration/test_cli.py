"""`qmoi validate`, `qmoi db upgrade` and `qmoi audit verify` run as a user runs them:
a subprocess in a working directory, judged by exit code and output."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from qmoi.config import load_settings
from qmoi.domain import ledger as L
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.services.bookkeeping import record_entry

QMOI = shutil.which("qmoi") or str(Path(__file__).parents[2] / ".venv" / "bin" / "qmoi")


#: the umask most systems give a user: what QMOI must not rely on for privacy
COMMON_UMASK = 0o022


def qmoi(
    cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_"))
    }
    return subprocess.run(
        [QMOI, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.umask(COMMON_UMASK),  # as a user's shell starts it
    )


def test_validate_on_a_fresh_machine_is_the_usable_sandbox(tmp_path: Path) -> None:
    result = qmoi(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert "configuration is usable: sandbox" in result.stdout


def test_validate_corrects_warns_and_fails_with_one_line_per_problem(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "AIRTEL_PHONE_NUMBER=0786 123 456\n"
        "MPESA_PHONE_NUMBER=0733123456\n"
        "QMOI_AUTO_TRANSFER_AIRTEL=12000\n"
        "QMOI_DAILY_TARGET_MPESA=lots\n"
        "QMOI_STRICT_NETWORK=true\n"
    )
    result = qmoi(tmp_path, "validate")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "corrected: AIRTEL_PHONE_NUMBER: stored in international form: '0786 123 456' → "
        "'254786123456'" in lines
    )
    assert any(line.startswith("warning: QMOI_AUTO_TRANSFER_AIRTEL:") for line in lines)
    assert (
        "MPESA_PHONE_NUMBER: '0733123456' is an Airtel number, not Safaricom — give the "
        "owner's Safaricom number, e.g. 0712 345 678" in lines
    )
    assert any(line.startswith("QMOI_DAILY_TARGET_MPESA: ") and " — " in line for line in lines)
    assert lines[-1] == "configuration is not usable: 2 problems"
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_warns_of_a_number_in_another_networks_range_and_accepts_it(
    tmp_path: Path,
) -> None:
    """Numbers can be ported: without QMOI_STRICT_NETWORK the range is only a hint."""
    (tmp_path / ".env").write_text("MPESA_PHONE_NUMBER=0733123456\n")
    result = qmoi(tmp_path, "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    (warning,) = [
        line for line in result.stdout.splitlines() if line.startswith("warning: MPESA_PHONE")
    ]
    assert "'0733123456' is an Airtel number, not Safaricom" in warning
    assert "QMOI_STRICT_NETWORK=true" in warning


def test_validate_accepts_a_ugandan_airtel_account_and_names_a_wrong_currency(
    tmp_path: Path,
) -> None:
    env = {"AIRTEL_COUNTRY": "UG", "AIRTEL_PHONE_NUMBER": "+256701234567"}
    result = qmoi(tmp_path, "validate", env={**env, "AIRTEL_CURRENCY": "UGX"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration is usable: sandbox" in result.stdout
    result = qmoi(tmp_path, "validate", env={**env, "AIRTEL_CURRENCY": "KES"})
    assert result.returncode == 1
    assert (
        "AIRTEL_CURRENCY: 'KES' is not the currency of Airtel Money in Uganda — use UGX "
        "(AIRTEL_COUNTRY=UG), or leave it unset" in result.stdout.splitlines()
    )


def test_environment_overrides_dotenv_and_json_config_file(tmp_path: Path) -> None:
    config = {
        "airtel": {"phoneNumber": "0786000111", "accountReference": "SHOP1"},
        "qmoi": {"dailyTargetAirtel": 12500},
    }
    (tmp_path / "qmoi.json").write_text(json.dumps(config))
    (tmp_path / ".env").write_text("QMOI_DAILY_TARGET_AIRTEL=15000\n")
    result = qmoi(tmp_path, "--config", "qmoi.json", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    os.chdir(tmp_path)
    try:
        settings = load_settings(tmp_path / ".env", tmp_path / "qmoi.json")
    finally:
        os.chdir(Path(__file__).parents[2])
    assert settings.airtel.phone_number == "254786000111"
    assert settings.airtel.account_reference == "SHOP1"
    assert settings.targets.daily_airtel == Money.parse("15000")  # .env beats the file


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "QMOI_CONFIG_FILE: "), ('{"shop": {"a": 1}}', "unknown section 'shop'")],
)
def test_a_malformed_config_file_is_one_clear_line(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "bad.json").write_text(content)
    result = qmoi(tmp_path, "validate", env={"QMOI_CONFIG_FILE": "bad.json"})
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_bad_database_url_is_one_clear_line(tmp_path: Path) -> None:
    result = qmoi(
        tmp_path, "db", "upgrade", env={"QMOI_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"}
    )
    assert result.returncode == 1
    assert result.stderr.startswith("the database cannot be reached")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = qmoi(tmp_path, "frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_audit_verify_passes_then_names_the_tampered_record(tmp_path: Path) -> None:
    assert qmoi(tmp_path, "db", "upgrade").returncode == 0
    os.chdir(tmp_path)
    try:
        from qmoi.bootstrap import build

        container = build(load_settings(tmp_path / ".env"))
    finally:
        os.chdir(Path(__file__).parents[2])
    at = datetime.now(UTC)
    for i in range(3):
        with container.uow() as uow:
            entry = L.payment_confirmed(
                "mpesa",
                StreamKey.DATA_PACKAGES,
                Money(5000 + i, "KES"),
                f"RCPT{i}",
                at,
                sandbox=True,
            )
            record_entry(uow, entry, "system")
            uow.commit()

    intact = qmoi(tmp_path, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "audit trail intact: 3 record(s)" in intact.stdout

    with container.engine.begin() as conn:  # behind QMOI's back
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    broken = qmoi(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at record 2" in broken.stdout
    container.close()


def test_audit_verify_detects_reordered_records(tmp_path: Path) -> None:
    assert qmoi(tmp_path, "db", "upgrade").returncode == 0
    os.chdir(tmp_path)
    try:
        from qmoi.bootstrap import build

        container = build(load_settings(tmp_path / ".env"))
    finally:
        os.chdir(Path(__file__).parents[2])
    for i in range(3):
        with container.uow() as uow:
            record_entry(
                uow,
                L.payment_confirmed(
                    "airtel",
                    StreamKey.AIRTIME_SALES,
                    Money(100, "KES"),
                    f"R{i}",
                    datetime.now(UTC),
                    sandbox=True,
                ),
                "system",
            )
            uow.commit()
    with container.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3)"))
        conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = -2"))
        conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = -3"))
    broken = qmoi(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at record 2" in broken.stdout
    container.close()


@pytest.mark.parametrize(
    "provider",
    [
        pytest.param("airtel", marks=pytest.mark.airtel),
        pytest.param("mpesa", marks=pytest.mark.mpesa),
    ],
)
def test_sandbox_command_serves_an_emulator_alone(tmp_path: Path, provider: str) -> None:
    import time

    import httpx

    from qmoi_sandbox.common.server import free_port

    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QMOI_")}
    process = subprocess.Popen(
        [QMOI, "sandbox", provider, "--port", str(port), "--seed", "7"],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        assert answer.json()["provider"] == provider
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_keys_are_created_once_listed_without_secrets_and_revoked(tmp_path: Path) -> None:
    assert qmoi(tmp_path, "db", "upgrade").returncode == 0
    made = qmoi(tmp_path, "keys", "create", "--role", "viewer", "--name", "accountant")
    assert made.returncode == 0, made.stdout + made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("qk_")
    key_id = secret.split("_")[1]
    listed = qmoi(tmp_path, "keys", "list")
    assert key_id in listed.stdout
    assert "accountant" in listed.stdout
    assert secret.split("_", 2)[2] not in listed.stdout
    db = (tmp_path / "var" / "qmoi.db").read_bytes()
    assert secret.split("_", 2)[2].encode() not in db  # only a digest is stored
    assert qmoi(tmp_path, "keys", "revoke", key_id).returncode == 0
    again = qmoi(tmp_path, "keys", "revoke", key_id)
    assert again.returncode == 1
    assert "no active key" in again.stdout
    bad = qmoi(tmp_path, "keys", "create", "--role", "admin", "--name", "x")
    assert bad.returncode != 0
    assert "--role: 'admin' is not a role" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


def test_an_audit_export_verifies_alone_and_any_tampering_is_named(tmp_path: Path) -> None:
    assert qmoi(tmp_path, "db", "upgrade").returncode == 0
    for name in ("a", "b", "c"):  # each key made is an audit record
        assert qmoi(tmp_path, "keys", "create", "--role", "viewer", "--name", name).returncode == 0
    made = qmoi(tmp_path, "audit", "export", "--out", "trail.jsonl")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "3 audit record(s) written" in made.stdout
    export = tmp_path / "trail.jsonl"
    (tmp_path / "var" / "qmoi.db").unlink()  # the file alone is enough
    ok = qmoi(tmp_path, "audit", "verify", "--file", str(export))
    assert ok.returncode == 0, ok.stdout
    assert "intact: 3 record(s)" in ok.stdout

    lines = export.read_text().splitlines()
    record = json.loads(lines[2])  # record 2: the key named "b", renamed behind our back
    assert '"b"' in record["payload"]
    record["payload"] = record["payload"].replace('"b"', '"B"')
    changed = json.dumps(record, sort_keys=True)
    export.write_text("\n".join([*lines[:2], changed, *lines[3:]]) + "\n")
    tampered = qmoi(tmp_path, "audit", "verify", "--file", str(export))
    assert tampered.returncode == 1
    assert "BROKEN at record 2" in tampered.stdout

    export.write_text("\n".join(lines[:-1]) + "\n")  # the last record removed
    cut = qmoi(tmp_path, "audit", "verify", "--file", str(export))
    assert cut.returncode == 1
    assert "BROKEN" in cut.stdout

    export.write_text("not an export\n")
    junk = qmoi(tmp_path, "audit", "verify", "--file", str(export))
    assert junk.returncode == 1
    assert "is it a file `qmoi audit export` wrote?" in junk.stdout
    assert "Traceback" not in junk.stdout + junk.stderr


def modes(*roots: Path) -> dict[str, int]:
    """Permission bits of each root and everything under it, by path."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_the_database_keys_and_logs_qmoi_creates_are_its_users_alone(tmp_path: Path) -> None:
    """They hold customers' phone numbers and secrets: files 0600, directories 0700,
    whatever the umask QMOI was started with — from the moment each is made."""
    var, logs = tmp_path / "var", tmp_path / "logs"
    for command in (["db", "upgrade"], ["keys", "create", "--role", "viewer", "--name", "x"]):
        result = qmoi(tmp_path, *command)
        assert result.returncode == 0, result.stderr
        found = modes(var, logs)
        for path, mode in found.items():
            assert mode == (0o700 if Path(path).is_dir() else 0o600), (command, path, oct(mode))
    made = {var / "qmoi.db", logs / "qmoi.log", logs / "airtel_revenue.log"}
    assert {str(path) for path in made} <= set(found)
    assert "files.made_private" not in (logs / "qmoi.log").read_text()  # nothing to tighten


def test_files_an_older_qmoi_left_readable_are_made_private_when_it_starts(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "data"
    env = {"QMOI_DATABASE_URL": f"sqlite:///{elsewhere / 'shop.db'}"}
    assert qmoi(tmp_path, "db", "upgrade", env=env).returncode == 0
    var, logs, database = tmp_path / "var", tmp_path / "logs", elsewhere / "shop.db"
    (var / "sandbox_clock.json").write_text("{}")
    for path in (var, logs, elsewhere):  # as QMOI used to leave them
        path.chmod(0o755)
    for path in (database, logs / "qmoi.log", var / "sandbox_clock.json"):
        path.chmod(0o644)

    result = qmoi(tmp_path, "db", "status", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for path, mode in modes(var, logs).items():
        assert mode == (0o700 if Path(path).is_dir() else 0o600), (path, oct(mode))
    sides = [Path(f"{database}{side}") for side in ("-wal", "-shm")]
    for path in (database, *(side for side in sides if side.exists())):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755  # not QMOI's directory
    said = [
        json.loads(line)
        for line in (logs / "qmoi.log").read_text().splitlines()
        if "files.made_private" in line
    ]
    assert len(said) == 1
    opened = {str(p) for p in (var, logs, logs / "qmoi.log", var / "sandbox_clock.json")}
    assert opened | {str(database)} <= set(said[0]["paths"])
    assert set(said[0]["paths"]) <= opened | {str(p) for p in (database, *sides)}
    again = qmoi(tmp_path, "db", "status", env=env)
    assert again.returncode == 0
    assert (logs / "qmoi.log").read_text().count("files.made_private") == 1  # said once
