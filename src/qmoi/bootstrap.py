"""The one place that wires settings, engine, clock, signing key and units of work into a
container. Importing this module does nothing; ``build()`` does it, when asked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from qmoi.config import Settings
from qmoi.db.engine import create_db_engine
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain.clock import Clock, SystemClock
from qmoi.security.signing import Signer


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    signer: Signer
    uow: UnitOfWorkFactory

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings, *, clock: Clock | None = None, pool_size: int = 10) -> Container:
    clock = clock or SystemClock()
    engine = create_db_engine(settings.database_url, pool_size=pool_size)
    signer = Signer.load_or_create(settings.signing_key_file)
    uow = UnitOfWorkFactory(engine, clock, settings.timezone, signer)
    return Container(settings, engine, clock, signer, uow)
