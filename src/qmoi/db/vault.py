"""The credential vault as stored: names, the id of the key that sealed each value, and
the sealed bytes — never a clear value (sealing happens in :mod:`qmoi.security.vault`).

``read_sealed`` reads the vault before QMOI's settings exist (a provider secret may be
among them), without creating a database that is not there yet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, delete, insert, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.engine import create_db_engine, describe, parse_url
from qmoi.errors import StoreError
from qmoi.services.records import StoredSecret

V = t.vault_secrets


def _stored(row: Row[Any]) -> StoredSecret:
    return StoredSecret(row.name, row.key_id, bytes(row.sealed), row.updated_at)


class VaultRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def put(self, name: str, key_id: str, sealed: bytes, at: datetime) -> None:
        values = {"key_id": key_id, "sealed": sealed, "updated_at": at}
        done = self._session.execute(update(V).where(V.c.name == name).values(**values))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            self._session.execute(insert(V).values(name=name, **values))

    def remove(self, name: str) -> bool:
        done = self._session.execute(delete(V).where(V.c.name == name))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def all(self, *, for_update: bool = False) -> list[StoredSecret]:
        query = select(V).order_by(V.c.name)
        if for_update:
            query = query.with_for_update()
        return [_stored(row) for row in self._session.execute(query)]


def read_sealed(url: str) -> list[StoredSecret]:
    """Every sealed secret; none when the database or its vault does not exist yet."""
    parsed = parse_url(url)
    if parsed.drivername == "sqlite" and not Path(parsed.database or "").is_file():
        return []
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(V.name):
                return []
            return [_stored(row) for row in connection.execute(select(V).order_by(V.c.name))]
    except SQLAlchemyError as exc:
        raise StoreError(f"the database cannot be reached: {describe(exc)}") from None
    finally:
        engine.dispose()
