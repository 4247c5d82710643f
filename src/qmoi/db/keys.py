"""API keys as stored: an id, a name, a role and a digest of the secret — never the
secret itself, which is shown once when the key is made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.services.records import StoredKey


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: StoredKey) -> None:
        self._session.execute(
            insert(t.api_keys).values(
                key_id=key.key_id,
                name=key.name,
                role=key.role,
                digest=key.digest,
                created_at=key.created_at,
                revoked_at=None,
            )
        )

    def get(self, key_id: str) -> StoredKey | None:
        row = self._session.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        return StoredKey(*row) if row else None

    def all(self) -> list[StoredKey]:
        rows = self._session.execute(select(t.api_keys).order_by(t.api_keys.c.created_at))
        return [StoredKey(*row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        """False when there is no such key or it was already revoked."""
        done = self._session.execute(
            update(t.api_keys)
            .where(t.api_keys.c.key_id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]
