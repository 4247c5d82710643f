"""Alembic, driven from code: the migrations ship inside the package so that an
installed ``qmoi`` can upgrade its own database (``qmoi db upgrade``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from qmoi.db.engine import describe
from qmoi.errors import SchemaOutOfDate, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config_for_scripts())
    head = script.get_current_head()
    assert head is not None  # noqa: S101 - the package always ships a revision
    return head


def alembic_config_for_scripts() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreError(f"the database cannot be reached: {describe(exc)}") from exc


def pending_revisions(engine: Engine) -> list[str]:
    """The migrations the database does not have yet, oldest first."""
    script = ScriptDirectory.from_config(alembic_config_for_scripts())
    current = current_revision(engine)
    pending = script.iterate_revisions("heads", current or "base")
    return [r.revision for r in reversed(list(pending)) if r.revision != current]


def upgrade(
    engine: Engine, revision: str = "head", on_step: Callable[[str], None] | None = None
) -> tuple[str | None, str]:
    """Apply migrations up to ``revision`` one at a time (``on_step`` hears each one
    applied: a progress bar); returns (before, after)."""
    before = current_revision(engine)
    if revision == "head" and on_step is not None:
        for step in pending_revisions(engine):
            command.upgrade(alembic_config(engine), step)
            on_step(step)
    else:
        command.upgrade(alembic_config(engine), revision)
    return before, current_revision(engine) or ""


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the schema is at the code's head."""
    current = current_revision(engine)
    if current != head_revision():
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing'}, the code needs "
            f"{head_revision()} — run `qmoi db upgrade`"
        )


def health(engine: Engine) -> str:
    """``"ok"``, or one line saying why the database is not ready."""
    try:
        require_current(engine)
    except (StoreError, SQLAlchemyError) as exc:
        return exc.message if isinstance(exc, StoreError) else f"unreachable: {describe(exc)}"
    return "ok"
