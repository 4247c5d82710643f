"""A disabled provider is out of every service's reach: the policy holds only the
enabled ones, so the metrics leave it out and a short wallet never falls back to it."""

from __future__ import annotations

import pytest

from qmoi.domain.clock import ManualClock
from qmoi.domain.states import TransferState
from qmoi.providers.base import FailureReason
from qmoi.services.metrics import metrics
from qmoi.services.resolver import resolve_transfers
from qmoi.services.transfers import plan_auto_transfers
from tests.fakes import FakeProvider, failed
from tests.unit.services.support import fake, kes, make_services, pay, transfer, wallet

pytestmark = [pytest.mark.transfer]


async def test_a_short_wallet_never_falls_back_to_a_disabled_provider(
    clock: ManualClock,
) -> None:
    services = make_services(
        clock,
        providers={"airtel": FakeProvider("airtel")},
        MPESA_ENABLED="false",
        QMOI_TRANSFER_FALLBACK="true",
    )
    assert list(services.policy.providers) == ["airtel"]
    await pay(services, "airtel", "2000")
    fake(services, "airtel").payouts.append(failed(FailureReason.INSUFFICIENT_FUNDS))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    await resolve_transfers(services)
    assert transfer(services, chunk.reference).state is TransferState.FAILED
    with services.uows(read_only=True) as uow:
        assert uow.transfers.by_reference(chunk.reference + "-FB") is None
    assert wallet(services, "airtel") == kes("2000")  # released, nothing went anywhere


async def test_the_metrics_answer_has_no_key_for_a_disabled_provider(clock: ManualClock) -> None:
    services = make_services(
        clock, providers={"mpesa": FakeProvider("mpesa")}, AIRTEL_ENABLED="false"
    )
    await pay(services, "mpesa", "700")
    answer = metrics(services)
    assert set(answer) == {"mpesa", "combined", "accounts"}
    assert set(answer["accounts"]) == {"mpesa"}
    assert "airtel" not in answer["combined"]
    assert set(answer["combined"]["byCurrency"]) == {"KES"}
    assert answer["combined"]["mpesa"] == 700
    assert answer["combined"]["combined"] == 700
