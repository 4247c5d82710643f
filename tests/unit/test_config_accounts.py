"""Accounts in the JSON config file: each entry read by its provider's rules, findings
named by the account's own fields, credentials only by reference, one default per
provider — and without a list, the legacy accounts ``airtel`` and ``mpesa`` exactly as
the variables make them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qmoi.config import RawValues, Report, Settings, build_settings, read_raw
from qmoi.domain.autotransfer import account_code, chunk_id
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.domain.transfer import manual_reference

THREE = [
    {"id": "airtel-ke", "provider": "airtel", "default": True},
    {
        "id": "airtel-ug",
        "provider": "airtel",
        "country": "UG",
        "currency": "UGX",
        "phoneNumber": "0753 000 100",
        "dailyTarget": 300000,
        "autoTransfer": 50000,
    },
    {
        "id": "mpesa-ke",
        "provider": "mpesa",
        "dailyTarget": "12,000",
        "autoTransfer": 3000,
        "streamTargets": {"airtime_sales": 4000},
        "minimum": 5000,
    },
]


def load(tmp_path: Path, accounts: Any, **top: Any) -> tuple[Settings | None, Report]:
    path = tmp_path / "qmoi.json"
    path.write_text(json.dumps({"accounts": accounts, **top}))
    return build_settings(read_raw(None, path))


def problems(tmp_path: Path, accounts: Any, **top: Any) -> list[str]:
    settings, report = load(tmp_path, accounts, **top)
    assert settings is None, "expected the configuration to be refused"
    return report.problems


def test_without_a_list_the_variables_make_the_legacy_accounts_airtel_and_mpesa() -> None:
    settings, report = build_settings(
        RawValues({"QMOI_DAILY_TARGET_AIRTEL": "15000", "QMOI_AUTO_TRANSFER_MPESA": "3000"})
    )
    assert settings is not None, report.problems
    assert [a.id for a in settings.accounts] == ["airtel", "mpesa"]
    airtel, mpesa = settings.accounts
    assert airtel.section == settings.airtel
    assert mpesa.section == settings.mpesa
    assert airtel.daily_target == Money.parse("15000") == settings.targets.daily_airtel
    assert mpesa.chunk == Money.parse("3000") == settings.transfers.chunk_mpesa
    assert airtel.default
    assert mpesa.default
    assert settings.listed_accounts is None


def test_a_disabled_provider_has_no_legacy_account() -> None:
    settings, _ = build_settings(RawValues({"AIRTEL_ENABLED": "false"}))
    assert settings is not None
    assert [a.id for a in settings.accounts] == ["mpesa"]
    assert settings.enabled_providers == ("mpesa",)
    assert settings.default_account("airtel") is None


def test_three_accounts_in_two_currencies_are_read_with_their_own_figures(tmp_path: Path) -> None:
    settings, report = load(tmp_path, THREE)
    assert settings is not None, report.problems
    ke, ug, mp = settings.accounts
    assert [a.id for a in settings.accounts] == ["airtel-ke", "airtel-ug", "mpesa-ke"]
    assert (ug.provider, ug.country, ug.currency) == ("airtel", "UG", "UGX")
    assert ug.section.phone_number == "256753000100"
    assert ug.daily_target == Money(300_000, "UGX")
    assert ug.chunk == Money(50_000, "UGX")
    assert ug.minimum == Money(0, "UGX"), "a KES minimum guards nothing in UGX"
    assert mp.daily_target == Money.parse("12000")
    assert mp.minimum == Money.parse("5000")
    assert mp.stream_targets == ((StreamKey.AIRTIME_SALES, Money.parse("4000")),)
    assert (ke.default, ug.default, mp.default) == (True, False, True)
    assert settings.default_account("airtel") == ke
    assert settings.enabled_providers == ("airtel", "mpesa")
    assert settings.airtel.enabled
    assert settings.mpesa.enabled


def test_an_account_with_cents_in_a_currency_without_them_is_named_by_its_field(
    tmp_path: Path,
) -> None:
    bad = [{**THREE[1], "dailyTarget": "300000.50"}, THREE[2]]
    (problem,) = problems(tmp_path, bad)
    assert problem.startswith("accounts.airtel-ug.dailyTarget: ")


def test_a_number_of_another_country_is_refused_under_the_account_field(tmp_path: Path) -> None:
    bad = [{**THREE[1], "phoneNumber": "0733 123 456"}]
    (problem,) = problems(tmp_path, bad)
    assert problem.startswith("accounts.airtel-ug.phoneNumber: ")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "Airtel UG", "provider": "airtel"}, "accounts[0].id"),
        ({"id": "x" * 33, "provider": "airtel"}, "accounts[0].id"),
        ({"id": "ok", "provider": "mtn"}, "accounts.ok.provider"),
        ({"id": "ok", "provider": "airtel", "colour": "red"}, "accounts.ok.colour"),
        ({"id": "ok", "provider": "airtel", "enabled": "yes"}, "accounts.ok.enabled"),
        ({"id": "ok", "provider": "mpesa", "shortcode": "12"}, "accounts.ok.shortcode"),
        ({"id": "ok", "provider": "airtel", "clientSecret": "s3cret"}, "accounts.ok.clientSecret"),
        (
            {"id": "ok", "provider": "airtel", "credentials": {"clientSecret": "s3cret value"}},
            "accounts.ok.credentials.clientSecret",
        ),
        (
            {"id": "ok", "provider": "airtel", "credentials": {"clientSecret": "NOT_SET_HERE"}},
            "accounts.ok.credentials.clientSecret",
        ),
        ({"id": "ok", "provider": "airtel", "credentials": ["x"]}, "accounts.ok.credentials"),
    ],
)
def test_a_bad_account_is_one_problem_naming_its_field(
    tmp_path: Path, entry: dict[str, Any], field: str
) -> None:
    found = problems(tmp_path, [entry])
    assert [p.split(": ", 1)[0] for p in found] == [field], found


def test_a_credential_written_in_the_file_never_appears_in_the_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, [{"id": "ok", "provider": "airtel", "pin": "4321"}])
    assert "4321" not in "".join(found)


def test_credentials_come_by_reference_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRTEL_UG_CLIENT_ID", "ug-client")
    monkeypatch.setenv("AIRTEL_UG_SECRET", "ug-secret-value")
    entry = {
        "id": "airtel-ug",
        "provider": "airtel",
        "country": "UG",
        "environment": "staging",
        "phoneNumber": "0753 000 100",
        "credentials": {"clientId": "AIRTEL_UG_CLIENT_ID", "clientSecret": "AIRTEL_UG_SECRET"},
    }
    live = {"masterKey": "k" * 32, "publicUrl": "https://pay.example.com"}
    settings, report = load(tmp_path, [entry], qmoi=live)
    assert settings is not None, report.problems
    (account,) = settings.accounts
    assert account.airtel.client_id == "ug-client"
    assert account.airtel.client_secret is not None
    assert account.airtel.client_secret.get_secret_value() == "ug-secret-value"
    assert "ug-secret-value" not in repr(settings)
    assert account.airtel.callback_url == "https://pay.example.com/api/airtel/callback/airtel-ug"


def test_a_live_account_without_credentials_is_told_which_account(tmp_path: Path) -> None:
    entry = {"id": "airtel-ug", "provider": "airtel", "country": "UG", "environment": "staging"}
    found = problems(tmp_path, [entry], qmoi={"masterKey": "k" * 32})
    assert any(p.startswith("AIRTEL_CLIENT_ID (account airtel-ug): is required") for p in found)


def test_two_accounts_of_a_provider_need_exactly_one_default(tmp_path: Path) -> None:
    unmarked = [{**THREE[0], "default": False}, THREE[1]]
    (problem,) = problems(tmp_path, unmarked)
    assert "airtel has 2 accounts (airtel-ke, airtel-ug) and none marked default" in problem
    both = [THREE[0], {**THREE[1], "default": True}]
    (problem,) = problems(tmp_path, both)
    assert "and 2 marked default" in problem


def test_ids_are_unique_and_sandbox_and_live_never_mix(tmp_path: Path) -> None:
    twice = [THREE[2], {**THREE[2], "default": True}]
    assert any("is given to two accounts" in p for p in problems(tmp_path, twice))
    mixed = [
        THREE[2],
        {"id": "live", "provider": "airtel", "environment": "staging"},
    ]
    found = problems(tmp_path, mixed, qmoi={"masterKey": "k" * 32})
    assert any(p.startswith("accounts: some accounts are the sandbox") for p in found)


def test_an_empty_or_wholly_disabled_list_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, [])[0].startswith("accounts: the list is empty")
    off = [{**THREE[2], "enabled": False}]
    assert problems(tmp_path, off)[0].startswith("accounts: every account is disabled")


def test_a_disabled_account_is_absent_and_unchecked(tmp_path: Path) -> None:
    off = {"id": "old", "provider": "airtel", "enabled": False, "phoneNumber": "nonsense"}
    settings, report = load(tmp_path, [THREE[2], off])
    assert settings is not None, report.problems
    assert [a.id for a in settings.accounts] == ["mpesa-ke"]
    assert settings.enabled_providers == ("mpesa",)


def test_accounts_must_be_a_list_of_objects(tmp_path: Path) -> None:
    from qmoi.errors import ConfigError

    path = tmp_path / "qmoi.json"
    path.write_text(json.dumps({"accounts": {"id": "x"}}))
    with pytest.raises(ConfigError, match="accounts must be a list of objects"):
        read_raw(None, path)


def test_chunk_ids_carry_the_account_and_stay_within_airtels_40_characters() -> None:
    day = date(2026, 12, 7)
    assert chunk_id("airtel", day, 3) == "QMOI-AT-20261207-0003"  # as before accounts
    assert chunk_id("mpesa", day, 1) == "QMOI-MP-20261207-0001"
    assert chunk_id("airtel-ug", day, 1) == "QMOI-AIRTEL-UG-20261207-0001"
    longest = "a" * 32
    assert len(chunk_id(longest, day, 9999) + "-R9-FB") <= 40
    assert account_code(longest) != account_code("a" * 31 + "b")
    assert len(manual_reference(longest, "order-1")) <= 40
    assert manual_reference("airtel-ug", "k") != manual_reference("airtel-ke", "k")


def test_an_account_in_another_currency_is_warned_to_give_its_own_figures(
    tmp_path: Path,
) -> None:
    bare = {"id": "airtel-ug", "provider": "airtel", "country": "UG"}
    settings, report = load(tmp_path, [bare])
    assert settings is not None, report.problems
    assert settings.accounts[0].chunk == Money(2_000, "UGX")  # the variable, read as UGX
    warned = [w.split(":", 1)[0] for w in report.warnings]
    assert "accounts.airtel-ug.dailyTarget" in warned
    assert "accounts.airtel-ug.autoTransfer" in warned
    _, kenyan = load(tmp_path, [{"id": "airtel-ke", "provider": "airtel"}])
    assert not [w for w in kenyan.warnings if w.startswith("accounts.")]
