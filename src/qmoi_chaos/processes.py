"""Running QMOI as its users do: both emulators on loopback ports, and ``qmoi api`` /
``qmoi worker`` as real subprocesses talking to them and to each other over HTTP on
127.0.0.1 — for the end-to-end tests and the chaos run alike.

Every process started here is registered with a :class:`Processes` set, whose
``close()`` (called from a ``finally``) terminates, then kills, whatever is still
running. Nothing here reaches past the loopback interface.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qmoi_sandbox.airtel import AirtelSandboxConfig
from qmoi_sandbox.airtel import create_app as airtel_app
from qmoi_sandbox.common.server import serve_in_thread
from qmoi_sandbox.mpesa import MpesaSandboxConfig
from qmoi_sandbox.mpesa import create_app as mpesa_app

QMOI = str(
    Path(sys.executable).with_name("qmoi")
    if Path(sys.executable).with_name("qmoi").exists()
    else shutil.which("qmoi") or "qmoi"
)
#: an M-Pesa callback token and a master key of the shape QMOI wants (≥ 24 characters)
TOKEN_BYTES = 16


def clean_environment() -> dict[str, str]:
    """This process's environment without any QMOI, provider or debug setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_"))
    }


# --- the emulators ---------------------------------------------------------------------


@dataclass
class Emulators:
    airtel: str
    mpesa: str
    client: httpx.Client

    def url(self, provider: str) -> str:
        return self.airtel if provider == "airtel" else self.mpesa

    def faults(self, provider: str, **changes: object) -> dict[str, Any]:
        answer = self.client.put(f"{self.url(provider)}/sandbox/faults", json=changes)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def customers(self, provider: str, count: int, approve_rate: float, label: str) -> list[str]:
        answer = self.client.post(
            f"{self.url(provider)}/sandbox/customers",
            json={"count": count, "approve_rate": approve_rate, "label": label},
        )
        answer.raise_for_status()
        return list(answer.json()["msisdns"])

    def transactions(self, provider: str, kind: str = "") -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else {}
        answer = self.client.get(f"{self.url(provider)}/sandbox/transactions", params=params)
        answer.raise_for_status()
        return list(answer.json())


#: the providers' token lifetimes, in their own (simulated) seconds
TOKEN_TTL_S = {"airtel": 180, "mpesa": 3599}
#: the longest lifetime the emulators are given (Daraja's is believed up to 10 days)
MAX_TOKEN_TTL_S = 10 * 86_400


def real_token_ttl(provider: str, speed: float) -> int:
    """A token lifetime, in simulated seconds, that lasts as long in real seconds as the
    provider's does: QMOI times its tokens by the wall clock, so at speed 300 Airtel's 180
    simulated seconds would be 0.6 real ones — a push refused twice on a busy machine."""
    return min(int(TOKEN_TTL_S[provider] * speed), MAX_TOKEN_TTL_S)


@contextmanager
def emulators(
    *,
    api_url: str,
    speed: float,
    seed: int,
    customer_delay_s: tuple[float, float],
    airtel_config: Mapping[str, Any] | None = None,
    mpesa_config: Mapping[str, Any] | None = None,
) -> Iterator[Emulators]:
    """Both emulators on free loopback ports; Airtel posts its callbacks to ``api_url``.
    ``*_config`` override fields of each emulator's config (its credentials, say).

    M-Pesa: a payout fee as Daraja charges it, and no "same amount to the same customer
    within two minutes" refusal (each test customer pays several equal amounts).
    """
    airtel = AirtelSandboxConfig(
        seed=seed,
        speed=speed,
        customer_delay_s=customer_delay_s,
        callback_url=f"{api_url}/api/airtel/callback",
        callback_first_retry_s=5.0,
        **{"token_ttl_s": real_token_ttl("airtel", speed), **(airtel_config or {})},
    )
    mpesa = MpesaSandboxConfig(
        seed=seed + 1,
        speed=speed,
        customer_delay_s=customer_delay_s,
        result_delay_s=(1.0, 5.0),
        same_amount_window_s=0.0,
        key_bits=1024,
        **{"token_ttl_s": real_token_ttl("mpesa", speed), **(mpesa_config or {})},
    )
    with ExitStack() as stack, httpx.Client(timeout=10.0) as client:
        airtel_url = stack.enter_context(serve_in_thread(airtel_app(airtel)))
        mpesa_url = stack.enter_context(serve_in_thread(mpesa_app(mpesa)))
        yield Emulators(airtel_url, mpesa_url, client)


