"""Shared fixtures: migrated SQLite and PostgreSQL databases (one fresh database per
test, cloned from a migrated template), a controllable clock and a signing key.

PostgreSQL tests run when ``QMOI_TEST_POSTGRES_URL`` is set and are skipped with that
reason otherwise; with ``QMOI_TEST_REQUIRE_POSTGRES=1`` (CI) a missing or unreachable
server fails them instead, and the session fails if no PostgreSQL test passed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from qmoi.db.engine import create_db_engine
from qmoi.db.migrate import upgrade
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain.clock import ManualClock
from qmoi.security.signing import Signer

PG_URL = os.environ.get("QMOI_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("QMOI_TEST_REQUIRE_POSTGRES") == "1"
PG_SKIP_REASON = (
    "QMOI_TEST_POSTGRES_URL is not set, so the PostgreSQL tests are skipped — set it, e.g. "
    "QMOI_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres, to run them"
)
NAIROBI_NOON = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    assert PG_URL is not None
    url = make_url(PG_URL).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def _pg_url_for(database: str) -> str:
    assert PG_URL is not None
    url = make_url(PG_URL).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def _require_pg() -> None:
    if PG_URL is None:
        if REQUIRE_PG:
            pytest.fail("QMOI_TEST_REQUIRE_POSTGRES=1 but QMOI_TEST_POSTGRES_URL is not set")
        pytest.skip(PG_SKIP_REASON)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest) -> Iterator[str]:
    _require_pg()
    # xdist's worker id when it runs, so parallel sessions never share a template
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    name = f"qmoi_tmpl_{worker}_{uuid.uuid4().hex[:8]}"
    try:
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if REQUIRE_PG:
            raise
        pytest.skip(f"PostgreSQL at QMOI_TEST_POSTGRES_URL is unreachable: {exc}")
    engine = create_db_engine(_pg_url_for(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "qmoi.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    name = f"qmoi_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url_for(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database on each backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NAIROBI_NOON)


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.load_or_create(tmp_path / "keys" / "signing.key")


@pytest.fixture
def uows(db_url: str, clock: ManualClock, signer: Signer) -> Iterator[UnitOfWorkFactory]:
    from zoneinfo import ZoneInfo

    engine = create_db_engine(db_url, pool_size=4)
    yield UnitOfWorkFactory(engine, clock, ZoneInfo("Africa/Nairobi"), signer)
    engine.dispose()


# --- CI guard: the PostgreSQL suite must really run ------------------------------------

_pg_outcomes = {"passed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.when == "call" and report.passed:
        _pg_outcomes["passed"] += 1
    elif report.skipped and not hasattr(report, "wasxfail"):
        _pg_outcomes["skipped"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE_PG or hasattr(session.config, "workerinput"):
        return
    if _pg_outcomes["passed"] == 0 or _pg_outcomes["skipped"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"QMOI_TEST_REQUIRE_POSTGRES=1 but {_pg_outcomes['passed']} PostgreSQL tests "
                f"passed and {_pg_outcomes['skipped']} were skipped",
                red=True,
            )


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A new PostgreSQL database with nothing in it (no migrations)."""
    _require_pg()
    name = f"qmoi_empty_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url_for(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
