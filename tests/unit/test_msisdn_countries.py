"""Mobile numbers per country through phonenumbers: parsed in any form, checked as a
mobile of the given country, stored as E.164 digits without "+", and the network only a
hint unless strict (numbers can be ported)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from qmoi.domain.msisdn import check_msisdn, dial_code, normalise_msisdn

#: an Airtel number of each country QMOI is tested for, and how errors name its numbers
AIRTEL = {
    "KE": ("0733123456", "Kenyan"),
    "UG": ("0701234567", "Ugandan"),
    "TZ": ("0681234567", "Tanzanian"),
    "ZM": ("0971234567", "Zambian"),
    "MW": ("0991234567", "Malawian"),
    "RW": ("0731234567", "Rwandan"),
    "CD": ("0991234567", "Congolese (DRC)"),
    "NG": ("08021234567", "Nigerian"),
}


def example(country: str, kind: PhoneNumberType) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(country, kind)
    assert number is not None
    return number


@pytest.mark.parametrize("country", list(AIRTEL))
def test_phonenumbers_example_mobiles_are_valid_in_every_form(country: str) -> None:
    mobile = example(country, PhoneNumberType.MOBILE)
    stored = f"{mobile.country_code}{mobile.national_number}"
    for form in (
        phonenumbers.format_number(mobile, PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(mobile, PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(mobile, PhoneNumberFormat.E164),
        stored,
    ):
        assert normalise_msisdn(form, country) == (stored, None), form


@pytest.mark.parametrize(("country", "airtel"), [(c, n) for c, (n, _) in AIRTEL.items()])
def test_airtel_numbers_are_stored_in_e164_without_plus(country: str, airtel: str) -> None:
    checked = check_msisdn(airtel, country, "Airtel")
    assert checked.problem is None
    assert checked.network_hint is None
    assert checked.number == str(dial_code(country)) + airtel.removeprefix("0")


@pytest.mark.parametrize(("country", "name"), [(c, n) for c, (_, n) in AIRTEL.items()])
def test_invalid_numbers_are_refused_naming_the_country(country: str, name: str) -> None:
    fixed = example(country, PhoneNumberType.FIXED_LINE)
    foreign = "+254733123456" if country != "KE" else "+256701234567"
    for value in (
        phonenumbers.format_number(fixed, PhoneNumberFormat.NATIONAL),  # not a mobile
        AIRTEL[country][0][:-3],  # too short
        foreign,  # another country's
    ):
        number, problem = normalise_msisdn(value, country)
        assert number == value
        assert problem == f"{value!r} is not a valid {name} mobile number", value
    assert normalise_msisdn("hello", country) == ("hello", "'hello' is not a phone number")


def test_the_ugandan_owner_number_of_the_issue_is_accepted() -> None:
    assert normalise_msisdn("+256701234567", "UG", "Airtel") == ("256701234567", None)
    assert normalise_msisdn("+256701234567")[1] == (
        "'+256701234567' is not a valid Kenyan mobile number"
    )


def test_another_networks_number_is_a_hint_unless_strict() -> None:
    checked = check_msisdn("0712345678", "KE", "Airtel")
    assert checked.problem is None
    assert checked.number == "254712345678"
    assert checked.network_hint == "'0712345678' is a Safaricom number, not Airtel"
    assert normalise_msisdn("0712345678", "KE", "Airtel") == ("254712345678", None)
    assert normalise_msisdn("0712345678", "KE", "Airtel", strict=True) == (
        "0712345678",
        "'0712345678' is a Safaricom number, not Airtel",
    )
    ugandan = example("UG", PhoneNumberType.MOBILE)  # UTL's range, not Airtel's
    text = phonenumbers.format_number(ugandan, PhoneNumberFormat.E164)
    assert check_msisdn(text, "UG", "Airtel").network_hint is not None
    assert check_msisdn(text, "UG").network_hint is None  # no network asked about


def test_a_country_phonenumbers_does_not_know_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not a country"):
        normalise_msisdn("0733123456", "Airtel")  # the old (value, network) call
