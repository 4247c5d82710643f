"""Parsing and checking Daraja callbacks (doc §6, §8.2, §9–11, §13)."""

from __future__ import annotations

import copy
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    FailureReason,
    Outcome,
    ProviderStatus,
)
from qmoi.providers.mpesa import callbacks
from qmoi.providers.mpesa.callbacks import parse_callback

pytestmark = pytest.mark.mpesa

K = CallbackKind
RULES = (
    ("AIR", StreamKey.AIRTIME_SALES),
    ("DATA", StreamKey.DATA_PACKAGES),
    ("BILL", StreamKey.UTILITY_PAYMENTS),
)


def kes(shillings: int) -> Money:
    return Money(shillings * 100, "KES")


def stk_success(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": "ws_CO_191220191020363925",
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 150.00},
                        {"Name": "MpesaReceiptNumber", "Value": "SAB12CD34E"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20260101093102},
                        {"Name": "PhoneNumber", "Value": 254708374149},
                    ]
                },
            }
        }
    }
    body["Body"]["stkCallback"].update(overrides)
    return body


def with_item(name: str, value: Any) -> dict[str, Any]:
    body = stk_success()
    items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    for item in items:
        if item["Name"] == name:
            item["Value"] = value
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


STK_CANCELLED = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
            "CheckoutRequestID": "ws_CO_21072024125243250722943992",
            "ResultCode": 1032,
            "ResultDesc": "Request cancelled by user",
        }
    }
}

C2B = {
    "TransactionType": "Pay Bill",
    "TransID": "SAB12CD34F",
    "TransTime": "20260101101530",
    "TransAmount": "150.00",
    "BusinessShortCode": "600984",
    "BillRefNumber": "AIR000043",
    "InvoiceNumber": "",
    "OrgAccountBalance": "25150.00",
    "ThirdPartyTransID": "",
    "MSISDN": "2547 ***** 149",
    "FirstName": "JOHN",
    "MiddleName": "",
    "LastName": "",
}


def c2b(**overrides: Any) -> dict[str, Any]:
    return {**C2B, **overrides}


def b2c_success() -> dict[str, Any]:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": "qmoi-mpesa-20260101-3",
            "ConversationID": "AG_20260101_201010d5d0c2fa0c5f3d",
            "TransactionID": "SAB12CD34G",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": 2000},
                    {"Key": "TransactionReceipt", "Value": "SAB12CD34G"},
                    {"Key": "ReceiverPartyPublicName", "Value": "254708374149 - JOHN DOE"},
                    {"Key": "TransactionCompletedDateTime", "Value": "01.01.2026 10:20:31"},
                    {"Key": "B2CUtilityAccountAvailableFunds", "Value": 8959269.60},
                    {"Key": "B2CWorkingAccountAvailableFunds", "Value": 1199371.00},
                    {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                    {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -1980.00},
                ]
            },
            "ReferenceData": {
                "ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://x.example/t"}
            },
        }
    }


def result(code: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": "desc",
            "OriginatorConversationID": "5118-111210482-1",
            "ConversationID": "AG_20260101_status",
            "TransactionID": "SG70000000",
            **extra,
        }
    }


def params(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"ResultParameters": {"ResultParameter": [{"Key": k, "Value": v} for k, v in pairs]}}


def rejected_reason(kind: CallbackKind, body: bytes | str) -> str:
    with pytest.raises(CallbackRejected) as caught:
        parse_callback(kind, body)
    return caught.value.reason


# --- STK ------------------------------------------------------------------------------


def test_stk_success_callback_carries_money_receipt_number_and_nairobi_time() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success()))
    assert event.provider == "mpesa"
    assert event.kind is K.COLLECTION
    assert event.reference == "ws_CO_191220191020363925"
    assert event.event_id == "stk:ws_CO_191220191020363925"
    status = event.status
    assert status.outcome is Outcome.SUCCEEDED
    assert status.provider_code == "0"
    assert status.amount == kes(150)
    assert status.provider_reference == "SAB12CD34E"
    assert status.msisdn == "254708374149"
    assert status.completed_at == datetime(2026, 1, 1, 6, 31, 2, tzinfo=UTC)


