"""Starting, watching and stopping the processes a bench run needs.

Every process is started in its own session (process group) and remembered, so that
:func:`stop_all` — called on every way out of the bench — ends each one by its id and
nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QMOI = str(BIN / "qmoi")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    cpu_at_start: float = field(default=0.0)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_running: list[Proc] = []


def start(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path, *, port: int | None = None
) -> Proc:
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        argv,
        env=env,
        cwd=log_dir,  # never the repository: no stray .env is read
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    handle.close()
    proc = Proc(name, popen, log, port)
    _running.append(proc)
    return proc


def wait_http(proc: Proc, path: str = "/healthz", timeout: float = 60.0) -> None:
    """Wait until ``proc`` answers 200 on ``path``; raise with its log if it died."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{proc.port}{path}"
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{proc.tail()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def postgres_cpu_seconds(database: str) -> dict[int, float]:
    """CPU time so far, by process id, of the PostgreSQL backends serving ``database``
    and of the server's own processes (checkpointer, WAL writer, autovacuum…) — not of
    other databases' backends. Compare two readings process by process: a backend that
    exits in between takes its share with it."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        client = "(" in title or "[local]" in title
        if not client or f" {database} " in title:
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / ticks, total / ticks


def busy_fraction(seconds: float) -> float:
    """How busy the machine is over the next ``seconds`` (0..1 of all cores)."""
    busy0, total0 = machine_cpu()
    time.sleep(seconds)
    busy1, total1 = machine_cpu()
    return (busy1 - busy0) / max(total1 - total0, 1e-9)


def emulators_cpu_seconds() -> float:
    """CPU time so far of the emulator processes the bench started."""
    return sum(cpu_seconds(p.pid) for p in _running if p.name.startswith("sandbox-"))


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the process's resident memory (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return float(psutil.Process(pid).memory_info().rss) / 2**20
        except psutil.Error:
            return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop(proc: Proc, timeout: float = 15.0) -> int | None:
    """SIGTERM (uvicorn shuts down cleanly), then SIGKILL of its group if it hangs."""
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=timeout)
    if proc in _running:
        _running.remove(proc)
    return proc.popen.returncode


def stop_all() -> None:
    for proc in list(reversed(_running)):
        stop(proc)


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> tuple[int, str]:
    """Run a command to its end; (exit code, combined output)."""
    done = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def python_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment for bench children: this interpreter's, the repository on the
    path (for ``bench.*``), nothing from a developer's QMOI_*/AIRTEL_*/MPESA_* shell."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_AIRTEL"))
    }
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env
