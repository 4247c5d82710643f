"""Consistent snapshots of the database, and restoring one into an empty database.

SQLite: the online backup API (a consistent copy while QMOI runs). PostgreSQL:
``pg_dump --format=custom`` (one snapshot transaction) and ``pg_restore``; both tools
must be installed (Debian's ``postgresql-client``). The bytes are sealed by the caller.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import inspect

from qmoi.db.engine import create_db_engine, parse_url
from qmoi.errors import ConfigError, StoreError


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries it (so it
    never shows in a process list)."""
    parsed = parse_url(url).set(drivername="postgresql")
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return parsed.set(password=None).render_as_string(hide_password=False), env


def backend_of(url: str) -> str:
    return "sqlite" if parse_url(url).drivername == "sqlite" else "postgresql"


def snapshot(url: str) -> bytes:
    """The whole database as bytes, consistent at one moment."""
    if backend_of(url) == "sqlite":
        source_path = parse_url(url).database or ""
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "snapshot.db"
            source = sqlite3.connect(source_path)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return copy.read_bytes()
    dsn, env = _libpq(url)
    return _run(["pg_dump", "--format=custom", "--no-owner", "--dbname", dsn], None, env)


def is_empty(url: str) -> bool:
    engine = create_db_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def restore(url: str, backend: str, data: bytes) -> None:
    """Load ``data`` into the database at ``url``, which must be empty."""
    if backend != backend_of(url):
        raise ConfigError(
            f"QMOI_DATABASE_URL: this backup is of a {backend} database — restore it into one"
        )
    if not is_empty(url):
        raise ConfigError(
            "QMOI_DATABASE_URL: the database is not empty — restore into a new, empty one "
            "(nothing is overwritten)"
        )
    if backend == "sqlite":
        target = Path(parse_url(url).database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # empty, as checked: SQLite created it on connect
        target.write_bytes(data)
        return
    dsn, env = _libpq(url)
    _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", dsn], data, env)


def _run(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> bytes:
    if shutil.which(argv[0]) is None:
        raise StoreError(f"{argv[0]} is not installed — install postgresql-client")
    done = subprocess.run(  # noqa: S603 - fixed tools, no shell
        argv, input=stdin, capture_output=True, check=False, env={**os.environ, **env}
    )
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise StoreError(f"{argv[0]} failed: {detail[0] if detail else done.returncode}")
    return done.stdout
