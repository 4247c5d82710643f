"""Services over the in-memory store (``tests/fake_store.py``) and scripted providers
(``tests/fakes.py``), with a clock the test moves: the service rules in milliseconds."""

from __future__ import annotations

from dataclasses import replace

from qmoi.bootstrap import build_services
from qmoi.config import RawValues, build_settings
from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.collection import Collection
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.domain.transfer import Transfer
from qmoi.providers.base import PaymentProvider
from qmoi.services.collections import PaymentRequest, start_collections
from qmoi.services.context import Services
from qmoi.services.resolver import resolve_collections
from tests.fake_store import FakeStore
from tests.fakes import FakeProvider, succeeded

CUSTOMER = {"airtel": "254733000100", "mpesa": "254708000100"}


def kes(text: str) -> Money:
    return Money.parse(text)


def make_services(
    clock: ManualClock, *, providers: dict[str, PaymentProvider] | None = None, **settings: str
) -> Services:
    built, report = build_settings(RawValues(settings))
    assert built is not None, report.problems
    services = build_services(
        built,
        FakeStore(clock),
        clock,
        providers=providers or {"airtel": FakeProvider("airtel"), "mpesa": FakeProvider("mpesa")},
        channels={},
    )
    return replace(services, policy=replace(services.policy, sandbox=True))


def store(services: Services) -> FakeStore:
    assert isinstance(services.uows, FakeStore)
    return services.uows


def fake(services: Services, provider: str) -> FakeProvider:
    found = services.providers[provider]
    assert isinstance(found, FakeProvider)
    return found


async def ask(
    services: Services, provider: str, amount: str, stream: StreamKey = StreamKey.AIRTIME_SALES
) -> Collection:
    """A push to the customer, answered "pending" by the provider."""
    (made,) = await start_collections(
        services, provider, [PaymentRequest(CUSTOMER[provider], kes(amount), stream)], actor="test"
    )
    return made


async def pay(services: Services, provider: str, amount: str, receipt: str | None = None) -> str:
    """A customer asked and paying: the enquiry confirms it and it is booked."""
    made = await ask(services, provider, amount)
    fake(services, provider).statuses[made.reference] = succeeded(
        kes(amount), receipt=receipt or f"RCPT-{made.reference}"
    )
    due_now(services, made)
    await resolve_collections(services)
    return made.reference


def due_now(services: Services, collection: Collection) -> None:
    """Bring the collection's next enquiry to now."""
    with services.uows() as uow:
        current = uow.collections.by_reference(collection.reference)
        assert current is not None
        assert uow.collections.save(replace(current, next_check_at=uow.now), current.state)
        uow.commit()


def collection(services: Services, reference: str) -> Collection:
    with services.uows(read_only=True) as uow:
        found = uow.collections.by_reference(reference)
    assert found is not None
    return found


def transfer(services: Services, reference: str) -> Transfer:
    with services.uows(read_only=True) as uow:
        found = uow.transfers.by_reference(reference)
    assert found is not None
    return found


def balance(services: Services, account: str) -> Money:
    with services.uows(read_only=True) as uow:
        return uow.ledger.balance(account)


def wallet(services: Services, provider: str = "airtel") -> Money:
    return balance(services, accounts.wallet(provider))


def notices(services: Services) -> list[str]:
    """The kinds of the owner's notifications, oldest first."""
    return [note.kind for note, _ in store(services).state.notifications]


def actions(services: Services) -> list[str]:
    """Every audit action recorded, in order."""
    return [record.action for record in store(services).state.audit]


def entries(services: Services) -> list[str]:
    """The reference of every journal entry, in order."""
    return [str(e.entry.reference) for e in store(services).state.entries]
