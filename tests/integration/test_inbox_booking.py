"""The inbox books a busy batch of callbacks in bulk: the same books, the same audit
trail and the same exactly-once answers as one callback at a time — duplicates, a
mismatched amount, a failure and a concurrent change included — on SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmoi.bootstrap import build_services
from qmoi.config import RawValues, build_settings
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.collection import Collection
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import CallbackEvent, CallbackKind, FailureReason, ProviderStatus
from qmoi.security.signing import Signer
from qmoi.services import callbacks
from qmoi.services.booking import ConcurrentUpdate, book_many
from qmoi.services.bookkeeping import verify_audit, verify_ledger
from qmoi.services.callbacks import encode, process_inbox
from qmoi.services.collections import PaymentRequest, record_status, start_collections
from qmoi.services.context import Services
from qmoi.services.resolver import resolve_collections
from tests.fakes import PENDING, FakeProvider, failed, succeeded

pytestmark = [pytest.mark.revenue]

NUMBER = "254733000100"


@pytest.fixture
def services(uows: UnitOfWorkFactory, clock: ManualClock) -> Services:
    return services_over(uows, clock)


def services_over(uows: UnitOfWorkFactory, clock: ManualClock) -> Services:
    built, report = build_settings(RawValues({"QMOI_AUTO_TRANSFER_ENABLED": "false"}))
    assert built is not None, report.problems
    services = build_services(
        built,
        uows,
        clock,
        providers={"airtel": FakeProvider("airtel"), "mpesa": FakeProvider("mpesa")},
        channels={},
    )
    return replace(services, policy=replace(services.policy, sandbox=True))


async def ask(services: Services, *amounts: int) -> list[Collection]:
    streams = list(StreamKey)
    requests = [
        PaymentRequest(NUMBER, Money(kes * 100, "KES"), streams[i % len(streams)])
        for i, kes in enumerate(amounts)
    ]
    return await start_collections(services, "airtel", requests, actor="test")


def deliver(services: Services, *events: tuple[str, Collection, ProviderStatus]) -> None:
    """Store callbacks as the API does: (event id, collection, what it says), each with
    a verified Airtel hash."""
    with services.uows() as uow:
        for event_id, collection, status in events:
            event = CallbackEvent(
                "airtel", CallbackKind.COLLECTION, event_id, collection.reference, status,
                authenticated=True,
            )  # fmt: skip
            uow.inbox.add("airtel", event.kind.value, event_id, encode(event), uow.now)
        uow.commit()


def paid(collection: Collection, receipt: str, kes: int | None = None) -> ProviderStatus:
    amount = collection.amount if kes is None else Money(kes * 100, "KES")
    return succeeded(amount, receipt=receipt)


def drain(services: Services) -> None:
    while process_inbox(services):
        pass


async def test_a_mixed_batch_books_each_payment_once_and_the_rest_one_by_one(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk: list[list[str]] = []

    def spy(uow: Any, policy: Any, successes: list[Any], **kw: Any) -> Any:
        bulk.append([c.reference for c, _ in successes])
        return book_many(uow, policy, successes, **kw)

    monkeypatch.setattr(callbacks, "book_many", spy)
    a, b, c, d, e = await ask(services, 100, 250, 75, 300, 40)
    deliver(
        services,
        ("ev-a", a, paid(a, "R-A")),
        ("ev-b", b, paid(b, "R-B")),
        ("ev-a-again", a, paid(a, "R-A")),  # the provider reports it twice
        ("ev-c", c, paid(c, "R-C", kes=70)),  # less than asked: suspense
        ("ev-d", d, failed(FailureReason.CANCELLED)),
        ("ev-e", e, paid(e, "R-E")),
    )
    drain(services)
    # the plain successes went in bulk; the repeat, the short payment and the failure not
    assert bulk == [[a.reference, b.reference, e.reference]]
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) == Money(
            100 * (100 + 250 + 70 + 40), "KES"
        )
        assert uow.ledger.balance(accounts.SUSPENSE) == Money(-7000, "KES")
        states = {x.reference: uow.collections.by_reference(x.reference) for x in (a, b, c, d, e)}
        assert sum(uow.totals.by_stream(services.policy.day(uow.now), "airtel").values()) == 39000
        assert uow.inbox.counts() == {"processed": 6}
    assert {r: s.state for r, s in states.items() if s} == {
        a.reference: CollectionState.SUCCEEDED,
        b.reference: CollectionState.SUCCEEDED,
        c.reference: CollectionState.SUCCEEDED,
        d.reference: CollectionState.FAILED,
        e.reference: CollectionState.SUCCEEDED,
    }
    assert verify_ledger(services.uows) == []


async def test_a_collection_moved_by_another_process_rolls_the_whole_batch_back(
    services: Services,
) -> None:
    a, b = await ask(services, 100, 200)
    with services.uows() as uow:  # another process booked b meanwhile (a stale copy here)
        uow.collections.save(replace(b, state=CollectionState.FAILED), b.state)
        uow.commit()
    with services.uows() as uow:
        records = uow.audit.count()
        with pytest.raises(ConcurrentUpdate), uow.savepoint():
            book_many(uow, services.policy, [(a, paid(a, "R-A")), (b, paid(b, "R-B"))], source="t")
        assert uow.ledger.entry_count() == 0
        assert uow.audit.count() == records
        uow.commit()
    deliver(services, ("ev-a", a, paid(a, "R-A")), ("ev-b", b, paid(b, "R-B")))
    drain(services)  # the batch falls back to one by one: a booked; b, failed, asked again
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) == Money(10000, "KES")
        assert uow.ledger.balance(accounts.SUSPENSE) == Money(0, "KES")
        again = uow.collections.by_reference(b.reference)
        assert again is not None
        assert again.state is CollectionState.FAILED
        assert again.next_check_at == uow.now  # the provider is asked about it now


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(st.integers(1, 5000), st.integers(0, 3), st.booleans()), min_size=1, max_size=25
    ),
    batch=st.integers(1, 30),
)
async def test_bulk_booking_keeps_the_books_whatever_the_batch(
    services: Services, plan: list[tuple[int, int, bool]], batch: int
) -> None:
    """Each collection paid once, reported 0-3 extra times, some declined: the wallet
    holds exactly the paid amounts, whatever the batch size splits them into."""
    collections = await ask(services, *(kes for kes, _, _ in plan))
    events = []
    expected = 0
    for (kes, repeats, approves), c in zip(plan, collections, strict=True):
        status = paid(c, f"R-{c.reference}") if approves else failed(FailureReason.CANCELLED)
        expected += kes * 100 if approves else 0
        events += [(f"ev-{c.reference}-{k}", c, status) for k in range(1 + repeats)]
    deliver(services, *events)
    with services.uows(read_only=True) as uow:
        before = uow.ledger.balance(accounts.wallet("airtel"))
    while process_inbox(services, limit=batch):
        pass
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) - before == Money(expected, "KES")
        assert uow.inbox.counts().get("received", 0) == 0
    assert verify_ledger(services.uows) == []


async def test_batches_of_every_size_reuse_the_same_compiled_statements(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (soak): every process grew by hundreds of MB in 10 minutes of
    callbacks, because the bulk update of collections took a new shape for each batch
    size and each was compiled and kept in SQLAlchemy's statement cache. Batches of 2 to
    8 payments must leave that cache as the first ones did."""
    cache: dict[Any, Any] = {}
    cached = uows.engine.execution_options(compiled_cache=cache)
    services = services_over(UnitOfWorkFactory(cached, clock, uows.tz, uows.signer), clock)
    collections = await ask(services, *range(10, 10 + sum(range(2, 9))))
    start = 0
    grown = []
    for size in range(2, 9):
        batch = collections[start : start + size]
        start += size
        with services.uows() as uow:
            successes = [(c, paid(c, f"R-{c.reference}")) for c in batch]
            book_many(uow, services.policy, successes, source="t")
            uow.commit()
        grown.append(len(cache))
    assert grown[-1] == grown[1], f"compiled statements after each batch: {grown}"
    with services.uows(read_only=True) as uow:
        wallet = uow.ledger.balance(accounts.wallet("airtel"))
    assert wallet == Money(sum(c.amount.minor for c in collections), "KES")


