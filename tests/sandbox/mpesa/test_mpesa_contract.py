"""The emulator's answers and callbacks have the shapes of the contract fixtures.

``tests/contract/fixtures/mpesa/`` holds examples written from
Safaricom's published samples; the connector parses them and the emulator must
produce them. "Same shape" means: the same keys at every level, the same JSON types,
and ``{Name|Key, Value}`` lists compared by name (a missing ``Value`` is part of the
shape). Request fixtures are sent as they are, with only the merchant-specific values
(URLs, shortcode, credential, ids) swapped for this emulator's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.sandbox.mpesa.conftest import StartMpesa, fresh, serve_shared
from tests.sandbox.mpesa.mpesa_support import (
    APPROVES,
    CANCELS,
    INITIATOR,
    CallbackReceiver,
    HookServer,
    Mpesa,
    basic_auth,
    fixture,
    result_parameters,
    wait_until,
)

pytestmark = pytest.mark.mpesa

ABSENT = "<absent>"


def shape(value: Any) -> Any:
    """Types instead of values; name/value lists become dicts keyed by name."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(i, dict) and ("Name" in i or "Key" in i) for i in value):
            label = "Name" if "Name" in value[0] else "Key"
            return {f"[{i[label]}]": shape(i.get("Value", ABSENT)) for i in value}
        return [shape(item) for item in value]
    if value == ABSENT:
        return ABSENT
    return type(value).__name__


