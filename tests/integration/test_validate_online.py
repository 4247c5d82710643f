"""`qmoi validate --online` run as a user runs it — a subprocess in a fresh directory —
against QMOI's emulators: started by the command itself, already running at a URL, run
with credentials other than QMOI's, and posing as the live providers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qmoi_sandbox.airtel import AirtelSandboxConfig
from qmoi_sandbox.airtel import create_app as airtel_app
from qmoi_sandbox.common.server import free_port, serve_in_thread
from qmoi_sandbox.mpesa import SANDBOX_PASSKEY, MpesaSandboxConfig
from qmoi_sandbox.mpesa import create_app as mpesa_app

QMOI = shutil.which("qmoi") or str(Path(__file__).parents[2] / ".venv" / "bin" / "qmoi")
SANDBOX_SECRET = "qmoi-sandbox-secret"
CALLBACK_TOKEN = "t0k3n-for-the-live-check-0123456789"


def qmoi(
    cwd: Path, *args: str, env: dict[str, str] | None = None
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
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.splitlines()


@pytest.fixture
def airtel_url() -> Iterator[str]:
    """An Airtel emulator with its default sandbox credentials."""
    with serve_in_thread(airtel_app(AirtelSandboxConfig())) as url:
        yield url


@pytest.fixture
def mpesa_url() -> Iterator[str]:
    """A Daraja emulator with its default credentials, answering results quickly."""
    with serve_in_thread(mpesa_app(MpesaSandboxConfig(result_delay_s=(0.0, 0.1)))) as url:
        yield url


@pytest.mark.airtel
@pytest.mark.mpesa
def test_sandbox_check_starts_both_emulators_and_proves_token_and_balance(
    tmp_path: Path,
) -> None:
    result = qmoi(tmp_path, "validate", "--online")
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result)
    started = [line for line in out if "started the built-in emulator on http://127.0.0.1:" in line]
    assert [line.split(":")[0] for line in started] == ["airtel", "mpesa"]
    assert any(
        line.startswith("airtel: token obtained from http://127.0.0.1:")
        and line.endswith("(expires in 180 s)")
        for line in out
    )
    assert "airtel: balance KES 1,000,000.00" in out
    assert any(
        line.startswith("mpesa: token obtained from http://127.0.0.1:")
        and line.endswith("(expires in 3599 s)")
        for line in out
    )
    assert "mpesa: balance query answered (Utility Account KES 1,000,000.00)" in out
    assert out[-1] == "online checks passed: airtel, mpesa"
    assert SANDBOX_SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.airtel
@pytest.mark.mpesa
def test_running_emulators_named_by_option_and_env_are_checked_not_started(
    tmp_path: Path, airtel_url: str, mpesa_url: str
) -> None:
    result = qmoi(
        tmp_path,
        "validate",
        "--online",
        "--sandbox-url-airtel",
        airtel_url,
        env={"MPESA_BASE_URL": mpesa_url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result)
    assert not any("started the built-in emulator" in line for line in out)
    assert f"airtel: token obtained from {airtel_url} (expires in 180 s)" in out
    assert f"mpesa: token obtained from {mpesa_url} (expires in 3599 s)" in out
    # the certificate came from the emulator's /sandbox/certificate, the result through
    # the loopback receiver
    assert "mpesa: balance query answered (Utility Account KES 1,000,000.00)" in out
    assert (
        httpx.get(f"{mpesa_url}/sandbox/callbacks")
        .json()[-1]["url"]
        .startswith("http://127.0.0.1:")
    )
    assert SANDBOX_SECRET not in result.stdout + result.stderr


@pytest.mark.airtel
def test_airtel_emulator_with_other_credentials_fails_with_one_line_reason(
    tmp_path: Path,
) -> None:
    config = AirtelSandboxConfig(client_secret="someone-elses-secret")
    with serve_in_thread(airtel_app(config)) as url:
        result = qmoi(tmp_path, "validate", "--online", "--sandbox-url-airtel", url)
    assert result.returncode == 1, result.stdout + result.stderr
    out = lines(result)
    airtel = [line for line in out if line.startswith("airtel:")]
    assert airtel == [
        "airtel: the token request was refused (invalid_client) — check AIRTEL_CLIENT_ID "
        "and AIRTEL_CLIENT_SECRET"
    ]
    assert "mpesa: balance query answered (Utility Account KES 1,000,000.00)" in out
    assert out[-1] == "online checks failed: 1 problem"
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.mpesa
def test_daraja_emulator_with_other_credentials_fails_with_one_line_reason(
    tmp_path: Path,
) -> None:
    config = MpesaSandboxConfig(consumer_secret="someone-elses-secret")
    with serve_in_thread(mpesa_app(config)) as url:
        result = qmoi(tmp_path, "validate", "--online", env={"MPESA_BASE_URL": url})
    assert result.returncode == 1, result.stdout + result.stderr
    out = lines(result)
    mpesa = [line for line in out if line.startswith("mpesa:")]
    assert mpesa[-1] == (
        "mpesa: the token request was refused (400.008.01) — check MPESA_CONSUMER_KEY and "
        "MPESA_CONSUMER_SECRET"
    )
    assert not any(line.startswith("mpesa: balance") for line in out)
    assert "airtel: balance KES 1,000,000.00" in out
    assert out[-1] == "online checks failed: 1 problem"


@pytest.mark.airtel
@pytest.mark.mpesa
def test_live_check_counts_the_token_when_the_balance_result_goes_to_the_public_url(
    tmp_path: Path, airtel_url: str, mpesa_url: str
) -> None:
    """Staging settings pointed at the emulators: QMOI_PUBLIC_URL (a closed loopback
    port here) would receive Daraja's result, so the command reports the acceptance."""
    certificate = tmp_path / "daraja.cer"
    certificate.write_text(httpx.get(f"{mpesa_url}/sandbox/certificate").text)
    public_url = f"http://127.0.0.1:{free_port()}"
    env = {
        "AIRTEL_ENVIRONMENT": "staging",
        "AIRTEL_BASE_URL": airtel_url,
        "AIRTEL_CLIENT_ID": "qmoi-sandbox",
        "AIRTEL_CLIENT_SECRET": SANDBOX_SECRET,
        "AIRTEL_PHONE_NUMBER": "0733000100",
        "MPESA_ENVIRONMENT": "staging",
        "MPESA_BASE_URL": mpesa_url,
        "MPESA_CONSUMER_KEY": "qmoi-sandbox",
        "MPESA_CONSUMER_SECRET": SANDBOX_SECRET,
        "MPESA_SHORTCODE": "174379",
        "MPESA_PASSKEY": SANDBOX_PASSKEY,
        "MPESA_INITIATOR_NAME": "qmoi_initiator",
        "MPESA_INITIATOR_PASSWORD": "Sandbox#1234",
        "MPESA_CERTIFICATE": str(certificate),
        "MPESA_PHONE_NUMBER": "0708000100",
        "MPESA_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "QMOI_PUBLIC_URL": public_url,
        "QMOI_MASTER_KEY": "a-long-enough-master-key-for-tests",
    }
    result = qmoi(tmp_path, "validate", "--online", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result)
    assert any(line.startswith("configuration is usable: live;") for line in out)
    assert f"airtel: token obtained from {airtel_url} (expires in 180 s)" in out
    assert "airtel: balance KES 1,000,000.00" in out
    assert f"mpesa: token obtained from {mpesa_url} (expires in 3599 s)" in out
    assert (
        f"mpesa: balance query accepted by Daraja; its result goes to {public_url}/hooks/… "
        "(QMOI's callback URL), not to this command — the token check is the proof"
    ) in out
    assert out[-1] == "online checks passed: airtel, mpesa"
    everything = result.stdout + result.stderr
    for secret in (SANDBOX_SECRET, CALLBACK_TOKEN, "Sandbox#1234", SANDBOX_PASSKEY):
        assert secret not in everything


