"""A provider built to the PaymentProvider protocol, scripted by the test: what each
collection and payout ends as, and when. For service tests that need exact control of
time and answers; everything end-to-end uses the real emulators instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qmoi.domain.money import Money
from qmoi.providers.base import (
    Balance,
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    Outcome,
    OutcomeUnknown,
    ProviderName,
    ProviderStatus,
    Submission,
    Subscriber,
)


def succeeded(
    amount: Money | None = None, receipt: str = "R1", fee: Money | None = None
) -> ProviderStatus:
    return ProviderStatus(
        Outcome.SUCCEEDED, "0", "ok", provider_reference=receipt, amount=amount, fee=fee
    )


def failed(reason: FailureReason) -> ProviderStatus:
    return ProviderStatus(Outcome.FAILED, "F", reason.value, reason=reason)


PENDING = ProviderStatus(Outcome.PENDING, "P", "pending")
NOT_FOUND = ProviderStatus(Outcome.UNKNOWN, "NF", "not found", reason=FailureReason.NOT_FOUND)


@dataclass
class FakeProvider:
    name: ProviderName
    currency: str = "KES"
    balance_minor: int = 10**10
    #: how each payout is answered, in order (default: succeeded with a receipt)
    payouts: list[ProviderStatus | Exception] = field(default_factory=list)
    #: what an enquiry about a reference says
    statuses: dict[str, ProviderStatus] = field(default_factory=dict)
    collected: list[CollectRequest] = field(default_factory=list)
    paid: list[DisburseRequest] = field(default_factory=list)
    #: what ``ping`` raises while the provider is down (None: up)
    down: Exception | None = None

    async def collect(self, request: CollectRequest) -> Submission:
        self.collected.append(request)
        return Submission(PENDING, f"REQ-{request.reference}")

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        return self.statuses.get(reference, PENDING)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        return succeeded(amount)

    async def disburse(self, request: DisburseRequest) -> Submission:
        self.paid.append(request)
        answer: ProviderStatus | Exception = (
            self.payouts.pop(0)
            if self.payouts
            else succeeded(request.amount, f"PAY-{len(self.paid)}")
        )
        if isinstance(answer, Exception):
            raise answer
        if answer.outcome is Outcome.SUCCEEDED:
            self.statuses[request.reference] = answer
        return Submission(answer, f"CONV-{request.reference}")

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        return self.statuses.get(reference, NOT_FOUND)

    async def balance(self) -> Balance:
        return Balance(Money(self.balance_minor, self.currency))

    async def ping(self) -> None:
        if self.down is not None:
            raise self.down

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        return Subscriber(msisdn, None, None, True, False)

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        raise CallbackRejected(self.name, "not_supported", "the fake takes no callbacks")

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


def timeout_after_sending(name: str = "airtel") -> OutcomeUnknown:
    return OutcomeUnknown(name, "disburse", "ReadTimeout talking to the provider")
