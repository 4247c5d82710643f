"""Airtel code tables (doc §10, §11, §16): every documented code is mapped, ambiguity is
never a failure, and answers are read on their codes rather than HTTP or ``success``."""

from __future__ import annotations

import pytest

from qmoi.providers.airtel import wire
from qmoi.providers.airtel.translate import (
    ACCOUNT_CODES,
    COLLECTION_CODES,
    DISBURSEMENT_CODES,
    RESULT_CODES,
    ROUTER_CODES,
    TRANSACTION_STATUS,
    Product,
    Verdict,
    http_info,
    lookup,
    read_enquiry,
    read_status_block,
    read_transaction_status,
    read_write_answer,
    reason_from_message,
)
from qmoi.providers.base import FailureReason, Outcome

pytestmark = pytest.mark.airtel

R = FailureReason

#: Every code named anywhere in docs/providers/airtel.md (§4.1, §5, §7, §8, §9, §11).
DOCUMENTED_CODES = """
DP00800001000 DP00800001001 DP00800001002 DP00800001003 DP00800001004 DP00800001005
DP00800001006 DP00800001007 DP00800001008 DP00800001009 DP00800001010 DP00800001024
DP00800001025 DP00800001026 DP00800001029 DP00900001000 DP00900001001 DP00900001003
DP00900001004 DP00900001005 DP00900001006 DP00900001007 DP00900001009 DP00900001010
DP00900001011 DP00900001012 DP00900001013 DP00900001014 DP00900001015 DP00900001016
DP00900001017 DP02010001000 DP02010001001 DP02100000000 DP02100000001 DP02100000002
DP02200000000 DP02200000001 ESB000001 ESB000004 ESB000008 ESB000010 ESB000011 ESB000014
ESB000033 ESB000034 ESB000035 ESB000036 ESB000039 ESB000041 ESB000045 ROUTER001 ROUTER003
ROUTER005 ROUTER006 ROUTER007 ROUTER110 ROUTER112 ROUTER114 ROUTER115 ROUTER116 ROUTER117
ROUTER119
""".split()


def _envelope(
    response_code: str | None,
    result_code: str | None = "ESB000010",
    *,
    message: str = "SUCCESS",
    success: bool = True,
    tx: dict[str, str] | None = None,
) -> wire.Envelope:
    body: dict[str, object] = {
        "status": {
            "code": "200",
            "message": message,
            "result_code": result_code,
            "response_code": response_code,
            "success": success,
        }
    }
    if tx is not None:
        body["data"] = {"transaction": tx}
    return wire.Envelope.model_validate(body)


def test_every_documented_code_is_in_a_table() -> None:
    tables = [COLLECTION_CODES, DISBURSEMENT_CODES, ACCOUNT_CODES, RESULT_CODES, ROUTER_CODES]
    known = set().union(*tables)
    assert set(DOCUMENTED_CODES) - known == set()
    assert set(TRANSACTION_STATUS) == {"TS", "TF", "TA", "TIP", "TE"}


def test_every_row_maps_to_an_outcome_and_failures_carry_a_reason() -> None:
    tables = [COLLECTION_CODES, DISBURSEMENT_CODES, ACCOUNT_CODES, RESULT_CODES, ROUTER_CODES]
    for table in [*tables, TRANSACTION_STATUS]:
        for code, info in table.items():
            assert isinstance(info.outcome, Outcome), code
            if info.verdict in (Verdict.FAILED, Verdict.REJECTED):
                assert info.reason is not None, code
            assert info.meaning, code


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        ("TS", Outcome.SUCCEEDED, None),
        ("TF", Outcome.FAILED, R.OTHER),
        ("TA", Outcome.UNKNOWN, None),
        ("TIP", Outcome.PENDING, None),
        ("TE", Outcome.FAILED, R.EXPIRED),
    ],
)
def test_transaction_statuses(status: str, outcome: Outcome, reason: R | None) -> None:
    reading = read_transaction_status(status, None, "MP1")
    assert reading is not None
    assert reading.outcome is outcome
    assert reading.reason is reason
    assert reading.code == status


def test_ta_is_unknown_not_failed_and_keeps_no_reference() -> None:
    """§10: some clients map TA to failed — an ambiguous payout may still have been paid."""
    reading = read_transaction_status("TA", "ambiguous", "MP1")
    assert reading is not None
    assert reading.outcome is Outcome.UNKNOWN
    assert reading.provider_reference is None


