"""The unit of work: one database transaction, the repositories that share it, and the
time it runs at. Leaving the block without ``commit()`` rolls everything back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from types import TracebackType
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from qmoi.db.collections import CollectionRepository
from qmoi.db.coordination import DeliveryLog, IdempotencyKeys, JobSlots, NotificationOutbox
from qmoi.db.engine import READ_ONLY, describe
from qmoi.db.inbox import InboxRepository
from qmoi.db.keys import ApiKeyRepository
from qmoi.db.observed import ObservedRepository
from qmoi.db.queries import HistoryQuery
from qmoi.db.repositories import (
    AccountDirectory,
    AuditRepository,
    LedgerRepository,
    MerchantAccountRepository,
    MetaRepository,
)
from qmoi.db.totals import RevenueTotalsRepository
from qmoi.db.transfers import TransferRepository
from qmoi.db.vault import VaultRepository
from qmoi.domain.audit import AuditSigner
from qmoi.domain.clock import Clock
from qmoi.errors import StoreError


class SqlUnitOfWork(AbstractContextManager["SqlUnitOfWork"]):
    """``with uow_factory() as uow: …; uow.commit()``."""

    ledger: LedgerRepository
    audit: AuditRepository
    meta: MetaRepository
    merchant_accounts: MerchantAccountRepository
    collections: CollectionRepository
    transfers: TransferRepository
    inbox: InboxRepository
    totals: RevenueTotalsRepository
    slots: JobSlots
    vault: VaultRepository
    notifications: NotificationOutbox
    idempotency: IdempotencyKeys
    session: Session
    now: datetime

    def __init__(self, factory: UnitOfWorkFactory, *, read_only: bool) -> None:
        self._factory = factory
        self._read_only = read_only

    def __enter__(self) -> SqlUnitOfWork:
        factory = self._factory
        bind = factory.engine
        if self._read_only:
            bind = bind.execution_options(**{READ_ONLY: True})
        self.session = Session(bind=bind, expire_on_commit=False, autoflush=False)
        self.now = factory.clock.now()
        self.ledger = LedgerRepository(self.session, factory.accounts, factory.tz, self.now)
        self.audit = AuditRepository(self.session, factory.signer)
        self.meta = MetaRepository(self.session)
        self.merchant_accounts = MerchantAccountRepository(self.session)
        self.collections = CollectionRepository(self.session)
        self.transfers = TransferRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.totals = RevenueTotalsRepository(self.session)
        self.slots = JobSlots(self.session)
        self.notifications = NotificationOutbox(self.session)
        self.idempotency = IdempotencyKeys(self.session)
        self.observed = ObservedRepository(self.session)
        self.deliveries = DeliveryLog(self.session)
        self.keys = ApiKeyRepository(self.session)
        self.vault = VaultRepository(self.session)
        self.history = HistoryQuery(self.session)
        return self

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what the block did."""
        try:
            with self.session.begin_nested():
                yield
        except BaseException:
            # accounts the block created are gone with it: forget their ids, lest the
            # commit cache ids that no longer exist (the directory reads them again)
            self._factory.accounts.rolled_back(self.session)
            raise

    def commit(self) -> None:
        try:
            self.session.commit()
        except OperationalError as exc:
            self.rollback()
            raise StoreError(f"the database refused the commit: {describe(exc)}") from exc
        self._factory.accounts.committed(self.session)

    def rollback(self) -> None:
        self.session.rollback()
        self._factory.accounts.rolled_back(self.session)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()


class UnitOfWorkFactory:
    """Builds units of work over one engine; holds the process-wide account id cache."""

    def __init__(
        self, engine: Engine, clock: Clock, tz: ZoneInfo, signer: AuditSigner | None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tz = tz
        self.signer = signer
        self.accounts = AccountDirectory()

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self, read_only=read_only)
