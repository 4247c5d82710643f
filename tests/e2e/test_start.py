"""`qmoi start` as a newcomer runs it: a subprocess in an empty directory. Within a
minute at --speed 60 sales are booked, targets move and auto-transfers complete, and
the CLI tells the same numbers as the API."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from qmoi_sandbox.common.server import free_port

pytestmark = [pytest.mark.revenue, pytest.mark.transfer, pytest.mark.slow]

QMOI = shutil.which("qmoi") or str(Path(__file__).parents[2] / ".venv" / "bin" / "qmoi")


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_"))
    }


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QMOI, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_qmoi(cwd: Path, *options: str, seed: int = 3) -> tuple[subprocess.Popen[str], str]:
    """``qmoi [options] start --speed 60`` in ``cwd``, a simulated hour from 08:00 today
    (run at any hour, the minute never crosses a midnight, which would start a new day
    with nothing transferred yet); returns the process and its base URL."""
    port = free_port()
    morning = datetime.now(ZoneInfo("Africa/Nairobi")).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    process = subprocess.Popen(
        [QMOI, *options, "start", "--port", str(port), "--speed", "60", "--seed", str(seed)]
        + ["--start", morning.isoformat()],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop_qmoi(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, as its user would; returns what it printed."""
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_qmoi_start_books_sales_and_pays_the_owner_within_a_minute(tmp_path: Path) -> None:
    process, base = start_qmoi(tmp_path)
    try:
        # Sales go on while we look, so a newer chunk may be in flight at any moment:
        # wait for a paid auto-transfer per provider and no failed transfer at all,
        # rather than for the latest one to have finished.
        deadline = time.monotonic() + 60
        paid: dict[str, list[dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            key_file = tmp_path / "var" / "master.key"
            if not key_file.exists():
                continue
            headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
            try:
                listed = {p: transfers(base, headers, p) for p in ("airtel", "mpesa")}
            except httpx.HTTPError:
                continue
            failed = [t for items in listed.values() for t in items if t["status"] == "failed"]
            assert not failed, failed
            paid = {
                p: [t for t in items if t["trigger"] == "auto" and t["status"] == "succeeded"]
                for p, items in listed.items()
            }
            if all(paid.values()):
                break
        else:
            raise AssertionError(f"no auto-transfer paid on each provider in a minute: {paid}")
        metrics = httpx.get(f"{base}/api/qmoi/revenue/metrics", headers=headers).json()
        for provider in ("airtel", "mpesa"):
            assert metrics[provider]["dailyEarnings"] > 0
            assert metrics[provider]["targetProgress"] > 0
            assert metrics[provider]["transferredToday"] > 0
            assert metrics[provider]["autoTransferStatus"] in ("pending", "completed")
        assert metrics["combined"]["sandbox"] is True

        status = cli(tmp_path, "revenue", "status", "--json")
        assert status.returncode == 0, status.stderr
        from_cli = json.loads(status.stdout)
        api = httpx.get(f"{base}/api/qmoi/revenue/metrics", headers=headers).json()
        for provider in ("airtel", "mpesa"):  # the same numbers, read by two routes
            assert from_cli[provider]["dayEarnings"] <= api[provider]["dayEarnings"]
            assert from_cli[provider]["target"] == api[provider]["target"]
        table = cli(tmp_path, "revenue", "status", "--provider", "airtel")
        assert "airtel: KES" in table.stdout
        assert "SANDBOX" in table.stdout
        caption = r"last transfer:\s+(QMOI-AT-\S+)\s+KES\s+[\d,.]+\s+(\w+)"  # may be wrapped
        shown = re.search(caption, table.stdout)
        assert shown is not None, table.stdout
        # the latest auto-transfer as the API lists it then or later, in any state but failed
        assert shown[1] in {t["id"] for t in transfers(base, headers, "airtel")}
        assert shown[2] in ("reserved", "submitted", "unknown", "succeeded")
        watched = cli(tmp_path, "revenue", "status", "--watch", "--every", "0.3", "--rounds", "3")
        assert watched.returncode == 0, watched.stderr
        assert watched.stdout.count("combined: KES") == 3  # piped: one view per refresh
        assert watched.stdout.count("mpesa: KES") == 3

        paid = cli(tmp_path, "transfer", "--provider", "mpesa", "--amount", "10", "--api-url", base)
        assert paid.returncode == 0, paid.stdout + paid.stderr
        assert "succeeded" in paid.stdout or "submitted" in paid.stdout
        refused = cli(
            tmp_path, "transfer", "--provider", "mpesa", "--amount", "99999999", "--api-url", base
        )
        assert refused.returncode == 1
        assert "insufficient_funds" in refused.stdout
    finally:
        output = stop_qmoi(process)
    assert "Traceback" not in output
    assert "master key:" in output
    audit = cli(tmp_path, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    ledger = cli(tmp_path, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stdout
    # what it made holds customers' numbers and secrets: its user's alone
    made = [tmp_path / "var", tmp_path / "logs"]
    made += [p for d in made for p in d.rglob("*")]
    assert {"qmoi.db", "master.key", "qmoi.log"} <= {p.name for p in made}
    for path in made:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def transfers(base: str, headers: dict[str, str], provider: str) -> list[dict[str, Any]]:
    """The provider's transfers, newest first, as the API lists them."""
    answer = httpx.get(
        f"{base}/api/qmoi/revenue/{provider}/transactions",
        params={"kind": "transfer", "limit": 200},
        headers=headers,
        timeout=5,
    )
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_live_mode_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    env = {**clean_env(), "AIRTEL_ENVIRONMENT": "production", "MPESA_ENVIRONMENT": "production"}
    result = subprocess.run(
        [QMOI, "start"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("QMOI_MASTER_KEY:") for line in lines)
    assert any(line.startswith("QMOI_PUBLIC_URL:") for line in lines)
    assert any(line.startswith("AIRTEL_CLIENT_ID:") for line in lines)
    assert "Traceback" not in result.stderr
