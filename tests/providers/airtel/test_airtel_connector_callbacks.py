"""Airtel callbacks (doc §6): valid ones parse to a stable event, forged, malformed and
hostile ones are rejected with a reason and never crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.providers.airtel.airtel_connector_kit import make_settings

from qmoi.domain.money import Money
from qmoi.providers.airtel import AirtelConnector, crypto
from qmoi.providers.base import (
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    FailureReason,
    Outcome,
)

pytestmark = pytest.mark.airtel

SECRET = "my-callback-private-key"
TX: dict[str, Any] = {
    "id": "ord-0001",
    "message": "Paid KES 100",
    "status_code": "TS",
    "airtel_money_id": "MP240101.1200.A00001",
}
COLLECTION = CallbackKind.COLLECTION


def _body(tx: dict[str, Any] | None = None, **top: Any) -> bytes:
    return json.dumps({"transaction": tx if tx is not None else TX, **top}).encode()


def _signed(tx: dict[str, Any], scope: str = "outer", key: str = SECRET) -> bytes:
    inner = json.dumps(tx, separators=(",", ":"), ensure_ascii=False)
    message = ('{"transaction":' + inner + "}") if scope == "outer" else inner
    return _body(tx, hash=crypto.callback_hash(message.encode(), key))


@pytest.fixture
def plain(connect: Callable[..., AirtelConnector]) -> AirtelConnector:
    return connect()


@pytest.fixture
def authed(connect: Callable[..., AirtelConnector]) -> AirtelConnector:
    return connect(make_settings(callback_auth=True, callback_secret=SECRET))


def _reason(connector: AirtelConnector, body: bytes, kind: CallbackKind = COLLECTION) -> str:
    with pytest.raises(CallbackRejected) as caught:
        connector.parse_callback(kind, {}, body)
    return caught.value.reason


class TestValid:
    def test_success_callback(self, plain: AirtelConnector) -> None:
        event = plain.parse_callback(COLLECTION, {"content-type": "application/json"}, _body())
        assert event.provider == "airtel"
        assert event.kind is COLLECTION
        assert event.reference == "ord-0001"
        assert event.status.outcome is Outcome.SUCCEEDED
        assert event.status.provider_code == "TS"
        assert event.status.provider_reference == "MP240101.1200.A00001"
        assert event.status.provider_message == "Paid KES 100"
        assert event.status.amount is None  # Airtel's callback carries no amount (§6)
        assert event.raw["transaction"]["id"] == "ord-0001"

    def test_failed_callback_reason_from_message(self, plain: AirtelConnector) -> None:
        tx = TX | {"status_code": "TF", "message": "Insufficient balance", "airtel_money_id": None}
        event = plain.parse_callback(COLLECTION, {}, _body(tx))
        assert event.status.outcome is Outcome.FAILED
        assert event.status.reason is FailureReason.INSUFFICIENT_FUNDS

    @pytest.mark.parametrize(
        ("status", "outcome"),
        [("TIP", Outcome.PENDING), ("TA", Outcome.UNKNOWN), ("TE", Outcome.FAILED)],
    )
    def test_intermediate_statuses_are_accepted_not_final(
        self, plain: AirtelConnector, status: str, outcome: Outcome
    ) -> None:
        event = plain.parse_callback(COLLECTION, {}, _body(TX | {"status_code": status}))
        assert event.status.outcome is outcome

    def test_disbursement_callback(self, plain: AirtelConnector) -> None:
        event = plain.parse_callback(CallbackKind.DISBURSEMENT, {}, _body())
        assert event.kind is CallbackKind.DISBURSEMENT
        assert event.event_id != plain.parse_callback(COLLECTION, {}, _body()).event_id

    def test_unknown_fields_are_tolerated(self, plain: AirtelConnector) -> None:
        tx = TX | {"new_thing": {"nested": [1, 2]}, "reference_id": "x"}
        event = plain.parse_callback(COLLECTION, {}, _body(tx, extra_top=True))
        assert event.status.outcome is Outcome.SUCCEEDED
        assert event.raw["extra_top"] is True

    def test_duplicates_share_the_event_id(self, plain: AirtelConnector) -> None:
        first = plain.parse_callback(COLLECTION, {}, _body())
        again = plain.parse_callback(COLLECTION, {}, json.dumps({"transaction": TX}).encode())
        assert first.event_id == again.event_id == "airtel:collection:ord-0001:TS"
        later = plain.parse_callback(COLLECTION, {}, _body(TX | {"status_code": "TIP"}))
        assert later.event_id != first.event_id

    def test_amount_and_msisdn_variants_are_read(self, plain: AirtelConnector) -> None:
        tx = TX | {"amount": "150.50", "msisdn": "0733123456"}
        event = plain.parse_callback(COLLECTION, {}, _body(tx))
        assert event.status.amount == Money(15050, "KES")
        assert event.status.msisdn == "254733123456"


class TestHash:
    @pytest.mark.parametrize("scope", ["outer", "inner"])
    def test_documented_hash_forms_verify(self, authed: AirtelConnector, scope: str) -> None:
        event = authed.parse_callback(COLLECTION, {}, _signed(TX, scope))
        assert event.status.outcome is Outcome.SUCCEEDED

    def test_documented_vector(self, authed: AirtelConnector) -> None:
        body = _body(TX, hash="o6KnBEM95RFTc2pcyFL+mhG1FtWCXhJsOaKbwbzCMJE=")
        assert authed.parse_callback(COLLECTION, {}, body).reference == "ord-0001"

    def test_hash_with_non_ascii_message(self, authed: AirtelConnector) -> None:
        tx = TX | {"message": "Paid KES 100 à QMOI — merci"}
        assert authed.parse_callback(COLLECTION, {}, _signed(tx)).reference == "ord-0001"

    def test_forged_hash(self, authed: AirtelConnector) -> None:
        assert _reason(authed, _signed(TX, key="attacker-key")) == "hash_mismatch"

    def test_altered_body(self, authed: AirtelConnector) -> None:
        signed = json.loads(_signed(TX))
        signed["transaction"]["status_code"] = "TS"
        signed["transaction"]["id"] = "ord-0002"
        assert _reason(authed, json.dumps(signed).encode()) == "hash_mismatch"

    def test_missing_hash_when_required(self, authed: AirtelConnector) -> None:
        assert _reason(authed, _body()) == "hash_missing"

    def test_hash_of_wrong_type(self, authed: AirtelConnector) -> None:
        assert _reason(authed, _body(TX, hash=12345)) == "wrong_type"

    def test_present_hash_checked_when_secret_known(
        self, connect: Callable[..., AirtelConnector]
    ) -> None:
        connector = connect(make_settings(callback_auth=False, callback_secret=SECRET))
        assert _reason(connector, _signed(TX, key="attacker-key")) == "hash_mismatch"
        assert connector.parse_callback(COLLECTION, {}, _body()).reference == "ord-0001"


class TestHostile:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"", "malformed_json"),
            (b"{not json", "malformed_json"),
            (b"\xff\xfe{}", "malformed_json"),
            (b"[1, 2]", "not_an_object"),
            (b'"text"', "not_an_object"),
            (b"{}", "missing_field"),
            (b'{"transaction": {"id": "x"}}', "missing_field"),
            (b'{"transaction": "TS"}', "wrong_type"),
            (b'{"transaction": {"id": 42, "status_code": "TS"}}', "wrong_type"),
            (b'{"transaction": {"id": "x", "status_code": 1}}', "wrong_type"),
            (b'{"transaction": {"id": "x", "status_code": "TS", "message": []}}', "wrong_type"),
            (b'{"transaction": {"id": "x", "status_code": "DONE"}}', "unknown_status"),
            (b'{"transaction": {"id": "", "status_code": "TS"}}', "bad_value"),
            (b'{"transaction": {"id": "a b", "status_code": "TS"}}', "bad_value"),
            (b'{"transaction": {"id": "x", "id": "y", "status_code": "TS"}}', "duplicate_key"),
            (b'{"transaction": {"id": "x", "status_code": "TS", "amount": NaN}}', "malformed_json"),
            (b"[" * 100_000 + b"]" * 100_000, "too_large"),
            (b"[" * 30_000 + b"]" * 30_000, "malformed_json"),
        ],
    )
    def test_malformed(self, plain: AirtelConnector, body: bytes, reason: str) -> None:
        assert _reason(plain, body) == reason

    @pytest.mark.parametrize(
        ("amount", "reason"),
        [
            (b"1" + b"0" * 400, "number_too_large"),
            (b"1e999", "number_too_large"),
            (b"10000000000000", "bad_amount"),
            (b"-150", "bad_amount"),
            (b"0", "bad_amount"),
            (b"150.505", "bad_amount"),
            (b'"-1"', "bad_amount"),
            (b'"abc"', "bad_amount"),
            (b"true", "wrong_type"),
            (b"[150]", "wrong_type"),
        ],
    )
    def test_bad_amounts(self, plain: AirtelConnector, amount: bytes, reason: str) -> None:
        body = b'{"transaction": {"id": "x", "status_code": "TS", "amount": ' + amount + b"}}"
        assert _reason(plain, body) == reason

    def test_fractional_amount_within_currency_is_fine(self, plain: AirtelConnector) -> None:
        body = b'{"transaction": {"id": "x", "status_code": "TS", "amount": 150.5}}'
        assert plain.parse_callback(COLLECTION, {}, body).status.amount == Money(15050, "KES")

    def test_bad_msisdn(self, plain: AirtelConnector) -> None:
        assert _reason(plain, _body(TX | {"msisdn": "12"})) == "bad_msisdn"
        assert _reason(plain, _body(TX | {"msisdn": 733123456})) == "wrong_type"

    def test_unsupported_kind(self, plain: AirtelConnector) -> None:
        assert _reason(plain, _body(), CallbackKind.C2B_CONFIRMATION) == "unsupported_kind"

    def test_rejections_name_the_provider_and_say_no_money_moved(
        self, plain: AirtelConnector
    ) -> None:
        with pytest.raises(CallbackRejected) as caught:
            plain.parse_callback(COLLECTION, {}, b"{")
        assert caught.value.provider == "airtel"
        assert "no money moved" in str(caught.value)


class TestMatching:
    EXPECTED = ExpectedTransaction("ord-0001", Money(10000, "KES"), "254733123456")

    def test_unknown_id(self, plain: AirtelConnector) -> None:
        event = plain.parse_callback(COLLECTION, {}, _body())
        assert plain.callback_problems(event, None) == ["unknown_transaction"]

    def test_authenticated_success_matches(self, authed: AirtelConnector) -> None:
        event = authed.parse_callback(COLLECTION, {}, _signed(TX))
        assert authed.callback_problems(event, self.EXPECTED) == []

    def test_unauthenticated_success_needs_an_enquiry(self, plain: AirtelConnector) -> None:
        event = plain.parse_callback(COLLECTION, {}, _body())
        assert plain.callback_problems(event, self.EXPECTED) == ["unauthenticated"]

    def test_amount_mismatch_is_caught(self, authed: AirtelConnector) -> None:
        event = authed.parse_callback(COLLECTION, {}, _signed(TX | {"amount": 99}))
        assert authed.callback_problems(event, self.EXPECTED) == ["amount_mismatch"]

    def test_failure_needs_no_authentication(self, plain: AirtelConnector) -> None:
        event = plain.parse_callback(COLLECTION, {}, _body(TX | {"status_code": "TF"}))
        assert plain.callback_problems(event, self.EXPECTED) == []

    def test_reference_mismatch(self, authed: AirtelConnector) -> None:
        event = authed.parse_callback(COLLECTION, {}, _signed(TX))
        other = ExpectedTransaction("ord-0002", Money(10000, "KES"), "254733123456")
        assert "reference_mismatch" in authed.callback_problems(event, other)


def test_callback_answer(plain: AirtelConnector) -> None:
    event = plain.parse_callback(COLLECTION, {}, _body())
    assert plain.callback_answer(event, True)["status"]["success"] is True
    assert plain.callback_answer(None, False)["status"]["success"] is False