def assert_same_shape(
    actual: Any, expected: Any, *, optional: frozenset[str] = frozenset(), path: str = "$"
) -> None:
    """Compare shapes; keys named in ``optional`` may be missing from ``actual``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        missing = set(expected) - set(actual) - optional
        extra = set(actual) - set(expected)
        assert not missing, f"{path}: missing {sorted(missing)}"
        assert not extra, f"{path}: unexpected {sorted(extra)}"
        for key in set(expected) & set(actual):
            assert_same_shape(actual[key], expected[key], optional=optional, path=f"{path}.{key}")
    else:
        assert actual == expected, f"{path}: {actual!r} where the fixture has {expected!r}"


def check(actual: Any, fixture_name: str, *, optional: frozenset[str] = frozenset()) -> None:
    assert_same_shape(shape(actual), shape(fixture(fixture_name)), optional=optional)


@pytest.fixture(scope="module")
def validating_emulator(hook_server: HookServer) -> Iterator[Mpesa]:
    with serve_shared(hook_server, c2b_validation=True) as client:
        yield client


@pytest.fixture
def emulator(validating_emulator: Mpesa, receiver: CallbackReceiver) -> Mpesa:
    """A shared emulator with C2B validation on, reset for each test."""
    return fresh(validating_emulator, receiver)


def stk_request(mpesa: Mpesa, phone: str) -> dict[str, Any]:
    """The fixture request, test-vector password included, to one of our test numbers."""
    body: dict[str, Any] = fixture("stk_push_request.json")
    body |= {"PartyA": int(phone), "PhoneNumber": int(phone)}
    body["CallBackURL"] = mpesa.receiver.hook("/lnm")
    return body


def test_oauth_response(emulator: Mpesa) -> None:
    answer = emulator.http.get(
        "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": basic_auth()},
    )
    check(answer.json(), "oauth_response.json")


def test_error_envelope(emulator: Mpesa) -> None:
    body = stk_request(emulator, APPROVES) | {"BusinessShortCode": "x"}

    answer = emulator.post("/mpesa/stkpush/v1/processrequest", body)

    check(answer.json(), "error_response.json")
    doc = fixture("error_response.json")
    assert (answer.json()["errorCode"], answer.json()["errorMessage"]) == (
        doc["errorCode"],
        doc["errorMessage"],
    )


def test_stk_push_response_and_success_callback(emulator: Mpesa) -> None:
    answer = emulator.post("/mpesa/stkpush/v1/processrequest", stk_request(emulator, APPROVES))

    assert answer.status_code == 200, answer.text
    check(answer.json(), "stk_push_response.json")
    [callback] = emulator.receiver.wait_for("/lnm")
    check(callback, "stk_callback_success.json", optional=frozenset({"[Balance]"}))
    assert callback["Body"]["stkCallback"]["ResultCode"] == 0


def test_stk_cancelled_callback_and_query(emulator: Mpesa) -> None:
    ack = emulator.post("/mpesa/stkpush/v1/processrequest", stk_request(emulator, CANCELS)).json()
    [callback] = emulator.receiver.wait_for("/lnm")
    check(callback, "stk_callback_cancelled.json")
    assert callback["Body"]["stkCallback"]["ResultCode"] == 1032

    query = fixture("stk_query_request.json") | {"CheckoutRequestID": ack["CheckoutRequestID"]}
    answer = emulator.post("/mpesa/stkpushquery/v1/query", query)

    check(answer.json(), "stk_query_response.json")
    assert answer.json()["ResultCode"] == fixture("stk_query_response.json")["ResultCode"]


def test_stk_query_pending_and_wrong_credentials(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(stk_timeout_s=3_000)
    ack = mpesa.post("/mpesa/stkpush/v1/processrequest", stk_request(mpesa, "254708000102"))
    query = fixture("stk_query_request.json") | {
        "CheckoutRequestID": ack.json()["CheckoutRequestID"]
    }

    pending = mpesa.post("/mpesa/stkpushquery/v1/query", query)
    check(pending.json(), "stk_query_pending.json")
    assert pending.json()["errorMessage"] == fixture("stk_query_pending.json")["errorMessage"]

    wrong = mpesa.post("/mpesa/stkpushquery/v1/query", query | {"Timestamp": "20160216165628"})
    doc = fixture("stk_push_error_wrong_credentials.json")
    check(wrong.json(), "stk_push_error_wrong_credentials.json")
    assert wrong.json()["errorMessage"] == doc["errorMessage"]


def register(mpesa: Mpesa) -> None:
    body = fixture("c2b_register_request.json") | {
        "ShortCode": "174379",
        "ConfirmationURL": mpesa.receiver.hook("/c2b/confirm"),
        "ValidationURL": mpesa.receiver.hook("/c2b/validate"),
    }
    answer = mpesa.post("/mpesa/c2b/v1/registerurl", body)
    check(answer.json(), "c2b_register_response.json")


def test_c2b_register_simulate_validation_and_confirmation(emulator: Mpesa) -> None:
    register(emulator)
    emulator.receiver.answers["/c2b/validate"] = (200, fixture("c2b_validation_accept.json"))
    simulate = fixture("c2b_simulate_request.json") | {"ShortCode": "174379"}

    answer = emulator.post("/mpesa/c2b/v1/simulate", simulate)

    check(answer.json(), "c2b_simulate_response.json")
    [validation] = emulator.receiver.wait_for("/c2b/validate")
    [confirmation] = emulator.receiver.wait_for("/c2b/confirm")
    check(validation, "c2b_validation.json")
    check(confirmation, "c2b_confirmation.json")
    assert validation["OrgAccountBalance"] == ""
    assert validation["TransactionType"] == fixture("c2b_validation.json")["TransactionType"]


def test_c2b_reject_answer_from_the_doc_is_honoured(emulator: Mpesa) -> None:
    register(emulator)
    emulator.receiver.answers["/c2b/validate"] = (200, fixture("c2b_validation_reject.json"))

    emulator.post(
        "/mpesa/c2b/v1/simulate", fixture("c2b_simulate_request.json") | {"ShortCode": "174379"}
    )

    emulator.receiver.wait_for("/c2b/validate")
    [tx] = wait_until(
        lambda: emulator.http.get("/sandbox/transactions", params={"status": "failed"}).json()
    )
    assert tx["result_code"] == "C2B00012"
    assert emulator.receiver.bodies("/c2b/confirm") == []


def b2c_request(mpesa: Mpesa, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = fixture("b2c_request.json")
    body |= {
        "OriginatorConversationID": f"{body['OriginatorConversationID']}-{id(mpesa)}",
        "InitiatorName": INITIATOR,
        "SecurityCredential": mpesa.credential(),
        "PartyA": 174379,
        "QueueTimeOutURL": mpesa.receiver.hook("/b2c/timeout"),
        "ResultURL": mpesa.receiver.hook("/b2c/result"),
    }
    return body | changes


def test_b2c_response_and_success_result(emulator: Mpesa) -> None:
    answer = emulator.post("/mpesa/b2c/v3/paymentrequest", b2c_request(emulator))

    check(answer.json(), "b2c_response.json")
    [result] = emulator.receiver.wait_for("/b2c/result")
    check(result, "b2c_result_success.json")
    doc = fixture("b2c_result_success.json")["Result"]
    assert result["Result"]["ReferenceData"] == doc["ReferenceData"]
    assert result["Result"]["ResultCode"] == doc["ResultCode"]


def test_b2c_failure_result_and_duplicate_error(emulator: Mpesa) -> None:
    body = b2c_request(emulator, SecurityCredential=emulator.credential("wrong"))
    emulator.post("/mpesa/b2c/v3/paymentrequest", body)

    [result] = emulator.receiver.wait_for("/b2c/result")
    check(result, "b2c_result_failure.json")
    assert (
        result["Result"]["ResultCode"] == fixture("b2c_result_failure.json")["Result"]["ResultCode"]
    )

    duplicate = emulator.post("/mpesa/b2c/v3/paymentrequest", body)
    check(duplicate.json(), "b2c_duplicate_error.json")
    doc = fixture("b2c_duplicate_error.json")
    assert duplicate.json()["errorCode"] == doc["errorCode"]
    assert duplicate.json()["errorMessage"] == doc["errorMessage"]


def test_b2c_queue_timeout_notice(emulator: Mpesa) -> None:
    emulator.faults(queue_timeout_rate=1.0)

    emulator.post("/mpesa/b2c/v3/paymentrequest", b2c_request(emulator))

    [notice] = emulator.receiver.wait_for("/b2c/timeout")
    check(notice, "b2c_queue_timeout.json")


def initiator_request(mpesa: Mpesa, name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = fixture(name)
    body |= {
        "Initiator": INITIATOR,
        "SecurityCredential": mpesa.credential(),
        "QueueTimeOutURL": mpesa.receiver.hook("/ops/timeout"),
        "ResultURL": mpesa.receiver.hook("/ops/result"),
    }
    if "PartyA" in body:
        body["PartyA"] = 174379
    return body | changes


def test_account_balance_result(emulator: Mpesa) -> None:
    answer = emulator.post(
        "/mpesa/accountbalance/v1/query", initiator_request(emulator, "balance_request.json")
    )

    check(answer.json(), "b2c_response.json")
    [result] = emulator.receiver.wait_for("/ops/result")
    check(result, "balance_result.json")
    assert result["Result"]["ResultCode"] == "0"


def test_transaction_status_result(emulator: Mpesa) -> None:
    payout = b2c_request(emulator)
    ack = emulator.post("/mpesa/b2c/v3/paymentrequest", payout).json()
    [paid] = emulator.receiver.wait_for("/b2c/result")
    body = initiator_request(
        emulator,
        "transaction_status_request.json",
        TransactionID=paid["Result"]["TransactionID"],
        OriginalConversationID=payout["OriginatorConversationID"],
    )

    answer = emulator.post("/mpesa/transactionstatus/v1/query", body)

    check(answer.json(), "b2c_response.json")
    [result] = emulator.receiver.wait_for("/ops/result")
    check(result, "transaction_status_result.json")
    assert result_parameters(result)["ReceiptNo"] == paid["Result"]["TransactionID"]
    assert ack["ConversationID"] == paid["Result"]["ConversationID"]


def test_reversal_results(emulator: Mpesa) -> None:
    register(emulator)  # registrations outlive reset: point them at this test's receiver
    paid = emulator.http.post("/sandbox/c2b/pay", json={"msisdn": APPROVES, "amount": 150}).json()
    receipt = emulator.wait_final(paid["id"])["provider_id"]
    good = initiator_request(
        emulator, "reversal_request.json", TransactionID=receipt, ReceiverParty=174379
    )

    answer = emulator.post("/mpesa/reversal/v1/request", good)
    check(answer.json(), "b2c_response.json")
    [success] = emulator.receiver.wait_for("/ops/result")
    check(success, "reversal_result_success.json")

    emulator.post("/mpesa/reversal/v1/request", good | {"TransactionID": "UAX1234567"})
    failure = emulator.receiver.wait_for("/ops/result", 2)[1]
    check(failure, "reversal_result_failure.json")
    assert (
        failure["Result"]["ResultCode"]
        == fixture("reversal_result_failure.json")["Result"]["ResultCode"]
    )
