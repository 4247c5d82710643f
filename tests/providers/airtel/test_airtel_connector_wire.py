"""Airtel wire format: MSISDN forms (§13), amounts as exact JSON numbers (§5.1), tolerant
answer models (§2, §3) and hostile JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qmoi.domain.money import Money
from qmoi.providers.airtel import wire

pytestmark = pytest.mark.airtel


@pytest.mark.parametrize(
    "given", ["254733123456", "+254733123456", "0733123456", "733123456", "+254 733 123 456"]
)
def test_msisdn_national_form(given: str) -> None:
    assert wire.to_national(given, "KE") == "733123456"
    assert wire.to_international(given, "KE") == "254733123456"


@pytest.mark.parametrize("given", ["", "25473312345", "2557331234567", "07331234", "7331234567a"])
def test_msisdn_refused(given: str) -> None:
    with pytest.raises(wire.InvalidMsisdn):
        wire.to_national(given, "KE")


def test_msisdn_other_countries() -> None:
    assert wire.to_national("256701234567", "UG") == "701234567"
    assert wire.to_national("2348012345678", "NG") == "8012345678"
    with pytest.raises(wire.InvalidMsisdn):
        wire.to_national("254733123456", "GH")


@pytest.mark.parametrize(
    ("country", "stored", "national"),
    [
        ("KE", "254733123456", "733123456"),
        ("UG", "256701234567", "701234567"),
        ("TZ", "255681234567", "681234567"),
        ("ZM", "260971234567", "971234567"),
        ("MW", "265991234567", "991234567"),
        ("RW", "250731234567", "731234567"),
        ("CD", "243991234567", "991234567"),
        ("NG", "2348021234567", "8021234567"),
    ],
)
def test_msisdn_is_sent_without_the_country_code_of_its_own_country(
    country: str, stored: str, national: str
) -> None:
    """The national number phonenumbers gives, whatever the length of the country code
    or of the number (Nigeria's are 10 digits) — never a fixed "254" sliced off."""
    assert wire.to_national(stored, country) == national
    assert wire.to_national("+" + stored, country) == national
    assert wire.to_national("0" + national, country) == national
    assert wire.to_international(national, country) == stored
    other = "254733123456" if country != "KE" else "256701234567"
    with pytest.raises(wire.InvalidMsisdn):
        wire.to_national(other, country)


def test_mask_keeps_last_three() -> None:
    assert wire.mask_msisdn("254733123456") == "*********456"
    assert wire.mask_msisdn(None) == ""


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(15000, "KES"), b"150"),
        (Money(15050, "KES"), b"150.5"),
        (Money(15055, "KES"), b"150.55"),
        (Money(10, "KES"), b"0.1"),
        (Money(1000000000, "KES"), b"10000000"),
        (Money(5000, "UGX"), b"5000"),
    ],
)
def test_wire_amount_is_exact(money: Money, text: bytes) -> None:
    assert wire.dumps(wire.wire_amount(money.to_decimal())) == text


def test_floats_are_never_sent() -> None:
    with pytest.raises(TypeError):
        wire.dumps({"amount": 1.5})


def test_loads_keeps_decimals_exact_and_order() -> None:
    data = wire.loads(b'{"b": 1.50, "a": 2}')
    assert list(data) == ["b", "a"]
    assert data["b"] == Decimal("1.50")
    assert wire.dumps(data) == b'{"b":1.50,"a":2}'


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"a": ' + b"9" * 5000 + b"}", wire.NumberTooLarge),
        (b'{"a": 1e400}', wire.NumberTooLarge),
        (b'{"a": 1, "a": 2}', wire.DuplicateKey),
        (b'{"a": NaN}', ValueError),
        (b"{", ValueError),
    ],
)
def test_loads_refuses_hostile_json(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        wire.loads(raw)


@pytest.mark.parametrize("lifetime", ["180", 180, Decimal("180.0"), " 180 "])
def test_token_lifetime_as_string_or_integer(lifetime: object) -> None:
    answer = wire.TokenAnswer.model_validate({"access_token": "t", "expires_in": lifetime})
    assert answer.expires_in == 180


@pytest.mark.parametrize("lifetime", [None, "soon", True, -5, "99999999999"])
def test_token_lifetime_unusable(lifetime: object) -> None:
    answer = wire.TokenAnswer.model_validate({"access_token": "t", "expires_in": lifetime})
    assert answer.expires_in is None


def test_envelope_tolerates_unknown_fields_and_numeric_codes() -> None:
    envelope = wire.Envelope.model_validate(
        {
            "data": {"transaction": {"id": "x", "status": "TS", "new_field": [1]}},
            "status": {"code": 200, "response_code": "DP00800001001", "extra": True},
            "meta": {},
        }
    )
    assert envelope.status.code == "200"
    tx = envelope.transaction()
    assert tx is not None
    assert tx.status == "TS"


def test_disbursement_bodies() -> None:
    v1 = wire.disbursement_body(
        version=1, msisdn="733123456", reference="r", encrypted_pin="P", amount=2000,
        currency="KES", transaction_id="t1",
    )  # fmt: skip
    assert v1 == {
        "payee": {"msisdn": "733123456"},
        "reference": "r",
        "pin": "P",
        "transaction": {"amount": 2000, "id": "t1"},
    }
    v2 = wire.disbursement_body(
        version=2, msisdn="733123456", reference="r" * 100, encrypted_pin="P", amount=2000,
        currency="KES", transaction_id="t1",
    )  # fmt: skip
    assert v2["payee"] == {"msisdn": "733123456", "currency": "KES"}
    assert v2["transaction"]["type"] == "B2C"
    assert len(v2["reference"]) == wire.REFERENCE_MAX


def test_scrub_masks_phone_numbers_in_provider_text() -> None:
    text = "You have sent KES 2000.00 to 733123456 Jane Owner. Bal KES 19999.91 TID CI2601"
    assert wire.scrub(text) == (
        "You have sent KES 2000.00 to ******456 Jane Owner. Bal KES 19999.91 TID CI2601"
    )
    assert wire.scrub("+254733123456") == "**********456"
    assert wire.scrub(None) == ""
