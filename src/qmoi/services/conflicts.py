"""Two processes moving one record: the loser finds out, rolls back and tries again.

Records are saved with a compare-and-set on the state they were read in, so when a
callback and an enquiry race over one transfer or collection, one save wins and the
other raises :class:`ConcurrentUpdate`. :func:`retrying` runs the loser's step again
on what is stored now — by then the winner's move is what it sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qmoi.services.ports import UnitOfWork, UnitOfWorkFactory

R = TypeVar("R")
#: fresh transactions a step gets before the conflict is handed to the caller
TRIES = 3


class ConcurrentUpdate(Exception):
    """Another process moved this item first; roll back and reload."""


def retrying(
    uows: UnitOfWorkFactory, reference: str, step: Callable[[UnitOfWork], R], tries: int = TRIES
) -> R:
    """Run ``step`` in a fresh transaction and commit it; when another process moved
    ``reference`` first, roll back and run it again (``tries`` times in all)."""
    for _ in range(tries):
        with uows() as uow:
            try:
                result = step(uow)
            except ConcurrentUpdate:
                continue  # leaving the block rolls back
            uow.commit()
        return result
    raise ConcurrentUpdate(reference)
