"""The connector against the doc-derived contract fixtures in
``tests/contract/fixtures/mpesa/`` (STYLE rule 9): every answer and callback there parses
to what the doc says it means, our answers to Daraja equal the documented ones, and our
requests have the documented keys with the documented JSON types."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.providers.base import (
    CallbackKind,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    Outcome,
)
from qmoi.providers.mpesa import callbacks, translate, wire
from qmoi.providers.mpesa.client import MpesaConnector
from qmoi.providers.mpesa.translate import ErrorKind

from .support import FakeDaraja

pytestmark = pytest.mark.mpesa

FIXTURES = Path(__file__).resolve().parents[2] / "contract" / "fixtures" / "mpesa"
K = CallbackKind


def fixture(name: str) -> dict[str, Any]:
    return wire.decode_json((FIXTURES / name).read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def kes(shillings: int) -> Money:
    return Money(shillings * 100, "KES")


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (values ignored)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return "number"
    return type(value).__name__


if not FIXTURES.is_dir():  # pragma: no cover - the fixtures are written by the emulator side
    pytest.skip("no M-Pesa contract fixtures yet", allow_module_level=True)


# --- synchronous answers --------------------------------------------------------------


def test_oauth_response() -> None:
    token = wire.read_token(fixture("oauth_response.json"))
    assert (token.access_token, token.expires_in) == ("c9SQxWWhmdVRlyh0zh8gZDTkubVF", 3599)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_response.json", ErrorKind.REJECTED),
        ("stk_push_error_wrong_credentials.json", ErrorKind.AUTHENTICATION),
        ("stk_query_pending.json", ErrorKind.IN_PROGRESS),
        ("b2c_duplicate_error.json", ErrorKind.DUPLICATE),
    ],
)
def test_error_envelopes(name: str, kind: ErrorKind) -> None:
    envelope = wire.read_error(fixture(name))
    assert envelope is not None
    status = 400 if envelope.error_code.startswith("400") else 500
    assert (
        translate.classify_error(status, envelope.error_code, envelope.error_message).kind is kind
    )


def test_stk_push_response() -> None:
    ack = wire.read_stk_push_ack(fixture("stk_push_response.json"))
    assert ack.response_code == "0"
    assert ack.checkout_request_id == "ws_CO_1007202409152617172396192"


def test_stk_query_response_is_a_string_result_code() -> None:
    answer = wire.read_stk_query(fixture("stk_query_response.json"))
    assert answer.result_code == "1032"
    status = translate.status_from(translate.STK_RESULTS, answer.result_code, answer.result_desc)
    assert (status.outcome, status.reason) == (Outcome.FAILED, FailureReason.CANCELLED)


@pytest.mark.parametrize("name", ["c2b_register_response.json", "c2b_simulate_response.json"])
def test_c2b_register_and_simulate_responses_use_the_misspelt_id(name: str) -> None:
    ack = wire.read_register_ack(fixture(name))
    assert (ack.response_code, ack.originator_conversation_id) == ("0", "7619-37765134-1")


def test_initiator_acknowledgement() -> None:
    ack = wire.read_initiator_ack(fixture("b2c_response.json"))
    assert ack.conversation_id == "AG_20260101_201010d5d0c2fa0c5f3d"
    assert ack.response_code == "0"


# --- callbacks ------------------------------------------------------------------------


def test_stk_callback_success() -> None:
    event = callbacks.parse_callback(K.COLLECTION, raw("stk_callback_success.json"))
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.amount == kes(150)
    assert event.status.provider_reference == "SAB12CD34E"
    assert event.status.msisdn == "254708374149"


def test_stk_callback_cancelled() -> None:
    event = callbacks.parse_callback(K.COLLECTION, raw("stk_callback_cancelled.json"))
    assert (event.status.outcome, event.status.reason) == (Outcome.FAILED, FailureReason.CANCELLED)


def test_c2b_validation_and_confirmation() -> None:
    validation = callbacks.parse_callback(K.C2B_VALIDATION, raw("c2b_validation.json"))
    assert validation.status.outcome is Outcome.PENDING
    assert validation.account_reference == "AIR000043"
    confirmation = callbacks.parse_callback(K.C2B_CONFIRMATION, raw("c2b_confirmation.json"))
    assert confirmation.status.outcome is Outcome.SUCCEEDED
    assert confirmation.status.amount == kes(150)
    assert confirmation.status.provider_reference == "SAB12CD34F"


def test_b2c_results() -> None:
    success = callbacks.parse_callback(K.DISBURSEMENT, raw("b2c_result_success.json"))
    assert success.reference == "qmoi-mpesa-20260101-3"
    assert success.status.outcome is Outcome.SUCCEEDED
    assert success.status.amount == kes(2000)
    assert success.status.provider_reference == "SAB12CD34G"
    failure = callbacks.parse_callback(K.DISBURSEMENT, raw("b2c_result_failure.json"))
    assert (failure.status.outcome, failure.status.reason) == (
        Outcome.FAILED, FailureReason.AUTHORIZATION,
    )  # fmt: skip
    assert failure.status.provider_reference is None  # SG70000000 is a placeholder


def test_b2c_queue_timeout_is_unknown() -> None:
    event = callbacks.parse_callback(K.DISBURSEMENT_TIMEOUT, raw("b2c_queue_timeout.json"))
    assert event.status.outcome is Outcome.UNKNOWN
    assert event.reference == "qmoi-mpesa-20260101-3"
    assert event.status.provider_code == "100000001"


def test_balance_result() -> None:
    event = callbacks.parse_callback(K.BALANCE_RESULT, raw("balance_result.json"))
    assert event.status.outcome is Outcome.SUCCEEDED
    accounts = callbacks.balances_of(wire.read_result(event.raw))
    assert [(a.name, a.available) for a in accounts] == [
        ("Working Account", kes(700000)),
        ("Utility Account", kes(228037)),
        ("Charges Paid Account", kes(-1540)),
    ]


def test_transaction_status_result() -> None:
    event = callbacks.parse_callback(K.STATUS_RESULT, raw("transaction_status_result.json"))
    assert event.reference == "AG_20260101_2010325b025970fbc403"  # the query's conversation
    status = event.status
    assert status.outcome is Outcome.SUCCEEDED
    assert status.amount == kes(2000)
    assert status.fee == Money(2240, "KES")
    assert status.provider_reference == "SAB12CD34G"
    assert status.completed_at == datetime(2026, 1, 1, 7, 20, 31, tzinfo=UTC)


def test_reversal_results() -> None:
    ok = callbacks.parse_callback(K.REVERSAL_RESULT, raw("reversal_result_success.json"))
    assert ok.status.outcome is Outcome.SUCCEEDED
    assert ok.status.amount == kes(150)
    assert ok.status.provider_reference == "SAB12CD34K"
    bad = callbacks.parse_callback(K.REVERSAL_RESULT, raw("reversal_result_failure.json"))
    assert (bad.status.outcome, bad.status.reason) == (Outcome.FAILED, FailureReason.NOT_FOUND)


# --- our answers to Daraja ------------------------------------------------------------


def test_our_callback_answers_equal_the_documented_ones(
    make_connector: Callable[..., MpesaConnector],
    make_settings: Callable[..., Any],
) -> None:
    connector = make_connector(make_settings(shortcode="600984"))
    validation = connector.parse_callback(K.C2B_VALIDATION, {}, raw("c2b_validation.json"))
    assert connector.callback_answer(validation, True) == fixture("c2b_validation_accept.json")
    unknown = connector.parse_callback(
        K.C2B_VALIDATION, {},
        json.dumps({**fixture("c2b_validation.json"), "BillRefNumber": "NOPE"}).encode(),
    )  # fmt: skip
    assert connector.callback_answer(unknown, True) == fixture("c2b_validation_reject.json")
    confirmation = connector.parse_callback(K.C2B_CONFIRMATION, {}, raw("c2b_confirmation.json"))
    assert connector.callback_answer(confirmation, True) == fixture("c2b_confirmation_ack.json")


# --- our requests ---------------------------------------------------------------------


async def test_our_requests_have_the_documented_keys_and_types(
    make_connector: Callable[..., MpesaConnector],
    fake: FakeDaraja,
    clock: ManualClock,
) -> None:
    clock.set(datetime(2016, 2, 16, 13, 56, 27, tzinfo=UTC))  # 16:56:27 in Nairobi
    fake.answer("/mpesa/stkpush/v1/processrequest", 200, fixture("stk_push_response.json"))
    fake.answer("/mpesa/stkpushquery/v1/query", 200, fixture("stk_query_response.json"))
    fake.answer("/mpesa/c2b/v1/registerurl", 200, fixture("c2b_register_response.json"))
    for path in (
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/accountbalance/v1/query",
        "/mpesa/transactionstatus/v1/query",
        "/mpesa/reversal/v1/request",
    ):
        fake.answer(path, 200, fixture("b2c_response.json"))
    connector = make_connector(result_timeout_s=0.01)
    await connector.collect(
        CollectRequest("col-1", "254708374149", kes(150), "AIR000042", "Airtime")
    )
    await connector.collection_status("col-1", "ws_CO_1007202409152617172396192")
    await connector.register_c2b_urls()
    await connector.disburse(DisburseRequest("qmoi-mpesa-20260101-3", "254708374149", kes(2000),
                                             "owner payout"))  # fmt: skip
    await connector.transaction_status(transaction_id="SAB12CD34G")
    await connector.transaction_status(original_conversation_id="qmoi-mpesa-20260101-3")
    await connector.refund("SAB12CD34F", kes(150))
    with pytest.raises(Exception, match="no balance result"):
        await connector.balance()

    stk = fake.bodies("/mpesa/stkpush/v1/processrequest")[0]
    documented = fixture("stk_push_request.json")
    assert {k: v for k, v in stk.items() if k != "CallBackURL"} == {
        k: v for k, v in documented.items() if k != "CallBackURL"
    }
    query = fake.bodies("/mpesa/stkpushquery/v1/query")[0]
    assert query == fixture("stk_query_request.json")

    pairs = [
        ("/mpesa/c2b/v1/registerurl", "c2b_register_request.json", 0),
        ("/mpesa/b2c/v3/paymentrequest", "b2c_request.json", 0),
        ("/mpesa/accountbalance/v1/query", "balance_request.json", 0),
        ("/mpesa/reversal/v1/request", "reversal_request.json", 0),
    ]
    for path, name, index in pairs:
        assert shape(fake.bodies(path)[index]) == shape(fixture(name)), name
    status_doc = shape(fixture("transaction_status_request.json"))
    by_receipt, by_conversation = fake.bodies("/mpesa/transactionstatus/v1/query")
    # we send exactly one of the two lookup keys (§11.1: "by receipt or by ...")
    assert shape(by_receipt) == {k: v for k, v in status_doc.items()
                                 if k != "OriginalConversationID"}  # fmt: skip
    assert shape(by_conversation) == {k: v for k, v in status_doc.items()
                                      if k != "TransactionID"}  # fmt: skip


def test_every_fixture_is_exercised_by_this_module() -> None:
    ignored = {"README.md", "c2b_simulate_request.json"}  # simulate is sandbox-only (§8.3)
    source = Path(__file__).read_text(encoding="utf-8")
    missing = sorted(p.name for p in FIXTURES.iterdir() if p.name not in ignored
                     and f'"{p.name}"' not in source)  # fmt: skip
    assert not missing, f"fixtures without a connector test: {missing}"
