"""Daraja's code tables and value conversions (doc §5, §7, §8.2, §11, §12)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qmoi.domain.errors import CurrencyMismatch, InvalidAmount
from qmoi.domain.money import Money
from qmoi.providers.base import FailureReason, Outcome
from qmoi.providers.mpesa import translate, wire
from qmoi.providers.mpesa.translate import AmountError, ErrorKind

pytestmark = pytest.mark.mpesa

R = FailureReason


@pytest.mark.parametrize(
    ("code", "outcome", "reason"),
    [
        ("0", Outcome.SUCCEEDED, None),
        ("1", Outcome.FAILED, R.INSUFFICIENT_FUNDS),
        ("2", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("3", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("4", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("8", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("17", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("1001", Outcome.FAILED, R.OTHER),
        ("1019", Outcome.FAILED, R.EXPIRED),
        ("1025", Outcome.FAILED, R.INVALID_REQUEST),
        ("1032", Outcome.FAILED, R.CANCELLED),
        ("1037", Outcome.FAILED, R.TIMEOUT),
        ("2001", Outcome.FAILED, R.INVALID_PIN),
        ("2028", Outcome.FAILED, R.AUTHORIZATION),
        ("8006", Outcome.FAILED, R.ACCOUNT_BLOCKED),
        ("SFC_IC0003", Outcome.FAILED, R.INVALID_REQUEST),
    ],
)
def test_every_documented_stk_code_has_a_meaning(
    code: str, outcome: Outcome, reason: FailureReason | None
) -> None:
    status = translate.status_from(translate.STK_RESULTS, code, "text from Daraja")
    assert (status.outcome, status.reason) == (outcome, reason)
    assert status.provider_code == code
    assert status.provider_message == "text from Daraja"


def test_stk_table_covers_exactly_the_documented_codes() -> None:
    assert set(translate.STK_RESULTS) == {
        "0", "1", "2", "3", "4", "8", "17", "1001", "1019", "1025", "1032", "1037",
        "2001", "2028", "8006", "SFC_IC0003",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "outcome", "reason"),
    [
        ("0", Outcome.SUCCEEDED, None),
        ("1", Outcome.FAILED, R.INSUFFICIENT_FUNDS),
        ("2", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("3", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("4", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("8", Outcome.FAILED, R.LIMIT_EXCEEDED),
        ("11", Outcome.FAILED, R.ACCOUNT_BLOCKED),
        ("21", Outcome.FAILED, R.AUTHORIZATION),
        ("2001", Outcome.FAILED, R.AUTHORIZATION),
        ("2006", Outcome.FAILED, R.ACCOUNT_BLOCKED),
        ("2028", Outcome.FAILED, R.AUTHORIZATION),
        ("2040", Outcome.FAILED, R.INVALID_NUMBER),
        ("8006", Outcome.FAILED, R.AUTHORIZATION),
        ("SFC_IC0003", Outcome.FAILED, R.INVALID_NUMBER),
        # generic ApiResult codes (§12.3)
        ("15", Outcome.UNKNOWN, R.DUPLICATE),
        ("17", Outcome.UNKNOWN, None),
        ("18", Outcome.FAILED, R.AUTHORIZATION),
        ("19", Outcome.UNKNOWN, None),
        ("20", Outcome.FAILED, R.AUTHORIZATION),
        ("22", Outcome.FAILED, R.AUTHORIZATION),
        ("24", Outcome.FAILED, R.INVALID_REQUEST),
        ("25", Outcome.FAILED, R.INVALID_REQUEST),
        ("26", Outcome.FAILED, R.OTHER),
        ("29", Outcome.FAILED, R.INVALID_REQUEST),
        ("100000000", Outcome.PENDING, None),
        ("100000001", Outcome.FAILED, R.OTHER),
        ("100000002", Outcome.FAILED, R.OTHER),
        ("100000004", Outcome.UNKNOWN, None),
        ("100000005", Outcome.FAILED, R.INVALID_REQUEST),
        ("100000007", Outcome.UNKNOWN, None),
        ("100000009", Outcome.UNKNOWN, None),
        ("100000010", Outcome.FAILED, R.AUTHORIZATION),
        ("100000011", Outcome.FAILED, R.OTHER),
        ("00.002.1001", Outcome.FAILED, R.OTHER),
    ],
)
def test_every_documented_b2c_and_generic_code_has_a_meaning(
    code: str, outcome: Outcome, reason: FailureReason | None
) -> None:
    status = translate.status_from(translate.B2C_RESULTS, code, "")
    assert (status.outcome, status.reason) == (outcome, reason)
    assert status.provider_message  # falls back to the table's text


def test_b2c_duplicate_result_is_unknown_because_the_first_payout_may_have_paid() -> None:
    status = translate.status_from(translate.B2C_RESULTS, "15", "Duplicate detected")
    assert status.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("code", "outcome", "reason"),
    [
        ("0", Outcome.SUCCEEDED, None),
        ("R000001", Outcome.FAILED, R.DUPLICATE),
        ("R000002", Outcome.FAILED, R.NOT_FOUND),
        ("2001", Outcome.FAILED, R.AUTHORIZATION),
        ("1", Outcome.FAILED, R.INSUFFICIENT_FUNDS),
    ],
)
def test_reversal_codes(code: str, outcome: Outcome, reason: FailureReason | None) -> None:
    status = translate.status_from(translate.REVERSAL_RESULTS, code, "x")
    assert (status.outcome, status.reason) == (outcome, reason)


@pytest.mark.parametrize("code", ["9999", "C2B00099", "abc", "100000003"])
def test_unknown_codes_are_unknown_never_failed(code: str) -> None:
    for table in (translate.STK_RESULTS, translate.B2C_RESULTS, translate.REVERSAL_RESULTS):
        status = translate.status_from(table, code, "new code")
        assert status.outcome is Outcome.UNKNOWN
        assert status.provider_code == code


def test_failure_never_carries_the_placeholder_receipt_or_an_amount() -> None:
    status = translate.status_from(
        translate.B2C_RESULTS, "2001", "bad", provider_reference="SG70000000",
        amount=Money(200000, "KES"),
    )  # fmt: skip
    assert status.provider_reference is None
    assert status.amount is None


def test_c2b_validation_codes_are_the_documented_six_plus_accept() -> None:
    assert translate.C2B_VALIDATION_RESULTS == {
        "0": "Accepted",
        "C2B00011": "Invalid MSISDN",
        "C2B00012": "Invalid Account Number",
        "C2B00013": "Invalid Amount",
        "C2B00014": "Invalid KYC Details",
        "C2B00015": "Invalid Shortcode",
        "C2B00016": "Other Error",
    }


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, "400.002.02", "Bad Request - Invalid Amount", ErrorKind.REJECTED),
        (400, "400.002.05", "Invalid request payload", ErrorKind.REJECTED),
        (400, "400.003.01", "Invalid Access Token", ErrorKind.TOKEN),
        (401, "401.002.01", "Invalid Access Token", ErrorKind.TOKEN),
        (404, "404.001.03", "Invalid Access Token", ErrorKind.TOKEN),
        (404, "404.001.04", "Invalid Authentication Header", ErrorKind.TOKEN),
        (400, "400.008.01", "Invalid Authentication passed", ErrorKind.AUTHENTICATION),
        (400, "400.008.02", "Invalid grant type passed", ErrorKind.AUTHENTICATION),
        (404, "404.001.01", "Resource not found", ErrorKind.REJECTED),
        (405, "405.001", "Method not allowed", ErrorKind.REJECTED),
        (500, "500.001.1001", "Merchant does not exist", ErrorKind.REJECTED),
        (500, "500.001.1001", "Wrong credentials", ErrorKind.AUTHENTICATION),
        (
            500,
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current "
            "subscriber",
            ErrorKind.REJECTED,
        ),
        (500, "500.001.1001", "The transaction is being processed", ErrorKind.IN_PROGRESS),
        (500, "500.001.1001", "Something new", ErrorKind.UNKNOWN),
        (500, "500.002.1001", "Duplicate OriginatorConversationID", ErrorKind.DUPLICATE),
        (500, "500.003.02", "Spike Arrest Violation", ErrorKind.THROTTLED),
        (500, "500.003.03", "Quota Violation", ErrorKind.THROTTLED),
        (500, "500.003.1001", "Internal Server Error", ErrorKind.UNKNOWN),
        (500, "500.003.1001", "Urls are already registered", ErrorKind.REJECTED),
        (500, "500.003.1001", "Duplicate notification info", ErrorKind.REJECTED),
        (502, None, "", ErrorKind.UNKNOWN),
        (503, None, "", ErrorKind.UNKNOWN),
        (200, None, "", ErrorKind.UNKNOWN),  # a 200 we cannot read
        (429, None, "", ErrorKind.THROTTLED),
        (400, None, "", ErrorKind.REJECTED),
    ],
)
def test_synchronous_errors_are_classed_by_code_then_message(
    status: int, code: str | None, message: str, kind: ErrorKind
) -> None:
    assert translate.classify_error(status, code, message).kind is kind


def test_every_documented_error_code_is_in_the_table() -> None:
    documented = {
        "400.002.02", "400.002.05", "400.003.01", "401.002.01", "404.001.03", "400.003.02",
        "400.008.01", "400.008.02", "404.001.01", "404.002.01", "404.003.01", "404.001.04",
        "405.001", "500.001.1001", "500.002.1001", "500.003.02", "500.003.03", "500.003.1001",
    }  # fmt: skip
    assert documented <= set(translate.SYNC_ERRORS)


# --- amounts --------------------------------------------------------------------------


def test_whole_shillings_go_out_as_integers() -> None:
    assert translate.to_shillings(Money(15000, "KES")) == 150


def test_a_fractional_shilling_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidAmount, match="whole shillings"):
        translate.to_shillings(Money(15050, "KES"))


def test_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        translate.to_shillings(Money(15000, "UGX"))


@pytest.mark.parametrize("minor", [0, -100, 25_000_100])
def test_amounts_outside_the_per_transaction_range_are_refused(minor: int) -> None:
    with pytest.raises(InvalidAmount):
        translate.to_shillings(Money(minor, "KES"))


@pytest.mark.parametrize(
    ("value", "minor"),
    [(150, 15000), (Decimal("150.00"), 15000), ("150.00", 15000), ("1,250", 125000)],
)
def test_reported_amounts_become_money(value: str | int | Decimal, minor: int) -> None:
    assert translate.transaction_amount(value) == Money(minor, "KES")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("150.50"), "fractional_amount"),
        ("150.5", "fractional_amount"),
        (0, "invalid_amount"),
        (-150, "invalid_amount"),
        ("-150.00", "invalid_amount"),
        (10**40, "invalid_amount"),
        (Decimal("1E+400"), "invalid_amount"),
        ("1e5", "invalid_amount"),
        ("NaN", "invalid_amount"),
        (True, "invalid_amount"),
        (None, "missing_field"),
    ],
)
def test_implausible_reported_amounts_are_refused(
    value: str | int | Decimal | None, reason: str
) -> None:
    with pytest.raises(AmountError) as caught:
        translate.transaction_amount(value)
    assert caught.value.reason == reason


def test_balances_keep_cents_and_sign() -> None:
    assert translate.balance_amount("-1540.25") == Money(-154025, "KES")
    with pytest.raises(AmountError):
        translate.balance_amount("1.005")


def test_fee_is_read_from_debit_party_charges() -> None:
    assert translate.fee_from_charges("Fee For B2C Payment|KES|22.40") == Money(2240, "KES")
    assert translate.fee_from_charges("") is None
    assert translate.fee_from_charges("Fee|USD|1.00") is None


# --- time -----------------------------------------------------------------------------


def test_timestamps_are_written_in_nairobi_time() -> None:
    instant = datetime(2026, 1, 1, 21, 30, 15, tzinfo=UTC)  # already 2 January in Nairobi
    assert translate.nairobi_timestamp(instant) == "20260102003015"


def test_zone_less_daraja_times_are_read_as_nairobi() -> None:
    assert translate.compact_time("20260101093102") == datetime(2026, 1, 1, 6, 31, 2, tzinfo=UTC)
    assert translate.dotted_time("01.01.2026 10:20:31") == datetime(
        2026, 1, 1, 7, 20, 31, tzinfo=UTC
    )
    assert translate.any_time("garbage") is None


def test_msisdns_are_masked_to_the_last_three_digits() -> None:
    assert translate.mask_msisdn("254708374149") == "*********149"
    assert translate.msisdn_prefix("254708374149 - JOHN DOE") == "254708374149"
    assert translate.msisdn_prefix("2547*****149 - JOHN DOE") is None


def test_a_statement_page_is_read_and_an_unreadable_line_names_nothing() -> None:
    page = wire.read_pull_page(
        {
            "ResponseRefID": "r-1",
            "ResponseCode": "1000",
            "ResponseMessage": "Success",
            "Response": [
                [
                    {"transactionId": "UL1", "trxDate": "2026-12-04T10:00:05+03:00",
                     "msisdn": 254708374149, "amount": "150", "billreference": "X"},
                    {"transactionId": "UL2", "trxDate": "2026-12-04T10:01:00+03:00",
                     "msisdn": "masked", "amount": "150.50"},
                ]
            ],
        }
    )  # fmt: skip
    first, second = (translate.pulled_status(line) for line in page)
    assert first.outcome is Outcome.SUCCEEDED
    assert (first.provider_reference, first.msisdn) == ("UL1", "254708374149")
    assert first.amount == Money(15_000, "KES")
    assert first.completed_at == datetime(2026, 12, 4, 7, 0, 5, tzinfo=UTC)
    assert second.outcome is Outcome.UNKNOWN  # fractional shillings: not a payment we know
    with pytest.raises(wire.WireError):
        wire.read_pull_page({"ResponseCode": "1001", "ResponseMessage": "No records"})


def test_a_full_statement_page_is_read_and_a_longer_one_refused() -> None:
    """A page holds up to PULL_PAGE lines — far more than a result's parameter lists
    (the chaos run found pages of a few hundred refused as unreadable)."""

    def answer(count: int) -> dict[str, object]:
        line = {"transactionId": "UL1", "trxDate": "2026-12-04T10:00:05+03:00",
                "msisdn": 254708374149, "amount": "150"}  # fmt: skip
        return {"ResponseCode": "1000", "Response": [[line] * count]}

    assert len(wire.read_pull_page(answer(wire.PULL_PAGE))) == wire.PULL_PAGE
    with pytest.raises(wire.WireError, match="more than"):
        wire.read_pull_page(answer(wire.PULL_PAGE + 1))


def test_a_statement_end_is_rounded_up_to_a_whole_second() -> None:
    from datetime import UTC, datetime

    from qmoi.providers.mpesa.translate import pull_time, whole_second_after

    within = datetime(2026, 12, 7, 20, 59, 59, 950_000, tzinfo=UTC)
    assert pull_time(whole_second_after(within)) == "2026-12-08 00:00:00"  # Nairobi
    exact = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
    assert whole_second_after(exact) == exact