def test_stk_cancelled_callback_is_a_failure_without_money() -> None:
    event = parse_callback(K.COLLECTION, encode(STK_CANCELLED))
    assert event.status.outcome is Outcome.FAILED
    assert event.status.reason is FailureReason.CANCELLED
    assert event.status.provider_code == "1032"
    assert event.status.amount is None
    assert event.status.provider_reference is None


def test_stk_result_code_as_string_means_the_same() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success(ResultCode="0")))
    assert event.status.outcome is Outcome.SUCCEEDED


def test_stk_items_are_found_by_name_not_position() -> None:
    body = stk_success()
    items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [
        i for i in reversed(items) if i["Name"] != "Balance"
    ]
    event = parse_callback(K.COLLECTION, encode(body))
    assert event.status.amount == kes(150)
    assert event.status.provider_reference == "SAB12CD34E"


def test_unknown_fields_everywhere_are_ignored() -> None:
    body = stk_success(NewField={"x": [1, 2]})
    body["Extra"] = True
    body["Body"]["Other"] = "y"
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].append(
        {"Name": "NewItem", "Value": "v", "Extra": 1}
    )
    event = parse_callback(K.COLLECTION, encode(body))
    assert event.status.outcome is Outcome.SUCCEEDED


def test_a_repeated_stk_callback_has_the_same_event_id() -> None:
    first = parse_callback(K.COLLECTION, encode(stk_success()))
    again = parse_callback(K.COLLECTION, json.dumps(stk_success(), indent=2).encode())
    assert first.event_id == again.event_id


def test_raw_is_json_safe_and_keeps_decimals_exact() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success()))
    text = json.dumps(event.raw)
    assert '"150.0"' in text or '"150.00"' in text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "malformed_json"),
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"Body": NaN}', "malformed_json"),
        (b'{"Body": Infinity}', "malformed_json"),
        (b"[" * 200_000 + b"]" * 200_000, "too_large"),
        (b'{"a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "malformed_json"),
        (b'{"a": ' + b"9" * 5000 + b"}", "malformed_json"),
        (b"{}", "missing_field"),
        (b'{"Body": []}', "invalid_field"),
        (b'{"Body": {"stkCallback": "x"}}', "invalid_field"),
    ],
)
def test_malformed_bodies_are_rejected_never_crash(body: bytes, reason: str) -> None:
    assert rejected_reason(K.COLLECTION, body) == reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ResultCode": True}, "invalid_field"),
        ({"ResultCode": [0]}, "invalid_field"),
        ({"ResultCode": {"code": 0}}, "invalid_field"),
        ({"ResultCode": 0.5}, "invalid_field"),
        ({"ResultCode": None}, "missing_field"),
        ({"CheckoutRequestID": None}, "missing_field"),
        ({"CheckoutRequestID": ""}, "missing_field"),
        ({"CheckoutRequestID": ["ws"]}, "invalid_field"),
        ({"CheckoutRequestID": "x" * 1000}, "invalid_field"),
        ({"CheckoutRequestID": "ws_CO\n1"}, "invalid_field"),
        ({"CallbackMetadata": {"Item": "Amount"}}, "invalid_field"),
        ({"CallbackMetadata": []}, "invalid_field"),
        ({"CallbackMetadata": {"Item": []}}, "missing_field"),  # success without items
        ({"ResultDesc": 12}, None),  # a number where text is expected is read as text
    ],
)
def test_wrong_types_in_the_stk_callback(overrides: dict[str, Any], reason: str | None) -> None:
    body = encode(stk_success(**overrides))
    if reason is None:
        parse_callback(K.COLLECTION, body)
    else:
        assert rejected_reason(K.COLLECTION, body) == reason


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("Amount", -150, "invalid_amount"),
        ("Amount", 0, "invalid_amount"),
        ("Amount", 150.50, "fractional_amount"),
        ("Amount", 10**30, "invalid_amount"),
        ("Amount", "1e400", "invalid_amount"),
        ("Amount", True, "invalid_field"),
        ("Amount", None, "missing_field"),
        ("Amount", {"v": 1}, "invalid_field"),
        ("MpesaReceiptNumber", None, "missing_field"),
        ("MpesaReceiptNumber", 12.5, "invalid_field"),
        ("PhoneNumber", 10**40, "invalid_field"),
        ("PhoneNumber", 12345, "invalid_field"),
        ("PhoneNumber", "2547***149", "invalid_field"),
        ("TransactionDate", 10**25, "invalid_field"),
        ("TransactionDate", 20261340250000, "invalid_field"),
    ],
)
def test_implausible_stk_item_values_are_rejected(name: str, value: Any, reason: str) -> None:
    assert rejected_reason(K.COLLECTION, encode(with_item(name, value))) == reason