# --- QMOI's processes ------------------------------------------------------------------


@dataclass
class Qmoi:
    """The shared settings of one QMOI deployment (API and workers) under ``root``."""

    root: Path
    database_url: str
    emulators: Emulators
    api_port: int
    extra: Mapping[str, str] = field(default_factory=dict)
    master_key: str = field(default_factory=lambda: secrets.token_hex(TOKEN_BYTES))
    callback_token: str = field(default_factory=lambda: secrets.token_hex(TOKEN_BYTES))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    def env(self, log_dir: Path) -> dict[str, str]:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return {
            **clean_environment(),
            "AIRTEL_ENVIRONMENT": "sandbox",
            "MPESA_ENVIRONMENT": "sandbox",
            "AIRTEL_BASE_URL": self.emulators.airtel,
            "MPESA_BASE_URL": self.emulators.mpesa,
            "MPESA_CALLBACK_TOKEN": self.callback_token,
            "QMOI_MASTER_KEY": self.master_key,
            "QMOI_DATABASE_URL": self.database_url,
            "QMOI_PUBLIC_URL": self.api_url,
            "QMOI_VAR_DIR": str(self.var_dir),
            "QMOI_LOG_DIR": str(log_dir),
            **self.extra,
        }

    def run(
        self, *args: str, timeout: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A one-shot ``qmoi`` command (``db upgrade``, ``ledger verify``, …); ``stdin``
        answers its prompt (``secrets set``)."""
        return subprocess.run(  # noqa: S603 - our own qmoi, fixed arguments
            [QMOI, *args],
            cwd=self.root,
            env=self.env(self.root / "logs" / "cli"),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


class Process:
    """One ``qmoi`` subprocess; its output goes to ``<log_dir>/console.txt``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.args = args
        self.log_dir = Path(env["QMOI_LOG_DIR"])
        self.console = self.log_dir / "console.txt"
        self._read_to = 0  # how far new_events() has read qmoi.log
        with self.console.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - our own qmoi, fixed arguments
                [QMOI, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal is the test's to handle
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no finally, no flushing — a power cut for this process."""
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """The records of this process's JSON-lines log (``qmoi.log``; Airtel's events
        are copied to ``airtel_revenue.log`` as well, so that one is not read)."""
        path = self.log_dir / "qmoi.log"
        return _records(path.read_bytes() if path.exists() else b"")

    def new_events(self) -> list[dict[str, Any]]:
        """The records logged since the last call (whole lines only): a long run's logs
        are read once, not again on every look."""
        path = self.log_dir / "qmoi.log"
        try:
            with path.open("rb") as log:
                log.seek(self._read_to)
                chunk = log.read()
        except FileNotFoundError:
            return []
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self._read_to += len(whole)
        return _records(whole)


def _records(data: bytes) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for line in data.decode(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by SIGKILL
        if isinstance(record, dict):
            found.append(record)
    return found


class Processes:
    """Every QMOI process of one test; ``close()`` leaves none running."""

    def __init__(self, qmoi: Qmoi) -> None:
        self.qmoi = qmoi
        self.started: list[Process] = []

    def api(self, name: str = "api", port: int | None = None, *extra: str) -> Process:
        args = ["api", "--port", str(port or self.qmoi.api_port), *extra]
        return self._start(name, args)

    def worker(self, name: str, *extra: str) -> Process:
        return self._start(name, ["worker", *extra])

    def restart(self, process: Process) -> Process:
        """The same command again under the same name (after a kill); same log directory."""
        return self._start(process.name, process.args)

    def _start(self, name: str, args: list[str]) -> Process:
        env = self.qmoi.env(self.qmoi.root / "logs" / name)
        process = Process(name, args, env, self.qmoi.root)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.alive():
                process.popen.terminate()
        deadline = time.monotonic() + 10
        for process in self.started:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)


# --- waiting ---------------------------------------------------------------------------


def wait_until(
    check: Callable[[], bool], *, timeout_s: float, every_s: float = 0.2, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s waiting for {what or check}")
        time.sleep(every_s)


def wait_ready(client: httpx.Client, process: Process, url: str, timeout_s: float = 30.0) -> None:
    def ready() -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited early:\n{process.output()[-4000:]}")
        try:
            return client.get(f"{url}/readyz", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout_s=timeout_s, what=f"{process.name} at {url}")
