"""``python -m qmoi_sandbox.airtel``: options, environment variables, and a real start."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from qmoi_sandbox.airtel.__main__ import parse
from qmoi_sandbox.common.server import free_port

pytestmark = pytest.mark.airtel


def test_defaults_need_only_a_port():
    launch = parse(["--port", "8701"], env={})
    assert (launch.host, launch.port) == ("127.0.0.1", 8701)
    assert launch.config.client_id == "qmoi-sandbox"
    assert launch.config.signing_required is False
    assert launch.config.callback_auth is False


def test_command_line_options_reach_the_config(tmp_path):
    launch = parse(
        [
            "--port", "9000", "--host", "localhost", "--seed", "42", "--speed", "60",
            "--callback-url", "http://127.0.0.1:1/cb", "--client-id", "me", "--client-secret", "s3",
            "--pin", "9876", "--signing", "--callback-auth", "--callback-key", "k",
            "--hash-scope", "inner",
            "--customer-delay", "1,2", "--fee-minor", "2500", "--token-ttl", "60",
            "--start", "2026-01-01T08:00:00+03:00", "--public-key-out", str(tmp_path / "k.pem"),
        ],
        env={},
    )  # fmt: skip
    c = launch.config
    assert (launch.host, launch.port, c.seed, c.speed) == ("localhost", 9000, 42, 60.0)
    assert (c.client_id, c.client_secret, c.pin) == ("me", "s3", "9876")
    assert c.signing_required
    assert c.callback_auth
    assert c.hash_scope == "inner"
    assert c.customer_delay_s == (1.0, 2.0)
    assert (c.disbursement_fee_minor, c.token_ttl_s) == (2500, 60)
    assert c.start is not None
    assert c.start.utcoffset() is not None
    assert launch.public_key_out == tmp_path / "k.pem"


def test_environment_variables_are_read_and_the_command_line_wins():
    env = {
        "QMOI_SANDBOX_AIRTEL_PORT": "8800",
        "QMOI_SANDBOX_AIRTEL_SEED": "3",
        "QMOI_SANDBOX_AIRTEL_CALLBACK_URL": "http://127.0.0.1:2/cb",
        "QMOI_SANDBOX_AIRTEL_SIGNING": "true",
        "QMOI_SANDBOX_AIRTEL_PIN": "1111",
    }
    launch = parse(["--pin", "2222"], env=env)
    assert launch.port == 8800
    assert launch.config.seed == 3
    assert launch.config.callback_url == "http://127.0.0.1:2/cb"
    assert launch.config.signing_required is True
    assert launch.config.pin == "2222"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--port", "x"],
        ["--port", "1", "--country", "XX"],
        ["--port", "1", "--start", "2026-01-01"],
    ],
)
def test_bad_options_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(argv, env={})
    assert exit_info.value.code == 2


def test_the_module_serves_the_emulator(tmp_path):
    port = free_port()
    key_file = tmp_path / "airtel.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "qmoi_sandbox.airtel", "--port", str(port), "--log-level", "warning",
         "--public-key-out", str(key_file)],
        env=os.environ | {"QMOI_SANDBOX_AIRTEL_SEED": "5"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                assert process.poll() is None, "the emulator exited"
                time.sleep(0.05)
        assert health.json()["provider"] == "airtel"
        pem = httpx.get(f"http://127.0.0.1:{port}/sandbox/public-key", timeout=1).text
        assert key_file.read_text() == pem
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_country_alone_brings_its_currency() -> None:
    uganda = parse(["--port", "9000", "--country", "UG"], env={}).config
    assert (uganda.country, uganda.currency) == ("UG", "UGX")
    kenya = parse(["--port", "9000"], env={}).config
    assert (kenya.country, kenya.currency) == ("KE", "KES")