def test_huge_float_amount_in_raw_json_is_rejected() -> None:
    body = encode(stk_success()).replace(b"150.0", b"1e400", 1)
    assert rejected_reason(K.COLLECTION, body) == "invalid_amount"


def test_an_item_named_twice_is_rejected() -> None:
    body = stk_success()
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].append({"Name": "Amount", "Value": 1})
    assert rejected_reason(K.COLLECTION, encode(body)) == "invalid_field"


def test_amount_as_numeric_string_is_accepted() -> None:
    event = parse_callback(K.COLLECTION, encode(with_item("Amount", "150.00")))
    assert event.status.amount == kes(150)


# --- C2B ------------------------------------------------------------------------------


def test_c2b_confirmation_is_revenue_with_the_receipt_and_never_the_masked_msisdn() -> None:
    event = parse_callback(K.C2B_CONFIRMATION, encode(c2b()))
    assert event.event_id == "c2b:SAB12CD34F"
    assert event.reference == "SAB12CD34F"
    assert event.account_reference == "AIR000043"
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.amount == kes(150)
    assert event.status.provider_reference == "SAB12CD34F"
    assert event.status.msisdn is None
    assert event.status.completed_at == datetime(2026, 1, 1, 7, 15, 30, tzinfo=UTC)


def test_c2b_validation_is_pending_and_distinct_from_its_confirmation() -> None:
    validation = parse_callback(K.C2B_VALIDATION, encode(c2b(OrgAccountBalance="")))
    confirmation = parse_callback(K.C2B_CONFIRMATION, encode(c2b()))
    assert validation.status.outcome is Outcome.PENDING
    assert validation.status.amount == kes(150)
    assert validation.event_id != confirmation.event_id


def test_a_hashed_msisdn_and_numbers_as_json_numbers_are_tolerated() -> None:
    body = c2b(MSISDN="a" * 64, TransAmount=150, BusinessShortCode=600984, TransTime=20260101101530)
    event = parse_callback(K.C2B_CONFIRMATION, encode(body))
    assert event.status.amount == kes(150)


def test_a_confirmation_for_another_shortcode_is_not_our_money() -> None:
    with pytest.raises(CallbackRejected) as caught:
        parse_callback(K.C2B_CONFIRMATION, encode(c2b()), shortcodes={"174379"})
    assert caught.value.reason == "shortcode_mismatch"
    parse_callback(K.C2B_CONFIRMATION, encode(c2b()), shortcodes={"174379", "600984"})


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"TransAmount": "150.50"}, "fractional_amount"),
        ({"TransAmount": "-150.00"}, "invalid_amount"),
        ({"TransAmount": "0.00"}, "invalid_amount"),
        ({"TransAmount": "abc"}, "invalid_amount"),
        ({"TransAmount": "9" * 40}, "invalid_amount"),
        ({"TransAmount": None}, "missing_field"),
        ({"TransID": None}, "missing_field"),
        ({"TransID": 3.5}, "invalid_field"),
        ({"TransTime": "yesterday"}, "invalid_field"),
        ({"TransTime": "20261301000000"}, "invalid_field"),
        ({"BusinessShortCode": "short"}, "invalid_field"),
        ({"BillRefNumber": ["AIR"]}, "invalid_field"),
        ({"FirstName": {"a": 1}}, "invalid_field"),
    ],
)
def test_bad_c2b_values_are_rejected(overrides: dict[str, Any], reason: str) -> None:
    assert rejected_reason(K.C2B_CONFIRMATION, encode(c2b(**overrides))) == reason


