"""The CLI of a QMOI with one provider disabled, run as a user runs it: validate says so
and checks only the enabled one online, the status shows only it, and a command naming
the disabled one is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import qmoi

OFF = {"MPESA_ENABLED": "false"}


def test_validate_says_which_provider_is_disabled(tmp_path: Path) -> None:
    result = qmoi(tmp_path, "validate", env=OFF)
    assert result.returncode == 0, result.stderr
    assert "configuration is usable: sandbox" in result.stdout
    assert "Airtel sandbox, M-Pesa disabled" in result.stdout


def test_validate_refuses_when_no_provider_is_enabled(tmp_path: Path) -> None:
    result = qmoi(tmp_path, "validate", env={**OFF, "AIRTEL_ENABLED": "false"})
    assert result.returncode == 1
    assert (
        "AIRTEL_ENABLED / MPESA_ENABLED: both providers are disabled, so there is nothing "
        "to collect on — set AIRTEL_ENABLED=true or MPESA_ENABLED=true (or both)"
    ) in result.stdout.splitlines()


def test_validate_online_checks_only_the_enabled_provider(tmp_path: Path) -> None:
    result = qmoi(tmp_path, "validate", "--online", env=OFF)
    assert result.returncode == 0, result.stdout + result.stderr
    online = result.stdout.split("configuration is usable")[1]
    assert "airtel: " in online
    assert "mpesa" not in online
    assert "online checks passed: airtel" in online


@pytest.mark.parametrize(
    "args",
    [
        ("transfer", "--provider", "mpesa", "--amount", "100"),
        ("revenue", "start", "--provider", "mpesa"),
        ("revenue", "status", "--provider", "mpesa"),
    ],
)
def test_a_command_naming_the_disabled_provider_is_one_clear_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    assert qmoi(tmp_path, "db", "upgrade", env=OFF).returncode == 0
    result = qmoi(tmp_path, *args, env=OFF)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "--provider: mpesa is not enabled here (no account, or MPESA_ENABLED=false) — use "
        "airtel, or enable it"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_revenue_status_shows_only_the_enabled_provider(tmp_path: Path) -> None:
    assert qmoi(tmp_path, "db", "upgrade", env=OFF).returncode == 0
    result = qmoi(tmp_path, "revenue", "status", env=OFF)
    assert result.returncode == 0, result.stderr
    assert "airtel: KES" in result.stdout
    assert "mpesa" not in result.stdout
    as_json = qmoi(tmp_path, "revenue", "status", "--json", env=OFF)
    assert '"mpesa"' not in as_json.stdout
