"""A private PostgreSQL server for one chaos run, so that the run can restart it.

The server others use (tests, benchmarks) is never touched: this one is ``initdb``-ed into
the run's own directory, listens on a free loopback port with its Unix socket inside that
directory, and is stopped and deleted at the end. It needs the PostgreSQL server binaries
(``initdb``, ``pg_ctl``: found with ``pg_config --bindir``, under
``/usr/lib/postgresql/*/bin`` or on ``PATH``). ``initdb`` refuses to run as root, so as
root every server command runs as the ``postgres`` user (``runuser -u postgres --``),
which then owns the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

SERVER_USER = "postgres"


class ClusterUnavailable(RuntimeError):
    """The server binaries (or, as root, the ``postgres`` user) are missing."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are; :class:`ClusterUnavailable` if nowhere."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603 - a fixed query of pg_config
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise ClusterUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the server "
        "package (e.g. apt-get install postgresql) or put its bin directory on PATH"
    )


@dataclass
class PrivateCluster:
    """One throw-away PostgreSQL server: ``start()``, ``restart()``, ``stop()``."""

    root: Path
    port: int
    bindir: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ClusterUnavailable("running as root needs runuser to run initdb as postgres")
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise ClusterUnavailable(f"running as root needs a {SERVER_USER!r} user") from None
        return [runuser, "-u", SERVER_USER, "--", *argv]

    def _run(self, *argv: str, timeout: float = 120.0) -> None:
        command = self._as_server_user([str(self.bindir / argv[0]), *argv[1:]])
        done = subprocess.run(  # noqa: S603 - the server's own tools, fixed arguments
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}"[-2000:])

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SERVER_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        settings = (
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\nmax_connections = 200\n"
            "fsync = on\nshared_buffers = 64MB\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", *extra)

    def start(self) -> None:
        self._ctl("start")
        self.wait_ready()

    def restart(self, mode: str = "fast") -> float:
        """Stop (``fast``: every session ended, as an operator's restart does) and start
        again; returns the real seconds the server was away."""
        began = time.monotonic()
        self._ctl("restart", "-m", mode)
        self.wait_ready()
        return time.monotonic() - began

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            self._ctl("stop", "-m", "fast")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        dsn = f"host=127.0.0.1 port={self.port} user={SERVER_USER} dbname=postgres"
        while True:
            try:
                with psycopg.connect(dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        dsn = f"host=127.0.0.1 port={self.port} user={SERVER_USER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