# --- B2C, queue timeout ---------------------------------------------------------------


def test_b2c_success_result_books_on_our_transfer_reference() -> None:
    event = parse_callback(K.DISBURSEMENT, encode(b2c_success()))
    assert event.reference == "qmoi-mpesa-20260101-3"
    assert event.event_id == "b2c:qmoi-mpesa-20260101-3"
    status = event.status
    assert status.outcome is Outcome.SUCCEEDED
    assert status.amount == kes(2000)
    assert status.provider_reference == "SAB12CD34G"
    assert status.msisdn == "254708374149"
    assert status.completed_at == datetime(2026, 1, 1, 7, 20, 31, tzinfo=UTC)
    assert status.fee is None  # Daraja reports no fee in the result (§9)


def test_b2c_failure_has_no_receipt_even_with_a_placeholder_transaction_id() -> None:
    body = result(2001)
    body["Result"]["OriginatorConversationID"] = "qmoi-mpesa-20260101-4"
    event = parse_callback(K.DISBURSEMENT, encode(body))
    assert event.status.outcome is Outcome.FAILED
    assert event.status.reason is FailureReason.AUTHORIZATION
    assert event.status.provider_reference is None


def test_b2c_insufficient_funds_is_the_fallback_signal() -> None:
    event = parse_callback(K.DISBURSEMENT, encode(result("1")))
    assert event.status.reason is FailureReason.INSUFFICIENT_FUNDS


def test_b2c_waiting_for_further_messages_is_pending() -> None:
    body = b2c_success()
    body["Result"]["ResultType"] = 1
    event = parse_callback(K.DISBURSEMENT, encode(body))
    assert event.status.outcome is Outcome.PENDING
    assert event.event_id != "b2c:qmoi-mpesa-20260101-3"


def test_single_result_parameter_object_is_tolerated() -> None:
    body = b2c_success()
    body["Result"]["ResultParameters"]["ResultParameter"] = {"Key": "TransactionAmount", "Value": 5}
    body["Result"]["TransactionID"] = "SAB12CD34Z"
    event = parse_callback(K.DISBURSEMENT, encode(body))
    assert event.status.amount == kes(5)
    assert event.status.provider_reference == "SAB12CD34Z"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b["Result"].pop("ResultCode"), "missing_field"),
        (lambda b: b["Result"].update(OriginatorConversationID=None, ConversationID=None),
         "missing_field"),
        (lambda b: b.update(Result=[1]), "invalid_field"),
        (lambda b: b["Result"].update(ResultParameters={"ResultParameter": [1, 2]}),
         "invalid_field"),
        (lambda b: b["Result"].update(ResultParameters={"ResultParameter": [{"Value": 1}]}),
         "missing_field"),
        (lambda b: b["Result"]["ResultParameters"]["ResultParameter"].__setitem__(
            0, {"Key": "TransactionAmount", "Value": 2000.5}), "fractional_amount"),
    ],
)  # fmt: skip
def test_bad_result_envelopes_are_rejected(mutate: Any, reason: str) -> None:
    body = b2c_success()
    mutate(body)
    assert rejected_reason(K.DISBURSEMENT, encode(body)) == reason


def test_queue_timeout_is_unknown_never_failed() -> None:
    body = result(100000001)
    body["Result"]["OriginatorConversationID"] = "qmoi-mpesa-20260101-3"
    event = parse_callback(K.DISBURSEMENT_TIMEOUT, encode(body))
    assert event.status.outcome is Outcome.UNKNOWN
    assert event.reference == "qmoi-mpesa-20260101-3"
    assert event.event_id == "queue-timeout:qmoi-mpesa-20260101-3"


def test_queue_timeout_of_undocumented_shape_is_still_understood() -> None:
    bare = {"OriginatorConversationID": "qmoi-1", "ResultDesc": "timeout"}
    event = parse_callback(K.DISBURSEMENT_TIMEOUT, encode(bare))
    assert event.status.outcome is Outcome.UNKNOWN
    assert event.status.provider_code == "queue_timeout"