async def test_the_audit_chain_verifies_after_bulk_booking(
    services: Services, signer: Signer
) -> None:
    collections = await ask(services, *range(10, 60, 5))
    deliver(
        services, *((f"ev-{c.reference}", c, paid(c, f"R-{i}")) for i, c in enumerate(collections))
    )
    drain(services)
    verdict = verify_audit(services.uows, signer.verifier())
    assert verdict.ok, verdict.broken
    with services.uows(read_only=True) as uow:
        actions = [r.action for r in uow.audit.records()]
    assert actions.count("ledger.collection") == len(collections)


async def test_a_success_hint_overtaking_its_pushs_answer_is_booked_by_the_enquiry(
    services: Services,
) -> None:
    """Regression (chaos run): a callback naming a push by the provider's id arrived
    before the push's answer — that id — was recorded, and the paid push later expired.
    An M-Pesa callback is only a hint: it names nothing of ours yet and changes
    nothing; the answer names the push and the enquiry books it, once."""
    mpesa = services.providers["mpesa"]
    assert isinstance(mpesa, FakeProvider)
    (sent,) = await start_collections(
        services,
        "mpesa",
        [PaymentRequest("254708000100", Money(77_700, "KES"), StreamKey.DATA_PACKAGES)],
        actor="test",
    )
    with services.uows() as uow:  # the push has gone out; its answer is not recorded yet
        uow.collections.save(
            replace(sent, state=CollectionState.REQUESTED, provider_request_id=None), sent.state
        )
        uow.commit()
    push_id = "ws_CO_overtaken"
    event = CallbackEvent(
        "mpesa", CallbackKind.COLLECTION, f"stk:{push_id}", push_id,
        replace(succeeded(sent.amount, receipt="ULRACE0001"), msisdn=sent.msisdn),
    )  # fmt: skip
    with services.uows() as uow:
        uow.inbox.add("mpesa", event.kind.value, event.event_id, encode(event), uow.now)
        uow.commit()
    drain(services)
    with services.uows(read_only=True) as uow:
        assert uow.ledger.entry_count() == 0
        assert uow.inbox.counts() == {"rejected": 1}  # it named nothing that could be asked
    await record_status(services, sent, PENDING, "collect", request_id=push_id)  # the answer
    mpesa.statuses[sent.reference] = succeeded(sent.amount, receipt=None)  # the STK query
    with services.uows() as uow:
        current = uow.collections.by_reference(sent.reference)
        assert current is not None
        uow.collections.save(replace(current, next_check_at=uow.now), current.state)
        uow.commit()
    await resolve_collections(services)
    await resolve_collections(services)
    with services.uows(read_only=True) as uow:
        booked = uow.collections.by_reference(sent.reference)
        assert booked is not None
        assert booked.state is CollectionState.SUCCEEDED
        assert uow.ledger.balance(accounts.wallet("mpesa")) == sent.amount
        assert uow.ledger.entry_count() == 1


