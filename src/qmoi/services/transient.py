"""Riding out a database that is briefly away (a restart, a failover): some writes must
not be given up on at the first refused connection, because what they record exists
nowhere else — a provider's answer naming a push, or a callback the provider will not
send again (Daraja tries once). The chaos run restarts PostgreSQL mid-traffic: without
this, pushes answered during the restart lost their CheckoutRequestID and their one
callback was refused, and the customers' money was never booked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_exponential,
)

from qmoi.errors import StoreError

T = TypeVar("T")
log = structlog.get_logger("qmoi.services.transient")

#: how long a write keeps trying while the database is away (real seconds)
PATIENCE_S = 8.0
#: the pauses between tries double from the first to the longest (real seconds)
FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.1, 1.0


def is_transient(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (not: it refused the
    data). Told by name: only ``qmoi.db`` imports SQLAlchemy."""
    if isinstance(exc, StoreError):
        return True
    for kind in type(exc).__mro__:
        if kind.__module__.startswith(("sqlalchemy", "psycopg")) and kind.__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            return True
    return False


def _policy(what: str, patience_s: float) -> dict[str, Any]:
    def warn(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("store.retrying", what=what, error=type(error).__name__)

    return {
        "retry": retry_if_exception(is_transient),
        "stop": stop_before_delay(patience_s),
        "wait": wait_exponential(multiplier=FIRST_PAUSE_S, max=LONGEST_PAUSE_S),
        "before_sleep": warn,
        "reraise": True,
    }


def with_patience(action: Callable[[], T], what: str, patience_s: float = PATIENCE_S) -> T:
    """Run ``action`` (a whole transaction); while the database is away, again, with a
    growing pause, for up to ``patience_s``. Anything else is raised at once. Sleeps in
    this thread: for a worker thread (the callback intake); on an event loop use
    :func:`patiently`."""
    return Retrying(**_policy(what, patience_s))(action)


async def patiently(action: Callable[[], T], what: str, patience_s: float = PATIENCE_S) -> T:
    """:func:`with_patience` for a caller on an event loop: the pauses are awaited, so an
    API process keeps answering other requests while the database is away."""
    async for attempt in AsyncRetrying(**_policy(what, patience_s)):
        with attempt:
            return action()
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True raises