# --- status, balance, reversal results ------------------------------------------------


STATUS_PARAMS = params(
    ("DebitPartyName", "600992 - QMOI Merchant"),
    ("CreditPartyName", "254708374149 - JOHN DOE"),
    ("OriginatorConversationID", "qmoi-mpesa-20260101-3"),
    ("DebitPartyCharges", "Fee For B2C Payment|KES|22.40"),
    ("TransactionStatus", "Completed"),
    ("FinalisedTime", 20260101102031),
    ("Amount", 2000.00),
    ("ConversationID", "AG_original"),
    ("ReceiptNo", "SAB12CD34G"),
)


def test_status_result_tells_the_transactions_truth_keyed_by_conversation_id() -> None:
    event = parse_callback(K.STATUS_RESULT, encode(result(0, **STATUS_PARAMS)))
    assert event.reference == "AG_20260101_status"
    status = event.status
    assert status.outcome is Outcome.SUCCEEDED
    assert status.amount == kes(2000)
    assert status.fee == Money(2240, "KES")
    assert status.provider_reference == "SAB12CD34G"
    assert status.completed_at == datetime(2026, 1, 1, 7, 20, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [("Failed", Outcome.FAILED), ("Pending", Outcome.PENDING), ("Weird", Outcome.UNKNOWN)],
)
def test_status_values_other_than_completed(state: str, outcome: Outcome) -> None:
    body = result(0, **params(("TransactionStatus", state)))
    assert parse_callback(K.STATUS_RESULT, encode(body)).status.outcome is outcome


def test_a_failed_status_query_says_nothing_about_the_transaction() -> None:
    event = parse_callback(K.STATUS_RESULT, encode(result("2001")))
    assert event.status.outcome is Outcome.UNKNOWN
    assert event.status.reason is FailureReason.AUTHORIZATION
    other = parse_callback(K.STATUS_RESULT, encode(result("R000002")))
    assert other.status.outcome is Outcome.UNKNOWN


def test_balance_result_parses_and_a_garbled_balance_is_rejected() -> None:
    balance = (
        "Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|"
        "228037.00|0.00|0.00&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00"
    )
    body = result("0", **params(("AccountBalance", balance), ("BOCompletedTime", 20260101102000)))
    event = parse_callback(K.BALANCE_RESULT, encode(body))
    assert event.status.outcome is Outcome.SUCCEEDED
    garbled = result("0", **params(("AccountBalance", "Working Account|KES|lots")))
    assert rejected_reason(K.BALANCE_RESULT, encode(garbled)) == "invalid_amount"
    missing = result("0")
    assert rejected_reason(K.BALANCE_RESULT, encode(missing)) == "missing_field"


def test_reversal_result_codes_are_strings() -> None:
    event = parse_callback(K.REVERSAL_RESULT, encode(result("R000002")))
    assert event.status.outcome is Outcome.FAILED
    assert event.status.reason is FailureReason.NOT_FOUND
    ok = parse_callback(
        K.REVERSAL_RESULT,
        encode(result(0, TransactionID="SAB12CD34R", **params(("Amount", 150)))),
    )
    assert ok.status.outcome is Outcome.SUCCEEDED
    assert ok.status.provider_reference == "SAB12CD34R"
    assert ok.status.amount == kes(150)


# --- the ResultWaiter hand-over -------------------------------------------------------


def test_waited_results_are_delivered_under_the_answer_tag_of_their_url() -> None:
    event = parse_callback(K.STATUS_RESULT, encode(result(0, **STATUS_PARAMS)))
    tag = callbacks.new_answer_tag()
    delivery = callbacks.waiter_delivery(event, tag)
    assert delivery is not None
    key, body = delivery
    assert key == tag  # not the ConversationID the body carries
    kind, inner = callbacks.read_delivery(json.loads(json.dumps(body)))
    assert kind is K.STATUS_RESULT
    assert inner["Result"]["ConversationID"] == "AG_20260101_status"


def test_a_result_without_its_querys_tag_is_delivered_to_nobody() -> None:
    """Whoever knows the path token can post a result; only Daraja knows the tag."""
    event = parse_callback(K.STATUS_RESULT, encode(result(0, **STATUS_PARAMS)))
    assert callbacks.waiter_delivery(event, None) is None


