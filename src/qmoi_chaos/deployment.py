"""QMOI deployed for a chaos run: the database (a private PostgreSQL server, a given
database or SQLite), the shared accelerated clock, both emulators as processes of their
own, the balancer in front of the API processes, and the workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from qmoi_chaos.balancer import balancer
from qmoi_chaos.config import CALLBACK_KEY, SIM_START, ChaosConfig
from qmoi_chaos.postgres import PrivateCluster, find_bindir
from qmoi_chaos.processes import (
    Emulators,
    Process,
    Processes,
    Qmoi,
    real_token_ttl,
    wait_ready,
    wait_until,
)
from qmoi_sandbox.common.server import free_port


@dataclass
class Deployment:
    config: ChaosConfig
    root: Path
    qmoi: Qmoi
    processes: Processes
    emu: Emulators
    database_url: str
    cluster: PrivateCluster | None
    api_ports: list[int]
    clock_file: Path
    live: dict[str, Process] = field(default_factory=dict)

    def start_api(self, index: int) -> Process:
        extra = ["--sandbox-clock", str(self.clock_file)]
        if self.config.sqlite:
            extra.append("--with-worker")
        process = self.processes.api(f"api-{index}", self.api_ports[index], *extra)
        self.live[process.name] = process
        return process

    def start_worker(self, index: int) -> Process:
        process = self.processes.worker(f"worker-{index}", "--sandbox-clock", str(self.clock_file))
        self.live[process.name] = process
        return process

    def restart(self, process: Process) -> Process:
        again = self.processes.restart(process)
        self.live[again.name] = again
        return again


def _write_clock(path: Path, speed: float) -> None:
    """The shared clock: at wall time ``origin`` it stood at ``SIM_START``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"start": SIM_START.isoformat(), "speed": speed, "origin": time.time()})
    )


def _clock_origin(path: Path) -> float:
    return float(json.loads(path.read_text())["origin"])


@contextmanager
def _emulators(
    root: Path, config: ChaosConfig, clock_file: Path, public_url: str
) -> Iterator[Emulators]:
    """Both emulators as processes of their own, on the shared clock."""
    speed = config.speed
    origin = _clock_origin(clock_file)
    common = {
        "seed": config.seed,
        "speed": speed,
        "start": SIM_START.isoformat(),
        "origin": origin,
        "customer_delay_s": [5.0, 30.0],
    }
    specs = {
        "airtel": {
            **common,
            "callback_url": f"{public_url}/api/airtel/callback",
            "callback_auth": config.airtel_hash,
            "callback_key": CALLBACK_KEY,
            "token_ttl_s": real_token_ttl("airtel", speed),
            "callback_first_retry_s": 30.0,
        },
        "mpesa": {
            **common,
            "seed": config.seed + 1,
            "result_delay_s": [1.0, 5.0],
            "same_amount_window_s": 0.0,
            "key_bits": 1024,
            "token_ttl_s": real_token_ttl("mpesa", speed),
        },
    }
    started: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for provider, spec in specs.items():
            port = free_port()
            spec_file = root / f"{provider}-emulator.json"
            spec_file.write_text(json.dumps(spec))
            log = (root / "logs" / f"{provider}-emulator.txt").open("ab")
            started.append(
                subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                    [sys.executable, "-m", "qmoi_chaos.emulator", provider, str(port), spec_file],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            log.close()
            urls[provider] = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30.0) as client:
            for provider, url in urls.items():

                def up(url: str = url) -> bool:
                    try:
                        return client.get(f"{url}/sandbox/health").status_code == 200
                    except httpx.TransportError:
                        return False

                wait_until(up, timeout_s=60, what=f"the {provider} emulator")
            yield Emulators(urls["airtel"], urls["mpesa"], client)
    finally:
        for popen in started:
            if popen.poll() is None:
                popen.terminate()
        for popen in started:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=10)


def _started(process: Process) -> bool:
    return "QMOI worker" in process.output() or not process.alive()


@contextmanager
def deployment(config: ChaosConfig, root: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        cluster: PrivateCluster | None = None
        if config.sqlite:
            database_url = f"sqlite:///{root / 'qmoi.db'}"
        elif config.database_url is not None:
            database_url = config.database_url
        else:
            # its own directory under the system temp dir: the server runs as postgres
            # and must reach it, which a root-only run directory would not allow
            pg_root = Path(tempfile.mkdtemp(prefix="qmoi-chaos-pg-"))
            os.chmod(pg_root, 0o755)  # noqa: S103 - entered by the postgres user
            cluster = PrivateCluster(pg_root, free_port(), find_bindir())
            stack.callback(cluster.remove)
            cluster.init()
            cluster.start()
            database_url = cluster.create_database("qmoi")
        clock_file = root / "var" / "sandbox_clock.json"
        _write_clock(clock_file, config.speed)
        apis = 1 if config.sqlite else config.apis
        api_ports = [free_port() for _ in range(apis)]
        lb = stack.enter_context(balancer(api_ports))
        public_url = f"http://127.0.0.1:{lb.port}"
        emu = stack.enter_context(_emulators(root, config, clock_file, public_url))
        chunk_kes = str(config.chunk_minor // 100)
        airtel_auth = (
            {"AIRTEL_CALLBACK_AUTH": "true", "AIRTEL_CALLBACK_SECRET": CALLBACK_KEY}
            if config.airtel_hash
            else {"AIRTEL_CALLBACK_AUTH": "false"}
        )
        qmoi = Qmoi(
            root,
            database_url,
            emu,
            lb.port,
            extra={
                "QMOI_AUTO_TRANSFER_AIRTEL": chunk_kes,
                "QMOI_AUTO_TRANSFER_MPESA": chunk_kes,
                **airtel_auth,
            },
        )
        upgrade = qmoi.run("db", "upgrade", timeout=180)
        if upgrade.returncode != 0:
            raise RuntimeError(f"qmoi db upgrade failed: {upgrade.stdout}{upgrade.stderr}")
        processes = Processes(qmoi)
        stack.callback(processes.close)
        d = Deployment(
            config, root, qmoi, processes, emu, database_url, cluster, api_ports, clock_file
        )
        for index in range(apis):
            d.start_api(index)
        for index in range(0 if config.sqlite else config.workers):
            d.start_worker(index)
        with httpx.Client(timeout=10.0) as client:
            for index, port in enumerate(api_ports):
                wait_ready(client, d.live[f"api-{index}"], f"http://127.0.0.1:{port}", 60)
        for name, process in d.live.items():
            if name.startswith("worker"):
                wait_until(partial(_started, process), timeout_s=60, what=f"{name} to start")
        yield d
