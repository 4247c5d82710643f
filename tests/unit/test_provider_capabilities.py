"""What a provider's failure says of the money, and what sets a provider apart — the
neutral vocabulary the services use instead of provider names."""

from __future__ import annotations

import pytest

from qmoi.domain.money import Money
from qmoi.providers.airtel.capabilities import CAPABILITIES as AIRTEL
from qmoi.providers.base import (
    PLAIN,
    AuthenticationFailed,
    CallbackRejected,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderError,
    Rejected,
    capabilities_of,
)
from qmoi.providers.mpesa.capabilities import CAPABILITIES as MPESA

ERRORS: list[ProviderError] = [
    NotSent("airtel", "disburse", "connection refused"),
    OutcomeUnknown("airtel", "disburse", "read timeout"),
    OutcomeUnknown("mpesa", "collect", "5xx", provider_code="500.003.02"),
    AuthenticationFailed("mpesa", "disburse", "bad initiator", provider_code="2001"),
    Rejected("airtel", "disburse", "malformed"),
    CallbackRejected("mpesa", "bad_shape", "not JSON"),
    ProviderError("airtel", "balance", "odd"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_a_failed_enquiry_never_says_anything_of_the_money(error: ProviderError) -> None:
    status = error.as_status()
    assert status.outcome is Outcome.UNKNOWN
    assert status.provider_code == (error.provider_code or error.code)
    assert status.provider_message == error.detail
    assert status.reason is None


@pytest.mark.parametrize(
    ("error", "outcome", "code", "reason"),
    [
        (ERRORS[0], Outcome.UNKNOWN, "not_sent", None),
        (ERRORS[1], Outcome.UNKNOWN, "unknown", None),
        (ERRORS[2], Outcome.UNKNOWN, "500.003.02", None),
        (ERRORS[3], Outcome.FAILED, "2001", FailureReason.AUTHORIZATION),
        (ERRORS[4], Outcome.FAILED, "provider_rejected", FailureReason.INVALID_REQUEST),
        (ERRORS[5], Outcome.UNKNOWN, "callback_rejected", None),
        (ERRORS[6], Outcome.UNKNOWN, "provider_error", None),
    ],
)
def test_only_a_refused_send_is_final(
    error: ProviderError, outcome: Outcome, code: str, reason: FailureReason | None
) -> None:
    status = error.as_send_status()
    assert (status.outcome, status.provider_code, status.reason) == (outcome, code, reason)
    assert status.provider_message == error.detail
    if status.outcome is Outcome.FAILED:
        assert not error.money_may_have_moved  # releasing the money is safe only then


def test_whole_unit_providers_refuse_cents_and_say_so() -> None:
    cents, whole = Money.parse("10.50"), Money.parse("10")
    assert MPESA.amount_problem(cents, "takes") == "M-Pesa takes whole shillings only"
    assert MPESA.amount_problem(cents, "pays") == "M-Pesa pays whole shillings only"
    assert MPESA.amount_problem(whole, "takes") is None
    assert AIRTEL.amount_problem(cents, "takes") is None
    assert PLAIN.amount_problem(cents, "takes") is None


def test_a_connector_that_describes_nothing_is_the_plain_case() -> None:
    class Described:
        capabilities = MPESA

    assert capabilities_of(Described()) is MPESA
    assert capabilities_of(object()) is PLAIN
    assert capabilities_of(None) is PLAIN