def test_queue_timeouts_are_delivered_too_and_callbacks_nobody_waits_for_are_not() -> None:
    timeout = parse_callback(K.DISBURSEMENT_TIMEOUT, encode(result(1)))
    tag = callbacks.new_answer_tag()
    assert callbacks.waiter_delivery(timeout, tag) is not None
    stk = parse_callback(K.COLLECTION, encode(stk_success()))
    assert callbacks.waiter_delivery(stk, tag) is None
    b2c = parse_callback(K.DISBURSEMENT, encode(b2c_success()))
    assert callbacks.waiter_delivery(b2c, tag) is None


def test_a_result_answers_only_the_conversation_daraja_acknowledged() -> None:
    data = json.loads(encode(result(0, **STATUS_PARAMS)))
    assert callbacks.answers(data, K.STATUS_RESULT, "AG_20260101_status", "5118-1")
    assert not callbacks.answers(data, K.STATUS_RESULT, "AG_other", "5118-9")
    anonymous = {"Result": {k: v for k, v in data["Result"].items() if "Conversation" not in k}}
    assert not callbacks.answers(anonymous, K.STATUS_RESULT, "AG_20260101_status", None)
    # a queue timeout of undocumented shape that names nobody only means "ask again"
    assert callbacks.answers({"ResultDesc": "timed out"}, K.DISBURSEMENT_TIMEOUT, "AG_x", None)


def test_answer_tags_route_to_their_result_paths_only() -> None:
    tag = callbacks.new_answer_tag()
    assert len(tag) == 32
    assert tag != callbacks.new_answer_tag()
    assert callbacks.route("/stk") == (K.COLLECTION, None)
    assert callbacks.route("status/result/" + tag) == (K.STATUS_RESULT, tag)
    assert callbacks.route("/balance/timeout/" + tag) == (K.DISBURSEMENT_TIMEOUT, tag)
    assert callbacks.route("/stk/" + tag) is None  # pushes are not answers to a query
    assert callbacks.route("/status/result/not-a-tag") is None
    assert callbacks.route("/status/result/" + tag.upper()) is None
    assert callbacks.route("/nowhere") is None


def test_every_route_has_a_neutral_path() -> None:
    for path in callbacks.CALLBACK_ROUTES:
        lowered = path.lower()
        assert path.startswith("/")
        for word in ("mpesa", "m-pesa", "safaricom", "exe", "cmd", "sql", "query"):
            assert word not in lowered
    assert len(set(callbacks.CALLBACK_ROUTES)) == 11


# --- source address and path token ----------------------------------------------------


def test_an_empty_allowlist_leaves_the_check_off() -> None:
    assert callbacks.source_allowed("8.8.8.8", ())


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("196.201.214.200", True),
        ("196.201.212.74", True),
        ("10.1.2.3", True),  # inside the CIDR
        ("10.2.0.1", False),
        ("::ffff:196.201.214.206", True),  # IPv4-mapped IPv6
        ("2001:db8::5", True),
        ("2001:db9::5", False),
        ("8.8.8.8", False),
        ("", False),
        (None, False),
        ("not-an-ip", False),
        ("196.201.214.200:443", False),
    ],
)
def test_source_allowlist_with_addresses_and_networks(address: str | None, allowed: bool) -> None:
    allowlist = [*callbacks.SAFARICOM_CALLBACK_SOURCES, "10.1.0.0/16", "2001:db8::/32"]
    assert callbacks.source_allowed(address, allowlist) is allowed
    parsed = callbacks.parse_allowlist(allowlist)
    assert callbacks.source_allowed(address, parsed) is allowed


def test_a_bad_allowlist_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'196.201.999.1'"):
        callbacks.parse_allowlist(["196.201.214.200", "196.201.999.1"])
    assert callbacks.parse_allowlist([" ", "10.0.0.1"]) == (ipaddress.ip_network("10.0.0.1"),)


