"""Engines for SQLite (WAL, foreign keys, busy timeout, BEGIN IMMEDIATE for writers) and
PostgreSQL (psycopg 3, pooled, pre-pinged).

SQLite allows one writer at a time; taking the write lock when a writing transaction
begins (instead of at its first write) turns lock upgrades, which can deadlock, into
waiting, which the busy timeout bounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from qmoi.errors import ConfigError

READ_ONLY = "qmoi_read_only"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            "QMOI_DATABASE_URL: is not a database URL — use sqlite:///var/qmoi.db "
            "or postgresql://user@host:5432/qmoi"
        ) from exc
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise ConfigError(
            f"QMOI_DATABASE_URL: {parsed.drivername} is not supported — use sqlite or postgresql"
        )
    return parsed


def create_db_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine configured for QMOI's needs on either backend."""
    parsed = parse_url(url)
    if parsed.drivername == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        echo=echo,
        connect_args={"connect_timeout": 10, "application_name": "qmoi"},
    )


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, decide when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def describe(exc: BaseException) -> str:
    """A database error as one line, without the driver's multi-line detail."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