@pytest.mark.parametrize(
    "code",
    ["ESB000001", "ESB000004", "DP00800001000", "DP00900001000", "DP00900001014", "ROUTER117"],
)
def test_section_16_ambiguous_codes_are_unknown(code: str) -> None:
    info = lookup(Product.DISBURSEMENT, code)
    assert info is not None
    assert info.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("DP00800001002", R.INVALID_PIN),
        ("DP00800001003", R.LIMIT_EXCEEDED),
        ("DP00800001007", R.INSUFFICIENT_FUNDS),
        ("DP00800001008", R.CANCELLED),
        ("DP00800001010", R.ACCOUNT_BLOCKED),
        ("DP00800001024", R.TIMEOUT),
        ("DP00800001029", R.EXPIRED),
        ("DP00900001003", R.LIMIT_EXCEEDED),
        ("DP00900001007", R.INSUFFICIENT_FUNDS),
        ("DP00900001012", R.INVALID_NUMBER),
        ("ESB000033", R.INVALID_NUMBER),
        ("ESB000036", R.INVALID_NUMBER),
        ("ROUTER115", R.INVALID_PIN),
        ("ROUTER116", R.INVALID_PIN),
    ],
)
def test_failure_reasons(code: str, reason: R) -> None:
    info = lookup(Product.COLLECTION, code)
    assert info is not None
    assert info.outcome is Outcome.FAILED
    assert info.reason is reason


def test_duplicates_and_not_found_are_not_final() -> None:
    for code in ("ESB000041", "DP00900001011", "DP00900001017"):
        info = lookup(Product.DISBURSEMENT, code)
        assert info is not None, code
        assert info.verdict is Verdict.DUPLICATE, code
        assert info.outcome is Outcome.UNKNOWN
    for code in ("ESB000045", "DP00800001025", "DP00900001015"):
        info = lookup(Product.COLLECTION, code)
        assert info is not None, code
        assert info.verdict is Verdict.NOT_FOUND, code
        assert info.outcome is Outcome.UNKNOWN
        assert info.reason is R.NOT_FOUND


def test_http_statuses() -> None:
    for status in (408, 429, 500, 502, 503, 504):
        info = http_info(status)
        assert info is not None, status
        assert info.outcome is Outcome.UNKNOWN, status
    assert http_info(200) is None
    info = http_info(404)
    assert info is not None
    assert info.verdict is Verdict.REJECTED


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Incorrect Encrypted Pin", R.INVALID_PIN),
        ("Invalid Msisdn Length. Msisdn Length should be 9", R.INVALID_NUMBER),
        ("Insufficient funds in wallet", R.INSUFFICIENT_FUNDS),
        ("Transaction cancelled by user", R.CANCELLED),
        ("User did not enter PIN in time", R.TIMEOUT),
        ("Request timed out", R.TIMEOUT),
        ("Invalid Country Code", R.INVALID_REQUEST),
        ("Invalid/Missing Currency", R.INVALID_REQUEST),
        ("something else", None),
        (None, None),
    ],
)
def test_reason_from_message(message: str | None, reason: R | None) -> None:
    assert reason_from_message(message) is reason


def test_success_flag_alone_decides_nothing() -> None:
    """§3 rule 2: success false next to a success code is still success of the call."""
    reading = read_status_block(Product.ACCOUNT, _envelope("DP02100000001", success=False).status)
    assert reading.verdict is Verdict.CALL_OK


def test_unknown_codes_are_unknown() -> None:
    reading = read_status_block(Product.COLLECTION, _envelope("DP99", "521002").status)
    assert reading.verdict is Verdict.UNKNOWN
    assert reading.code == "DP99"


def test_duplicate_in_result_code_beats_catch_all_response_code() -> None:
    envelope = _envelope("DP00800001008", "ESB000041", message="Duplicate", success=False)
    reading = read_write_answer(Product.COLLECTION, envelope)
    assert reading.verdict is Verdict.DUPLICATE
    assert reading.code == "ESB000041"


def test_specific_esb_reason_beats_catch_all_dp() -> None:
    envelope = _envelope("DP00800001008", "ESB000033", message="Refused", success=False)
    reading = read_write_answer(Product.COLLECTION, envelope)
    assert reading.verdict is Verdict.FAILED
    assert reading.reason is R.INVALID_NUMBER


def test_ambiguity_beats_a_failure() -> None:
    envelope = _envelope("DP00900001014", "ESB000011", message="Timed out", success=False)
    assert read_write_answer(Product.DISBURSEMENT, envelope).verdict is Verdict.UNKNOWN