async def test_one_batch_of_two_accounts_in_two_currencies_is_booked_in_bulk_per_currency(
    uows: UnitOfWorkFactory, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger posts a batch in one currency: callbacks of a KES and a UGX account
    arriving together are booked in two bulk batches, never the slow path for all."""
    two = (
        {"id": "airtel-ke", "provider": "airtel", "default": True},
        {"id": "airtel-ug", "provider": "airtel", "country": "UG", "phoneNumber": "0753000100"},
    )
    built, report = build_settings(RawValues({"QMOI_AUTO_TRANSFER": "false"}, accounts=two))
    assert built is not None, report.problems
    services = build_services(
        built,
        uows,
        clock,
        providers={a["id"]: FakeProvider("airtel") for a in two},
        channels={},
    )
    bulk: list[list[str]] = []

    def spy(uow: Any, policy: Any, successes: list[Any], **kw: Any) -> Any:
        bulk.append([c.amount.currency for c, _ in successes])
        return book_many(uow, policy, successes, **kw)

    monkeypatch.setattr(callbacks, "book_many", spy)
    (ke,) = await start_collections(
        services,
        "airtel-ke",
        [PaymentRequest(NUMBER, Money(50_000, "KES"), StreamKey.AIRTIME_SALES)],
        actor="test",
    )
    ug_number = "256753000100"
    ug = await start_collections(
        services,
        "airtel-ug",
        [
            PaymentRequest(ug_number, Money(n, "UGX"), StreamKey.DATA_PACKAGES)
            for n in (30_000, 45_000)
        ],
        actor="test",
    )
    with services.uows() as uow:
        for account, collection, receipt in (
            ("airtel-ke", ke, "R-KE"),
            ("airtel-ug", ug[0], "R-UG-1"),
            ("airtel-ug", ug[1], "R-UG-2"),
        ):
            event = CallbackEvent(
                "airtel", CallbackKind.COLLECTION, f"ev-{receipt}", collection.reference,
                succeeded(collection.amount, receipt=receipt), authenticated=True,
            )  # fmt: skip
            uow.inbox.add(account, event.kind.value, event.event_id, encode(event), uow.now)
        uow.commit()
    drain(services)
    assert sorted(bulk) == [["KES"], ["UGX", "UGX"]]
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel-ke"), "KES") == Money(50_000, "KES")
        assert uow.ledger.balance(accounts.wallet("airtel-ug"), "UGX") == Money(75_000, "UGX")
        assert uow.inbox.counts() == {"processed": 3}
    assert verify_ledger(uows) == []
