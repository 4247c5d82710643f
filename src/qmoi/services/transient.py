"""Riding out a database that is briefly away (a restart, a failover): some writes must
not be given up on at the first refused connection, because what they record exists
nowhere else — a provider's answer naming a push, or a callback the provider will not
send again (Daraja tries once). The chaos run restarts PostgreSQL mid-traffic: without
this, pushes answered during the restart lost their CheckoutRequestID and their one
callback was refused, and the customers' money was never booked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import structlog

from qmoi.errors import StoreError

T = TypeVar("T")
log = structlog.get_logger("qmoi.services.transient")

#: how long a write keeps trying while the database is away (real seconds)
PATIENCE_S = 8.0


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


def with_patience(action: Callable[[], T], what: str, patience_s: float = PATIENCE_S) -> T:
    """Run ``action`` (a whole transaction); while the database is away, again, with a
    growing pause, for up to ``patience_s``. Anything else is raised at once."""
    deadline = time.monotonic() + patience_s
    pause = 0.1
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("store.retrying", what=what, error=type(exc).__name__)
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