@pytest.mark.parametrize(
    ("presented", "expected", "ok"),
    [
        ("s3cret-token-0123456789abcdef", SecretStr("s3cret-token-0123456789abcdef"), True),
        ("s3cret-token-0123456789abcdef", "s3cret-token-0123456789abcdef", True),
        ("s3cret-token-0123456789abcdeX", SecretStr("s3cret-token-0123456789abcdef"), False),
        ("short", SecretStr("s3cret-token-0123456789abcdef"), False),
        ("", SecretStr("s3cret-token-0123456789abcdef"), False),
        (None, SecretStr("s3cret-token-0123456789abcdef"), False),
        ("anything", None, False),
        ("", "", False),
        ("tökén", "tökén", True),
    ],
)
def test_path_token_check(presented: str | None, expected: Any, ok: bool) -> None:
    assert callbacks.token_matches(presented, expected) is ok


# --- C2B validation decision and stream attribution -----------------------------------


def validation(**overrides: Any) -> CallbackEvent:
    return parse_callback(K.C2B_VALIDATION, encode(c2b(OrgAccountBalance="", **overrides)))


def decide(event: CallbackEvent, **kw: Any) -> callbacks.C2BDecision:
    kw.setdefault("rules", RULES)
    kw.setdefault("default_stream", StreamKey.DIGITAL_PAYMENTS)
    kw.setdefault("shortcodes", {"600984"})
    return callbacks.decide_c2b_validation(event, **kw)


def test_a_known_account_reference_is_accepted_into_its_stream() -> None:
    decision = decide(validation(BillRefNumber=" air000043 "))
    assert decision.accepted
    assert decision.stream is StreamKey.AIRTIME_SALES
    assert decision.answer() == {"ResultCode": "0", "ResultDesc": "Accepted"}


def test_an_unknown_account_reference_is_rejected_with_invalid_account_number() -> None:
    decision = decide(validation(BillRefNumber="XYZ123"))
    assert not decision.accepted
    assert decision.answer() == {"ResultCode": "C2B00012", "ResultDesc": "Invalid Account Number"}


def test_unknown_references_can_be_accepted_into_the_default_stream() -> None:
    decision = decide(validation(BillRefNumber="XYZ123"), accept_unknown=True)
    assert decision.accepted
    assert decision.stream is StreamKey.DIGITAL_PAYMENTS


def test_known_reference_lists_and_predicates() -> None:
    assert decide(validation(BillRefNumber="qmoi_mpesa"), known_references=["QMOI_MPESA"]).accepted
    assert decide(validation(BillRefNumber="INV-7"), is_known=lambda r: r == "INV-7").accepted
    assert not decide(validation(BillRefNumber="INV-8"), is_known=lambda r: r == "INV-7").accepted


def test_a_till_payment_without_reference_is_accepted_into_the_default_stream() -> None:
    decision = decide(validation(BillRefNumber=""))
    assert decision.accepted
    assert decision.stream is StreamKey.DIGITAL_PAYMENTS


def test_a_payment_to_another_shortcode_is_rejected_as_invalid_shortcode() -> None:
    decision = decide(validation(BusinessShortCode="999999"))
    assert decision.answer() == {"ResultCode": "C2B00015", "ResultDesc": "Invalid Shortcode"}


def test_only_validation_requests_are_decided() -> None:
    with pytest.raises(ValueError, match="not a validation"):
        decide(parse_callback(K.C2B_CONFIRMATION, encode(c2b())))


def test_stream_attribution_takes_the_longest_prefix() -> None:
    rules = (*RULES, ("DATAX", StreamKey.MOBILE_SERVICES))
    event = parse_callback(K.C2B_CONFIRMATION, encode(c2b(BillRefNumber="datax-77")))
    assert callbacks.c2b_stream(event, rules, StreamKey.DIGITAL_PAYMENTS) is (
        StreamKey.MOBILE_SERVICES
    )
    other = parse_callback(K.C2B_CONFIRMATION, encode(c2b(BillRefNumber="ZZZ")))
    assert callbacks.c2b_stream(other, rules, StreamKey.DIGITAL_PAYMENTS) is (
        StreamKey.DIGITAL_PAYMENTS
    )


