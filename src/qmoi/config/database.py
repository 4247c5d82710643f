"""The database URL: SQLite by default, PostgreSQL through psycopg 3, and a password
never shown in any message."""

from __future__ import annotations

import re
from pathlib import Path

from qmoi.config.reader import Reader

_DB_URL = re.compile(r"^(?P<scheme>[a-z0-9+]+)://(?P<rest>.*)$")


def database_url(reader: Reader, var_dir: Path) -> str:
    """``QMOI_DATABASE_URL``, with PostgreSQL URLs given the psycopg 3 driver."""
    value = reader.text("QMOI_DATABASE_URL")
    if value is None:
        return f"sqlite:///{var_dir / 'qmoi.db'}"
    match = _DB_URL.match(value)
    if not match:
        reader.problem(
            "QMOI_DATABASE_URL",
            "is not a database URL",
            "use sqlite:///var/qmoi.db or postgresql://user@host:5432/qmoi",
        )
        return f"sqlite:///{var_dir / 'qmoi.db'}"
    scheme = match["scheme"]
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        fixed = f"postgresql+psycopg://{match['rest']}"
        reader.correct(
            "QMOI_DATABASE_URL", redact_database_url(value), redact_database_url(fixed), "driver"
        )
        return fixed
    if scheme not in ("sqlite", "postgresql+psycopg"):
        reader.problem(
            "QMOI_DATABASE_URL",
            f"{scheme} databases are not supported",
            "use sqlite:///path or postgresql://…",
        )
    return value


def redact_database_url(url: str) -> str:
    """Hide a password in a URL before it is shown anywhere."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