class TestWriteAnswers:
    def test_push_accepted_is_pending_never_paid(self) -> None:
        envelope = _envelope("DP00800001006", tx={"id": "c1", "status": "SUCCESS"})
        reading = read_write_answer(Product.COLLECTION, envelope)
        assert reading.outcome is Outcome.PENDING

    def test_push_answered_success_is_still_only_pending(self) -> None:
        envelope = _envelope("DP00800001001", tx={"id": "c1", "status": "TS"})
        assert read_write_answer(Product.COLLECTION, envelope).outcome is Outcome.PENDING

    def test_push_timed_out_is_unknown(self) -> None:
        envelope = _envelope("DP00800001024", "ESB000011", success=False)
        assert read_write_answer(Product.COLLECTION, envelope).outcome is Outcome.UNKNOWN

    def test_disbursement_success_with_ts(self) -> None:
        envelope = _envelope(
            "DP00900001001",
            message="You have sent KES 2000.00 to 733123456. Bal KES 19999.91",
            tx={"id": "d1", "status": "TS", "airtel_money_id": "AM1", "reference_id": "CI1"},
        )
        reading = read_write_answer(Product.DISBURSEMENT, envelope)
        assert reading.outcome is Outcome.SUCCEEDED
        assert reading.provider_reference == "AM1"

    def test_disbursement_success_code_but_tip(self) -> None:
        envelope = _envelope("DP00900001001", tx={"id": "d1", "status": "TIP"})
        assert read_write_answer(Product.DISBURSEMENT, envelope).outcome is Outcome.PENDING

    def test_disbursement_in_process(self) -> None:
        envelope = _envelope("DP00900001006", tx={"id": "d1", "status": "TIP"})
        assert read_write_answer(Product.DISBURSEMENT, envelope).outcome is Outcome.PENDING

    def test_wrong_pin_is_a_failure_with_reason(self) -> None:
        envelope = _envelope(
            "DP00900001013", "ESB000008", message="Incorrect Encrypted Pin", success=False
        )
        reading = read_write_answer(Product.DISBURSEMENT, envelope)
        assert reading.verdict is Verdict.FAILED
        assert reading.reason is R.INVALID_PIN
        assert reading.code == "DP00900001013"

    def test_bad_country_is_a_rejection(self) -> None:
        envelope = _envelope(
            "DP00900001013", "ESB000011", message="Invalid Country Code", success=False
        )
        assert read_write_answer(Product.DISBURSEMENT, envelope).verdict is Verdict.REJECTED

    def test_insufficient_funds(self) -> None:
        envelope = _envelope("DP00900001007", "ESB000011", success=False, message="Low")
        reading = read_write_answer(Product.DISBURSEMENT, envelope)
        assert (reading.outcome, reading.reason) == (Outcome.FAILED, R.INSUFFICIENT_FUNDS)

    def test_refund_documented_answer_is_success(self) -> None:
        envelope = _envelope(
            "DP00800001006", tx={"airtel_money_id": "CI260101.1230.C00029", "status": "SUCCESS"}
        )
        reading = read_write_answer(Product.REFUND, envelope)
        assert reading.outcome is Outcome.SUCCEEDED
        assert reading.provider_reference == "CI260101.1230.C00029"

    def test_failure_code_next_to_a_paid_status_is_unknown(self) -> None:
        envelope = _envelope(
            "DP00900001005", "ESB000011", success=False, tx={"id": "d1", "status": "TS"}
        )
        assert read_write_answer(Product.DISBURSEMENT, envelope).verdict is Verdict.UNKNOWN

    def test_no_codes_at_all_is_unknown(self) -> None:
        envelope = _envelope(None, None)
        assert read_write_answer(Product.DISBURSEMENT, envelope).verdict is Verdict.UNKNOWN


class TestEnquiries:
    def test_status_decides_not_the_response_code(self) -> None:
        tx = {"airtel_money_id": "MP1", "id": "c1", "message": "success", "status": "TS"}
        for code in ("DP00800001001", "DP00800001006"):
            reading = read_enquiry(Product.COLLECTION, _envelope(code, tx=tx))
            assert reading.outcome is Outcome.SUCCEEDED
            assert reading.provider_reference == "MP1"

    def test_failed_takes_reason_from_response_code(self) -> None:
        tx = {"id": "c1", "message": "Not enough balance", "status": "TF"}
        reading = read_enquiry(Product.COLLECTION, _envelope("DP00800001007", tx=tx))
        assert (reading.outcome, reading.reason) == (Outcome.FAILED, R.INSUFFICIENT_FUNDS)

    def test_failed_takes_reason_from_message(self) -> None:
        tx = {"id": "c1", "message": "Transaction cancelled by the customer", "status": "TF"}
        reading = read_enquiry(Product.COLLECTION, _envelope("DP00800001001", tx=tx))
        assert (reading.outcome, reading.reason) == (Outcome.FAILED, R.CANCELLED)

    def test_in_progress_is_pending(self) -> None:
        tx = {"id": "c1", "status": "TIP"}
        assert read_enquiry(Product.COLLECTION, _envelope("DP00800001006", tx=tx)).outcome is (
            Outcome.PENDING
        )

    def test_not_found(self) -> None:
        envelope = _envelope("DP00800001025", "ESB000045", success=False)
        reading = read_enquiry(Product.COLLECTION, envelope)
        assert reading.verdict is Verdict.NOT_FOUND
        assert (reading.outcome, reading.reason) == (Outcome.UNKNOWN, R.NOT_FOUND)

    def test_fetch_error_is_retry(self) -> None:
        envelope = _envelope(None, "ESB000014", success=False)
        assert read_enquiry(Product.COLLECTION, envelope).verdict is Verdict.RETRY

    def test_success_code_without_status_is_not_a_payment(self) -> None:
        envelope = _envelope("DP00800001001")
        assert read_enquiry(Product.COLLECTION, envelope).outcome is Outcome.UNKNOWN

    def test_unknown_status_value_falls_back_to_codes(self) -> None:
        envelope = _envelope("DP00800001000", tx={"id": "c1", "status": "WEIRD"})
        assert read_enquiry(Product.COLLECTION, envelope).outcome is Outcome.UNKNOWN