# --- matching and confirmation --------------------------------------------------------


def test_a_callback_for_a_checkout_we_never_sent_is_rejected() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success()))
    with pytest.raises(CallbackRejected) as caught:
        callbacks.verify_against(event, None)
    assert caught.value.reason == "unknown_reference"


def test_an_stk_callback_for_another_amount_is_rejected() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success()))
    expected = ExpectedTransaction("ws_CO_191220191020363925", kes(200), "254708374149")
    with pytest.raises(CallbackRejected) as caught:
        callbacks.verify_against(event, expected)
    assert caught.value.reason == "amount_mismatch"
    callbacks.verify_against(
        event, ExpectedTransaction("ws_CO_191220191020363925", kes(150), "254708374149")
    )


def _status(outcome: Outcome, amount: Money | None = None, receipt: str | None = None) -> Any:
    return ProviderStatus(outcome, "0", "", amount=amount, provider_reference=receipt)


def test_confirmation_mismatches() -> None:
    event = parse_callback(K.COLLECTION, encode(stk_success()))
    assert callbacks.confirmation_mismatches(event, _status(Outcome.SUCCEEDED)) == []
    assert callbacks.confirmation_mismatches(event, _status(Outcome.FAILED)) == [
        "outcome_contradicted"
    ]
    assert callbacks.confirmation_mismatches(event, _status(Outcome.PENDING)) == ["not_confirmed"]
    assert callbacks.confirmation_mismatches(
        event, _status(Outcome.SUCCEEDED, kes(15), "SAB00000XX")
    ) == ["amount_contradicted", "receipt_contradicted"]
    timeout = parse_callback(K.DISBURSEMENT_TIMEOUT, encode(result(1)))
    assert callbacks.confirmation_mismatches(timeout, _status(Outcome.FAILED)) == []


def test_parsing_never_mutates_the_input() -> None:
    body = stk_success()
    before = copy.deepcopy(body)
    parse_callback(K.COLLECTION, encode(body))
    assert body == before


# --- never a crash --------------------------------------------------------------------


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = [
    "ResultCode", "CheckoutRequestID", "Amount", "Value", "Name", "Item", "TransID",
    "TransAmount", "TransTime", "BusinessShortCode", "Result", "ResultParameters",
    "ResultParameter", "Key", "OriginatorConversationID", "ConversationID", "ResultType",
]  # fmt: skip
_VALID: list[dict[str, Any]] = [stk_success(), dict(STK_CANCELLED), c2b(), b2c_success(),
                                result(0, **STATUS_PARAMS)]  # fmt: skip


def _mutate(body: Any, path: list[int], value: Any) -> Any:
    """Replace one field somewhere in ``body`` (chosen by ``path``) with ``value``."""
    if isinstance(body, dict) and body:
        keys = sorted(body)
        key = keys[path[0] % len(keys)] if path else keys[0]
        copy_ = dict(body)
        copy_[key] = value if len(path) <= 1 else _mutate(body[key], path[1:], value)
        return copy_
    if isinstance(body, list) and body:
        index = path[0] % len(body) if path else 0
        items = list(body)
        items[index] = value if len(path) <= 1 else _mutate(body[index], path[1:], value)
        return items
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(list(CallbackKind)), body=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_a_parser(kind: CallbackKind, body: bytes) -> None:
    try:
        parse_callback(kind, body)
    except CallbackRejected:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(list(CallbackKind)),
    base=st.sampled_from(range(len(_VALID))),
    path=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=6),
    value=_json | st.sampled_from(_FIELDS),
)
def test_mutated_valid_bodies_never_crash_a_parser(
    kind: CallbackKind, base: int, path: list[int], value: Any
) -> None:
    body = _mutate(_VALID[base], path, value)
    try:
        event = parse_callback(kind, json.dumps(body).encode())
    except CallbackRejected as exc:
        reason = exc.reason
        event = None
    if event is None:
        assert reason
        return
    assert event.event_id
    json.dumps(event.raw)  # always storable
    if event.status.amount is not None:
        assert event.status.amount.minor > 0
        assert event.status.amount.minor % 100 == 0