def test_a_configuration_problem_stops_before_any_provider_is_called(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("QMOI_DAILY_TARGET_MPESA=lots\n")
    result = qmoi(tmp_path, "validate", "--online")
    assert result.returncode == 1
    assert lines(result)[-1] == "configuration is not usable: 1 problem"
    assert not any(line.startswith(("airtel:", "mpesa:")) for line in lines(result))


def test_each_account_is_checked_on_its_own_and_named_in_every_line(
    tmp_path: Path, airtel_url: str
) -> None:
    """Three accounts: a Ugandan one against its own built-in emulator (balance in UGX),
    a Kenyan one against a running emulator given as its baseUrl, and an M-Pesa one."""
    config = tmp_path / "qmoi.json"
    config.write_text(
        '{"accounts": ['
        '{"id": "airtel-ke", "provider": "airtel", "default": true, "baseUrl": "'
        + airtel_url
        + '"},'
        '{"id": "airtel-ug", "provider": "airtel", "country": "UG", "dailyTarget": 300000,'
        ' "autoTransfer": 50000},'
        '{"id": "mpesa-ke", "provider": "mpesa"}]}'
    )
    result = qmoi(tmp_path, "--config", str(config), "validate", "--online")
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result)
    assert out[-1] == "online checks passed: airtel-ke, airtel-ug, mpesa-ke"
    checks = [
        line for line in out if line.split(":", 1)[0] in ("airtel-ke", "airtel-ug", "mpesa-ke")
    ]
    assert "airtel-ug: balance UGX 100,000,000" in checks
    assert any(line.startswith("airtel-ke: token obtained from " + airtel_url) for line in checks)
    assert any(line.startswith("mpesa-ke: balance query answered") for line in checks)
    assert not [line for line in out if line.startswith(("airtel:", "mpesa:"))]
