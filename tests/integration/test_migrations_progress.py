"""``qmoi db upgrade`` applies the pending migrations one at a time, which is what its
progress bar counts; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from qmoi.db.engine import create_db_engine
from qmoi.db.migrate import head_revision, pending_revisions, upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    url = str(request.getfixturevalue("postgres_url"))
    engine = create_db_engine(url)
    with engine.begin() as conn:  # the fixture's database comes migrated: empty it
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_pending_migrations_are_applied_one_by_one_oldest_first(empty_url: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        pending = pending_revisions(engine)
        assert pending[0] == "0001"
        assert pending[-1] == head_revision()
        assert pending == sorted(pending)
        steps: list[str] = []
        before, after = upgrade(engine, on_step=steps.append)
        assert (before, after) == (None, head_revision())
        assert steps == pending
        assert pending_revisions(engine) == []
    finally:
        engine.dispose()
