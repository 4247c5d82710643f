"""Configuration parsing from raw text: corrections, problems and warnings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qmoi.config import Environment, RawValues, build_settings
from qmoi.domain.money import Money
from qmoi.domain.msisdn import normalise_msisdn
from qmoi.domain.streams import StreamKey

LIVE = {
    "AIRTEL_ENVIRONMENT": "production",
    "AIRTEL_CLIENT_ID": "id",
    "AIRTEL_CLIENT_SECRET": "airtel-secret-value",
    "AIRTEL_PIN": "4321",
    "AIRTEL_PHONE_NUMBER": "254733123456",
    "MPESA_ENVIRONMENT": "production",
    "MPESA_CONSUMER_KEY": "key-value",
    "MPESA_CONSUMER_SECRET": "mpesa-secret-value",
    "MPESA_SHORTCODE": "600000",
    "MPESA_PASSKEY": "passkey-value",
    "MPESA_INITIATOR_NAME": "api_op",
    "MPESA_INITIATOR_PASSWORD": "init-pass",
    "MPESA_CERTIFICATE": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----",
    "MPESA_PHONE_NUMBER": "254712345678",
    "QMOI_MASTER_KEY": "m" * 40,
    "QMOI_PUBLIC_URL": "https://pay.example.com",
}


def load(**values: str):  # type: ignore[no-untyped-def]
    return build_settings(RawValues(values))


def test_defaults_are_the_sandbox_with_mission_targets() -> None:
    settings, report = load()
    assert settings is not None
    assert report.usable
    assert settings.sandbox
    assert settings.airtel.environment is Environment.SANDBOX
    assert settings.targets.daily_airtel == Money.parse("10000")
    assert settings.targets.combined == Money.parse("20000")
    assert settings.targets.minimum == Money.parse("8000")
    assert settings.targets.growth_mpesa == Decimal("0.20")
    assert settings.transfers.chunk_airtel == Money.parse("2000")
    assert settings.timezone_name == "Africa/Nairobi"
    assert settings.database_url == "sqlite:///var/qmoi.db"
    assert settings.mpesa.c2b_default_stream is StreamKey.DIGITAL_PAYMENTS


def test_local_phone_formats_are_corrected_and_reported() -> None:
    settings, report = load(AIRTEL_PHONE_NUMBER="0786 123 456", MPESA_PHONE_NUMBER="+254712345678")
    assert settings is not None
    assert settings.airtel.phone_number == "254786123456"
    assert settings.mpesa.phone_number == "254712345678"
    assert any("AIRTEL_PHONE_NUMBER" in c and "254786123456" in c for c in report.corrections)


def test_a_number_of_the_wrong_network_is_a_problem_naming_the_variable_when_strict() -> None:
    settings, report = load(AIRTEL_PHONE_NUMBER="0712345678", QMOI_STRICT_NETWORK="true")
    assert settings is None
    (problem,) = report.problems
    assert problem.startswith("AIRTEL_PHONE_NUMBER: '0712345678' is a Safaricom number")
    assert " — give the owner's Airtel number" in problem


def test_a_number_of_the_wrong_network_is_a_warning_by_default() -> None:
    """The carrier of a range is where it was allocated; the number may have been ported."""
    settings, report = load(AIRTEL_PHONE_NUMBER="0712345678")
    assert settings is not None, report.problems
    assert settings.airtel.phone_number == "254712345678"
    assert not settings.strict_network
    (warning,) = [w for w in report.warnings if w.startswith("AIRTEL_PHONE_NUMBER:")]
    assert "'0712345678' is a Safaricom number, not Airtel" in warning
    assert "ported" in warning
    assert "QMOI_STRICT_NETWORK=true" in warning


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0733123456", "254733123456"),
        ("+254 733 123 456", "254733123456"),
        ("254733123456", "254733123456"),
        ("0110123456", "254110123456"),
    ],
)
def test_msisdn_normalisation(value: str, expected: str) -> None:
    assert normalise_msisdn(value)[0] == expected


@pytest.mark.parametrize("value", ["12345", "07331234567890", "hello", "+255754123456"])
def test_invalid_msisdns_say_why(value: str) -> None:
    number, error = normalise_msisdn(value)
    assert error is not None
    assert value in error


def test_trailing_slash_and_spaces_are_corrected() -> None:
    settings, report = load(QMOI_PUBLIC_URL="  https://pay.example.com/ ")
    assert settings is not None
    assert settings.public_url == "https://pay.example.com"
    assert settings.airtel.callback_url == "https://pay.example.com/api/airtel/callback"
    assert len(report.corrections) == 2


def test_every_malformed_value_is_reported_at_once() -> None:
    settings, report = load(
        QMOI_DAILY_TARGET_AIRTEL="ten thousand",
        QMOI_AUTO_TRANSFER_MPESA="-5",
        QMOI_TIMEZONE="Mars/Olympus",
        QMOI_TARGET_MODE="weekly",
        QMOI_AUTO_TRANSFER="maybe",
        QMOI_DATABASE_URL="mysql://db/qmoi",
        MPESA_C2B_DEFAULT_STREAM="lottery",
    )
    assert settings is None
    names = [p.split(":", 1)[0] for p in report.problems]
    assert names == [
        "MPESA_C2B_DEFAULT_STREAM",
        "QMOI_DAILY_TARGET_AIRTEL",
        "QMOI_TARGET_MODE",
        "QMOI_AUTO_TRANSFER",
        "QMOI_AUTO_TRANSFER_MPESA",
        "QMOI_TIMEZONE",
        "QMOI_DATABASE_URL",
    ]
    assert all(" — " in p for p in report.problems)


def test_credentials_without_environment_default_to_staging_never_production() -> None:
    settings, report = load(**{**LIVE, "AIRTEL_ENVIRONMENT": "", "MPESA_ENVIRONMENT": ""})
    assert settings is not None
    assert settings.airtel.environment is Environment.STAGING
    assert any(w.startswith("AIRTEL_ENVIRONMENT:") for w in report.warnings)


def test_live_configuration_needs_master_key_public_url_and_credentials() -> None:
    settings, report = load(AIRTEL_ENVIRONMENT="production", MPESA_ENVIRONMENT="production")
    assert settings is None
    names = {p.split(":", 1)[0] for p in report.problems}
    assert {
        "AIRTEL_CLIENT_ID",
        "AIRTEL_CLIENT_SECRET",
        "AIRTEL_PHONE_NUMBER",
        "AIRTEL_PIN",
        "MPESA_CONSUMER_KEY",
        "MPESA_SHORTCODE",
        "MPESA_PHONE_NUMBER",
        "QMOI_MASTER_KEY",
        "QMOI_PUBLIC_URL",
    } <= names


def test_a_full_live_configuration_is_usable() -> None:
    settings, report = load(**LIVE)
    assert settings is not None, report.problems
    assert not settings.sandbox
    assert settings.mpesa.certificate is not None
    assert "\n" in settings.mpesa.certificate


def test_risky_choices_are_warnings() -> None:
    settings, report = load(
        **{
            **LIVE,
            "QMOI_PUBLIC_URL": "http://pay.example.com",
            "QMOI_AUTO_TRANSFER_AIRTEL": "15000",
        }
    )
    assert settings is not None
    assert any(
        w.startswith("QMOI_PUBLIC_URL: production callbacks over plain http")
        for w in report.warnings
    )
    assert any(w.startswith("QMOI_AUTO_TRANSFER_AIRTEL:") for w in report.warnings)


def test_sandbox_and_live_providers_cannot_share_a_database() -> None:
    settings, report = load(**{**LIVE, "AIRTEL_ENVIRONMENT": "sandbox"})
    assert settings is None
    assert any("must never share a database" in p for p in report.problems)


def test_postgres_url_gets_the_psycopg_driver_and_passwords_stay_hidden() -> None:
    settings, report = load(QMOI_DATABASE_URL="postgresql://qmoi:hunter2@db:5432/qmoi")
    assert settings is not None
    assert settings.database_url == "postgresql+psycopg://qmoi:hunter2@db:5432/qmoi"
    assert "hunter2" not in " ".join(report.corrections)


def test_secrets_never_appear_in_any_message() -> None:
    _, report = load(
        **{
            **LIVE,
            "AIRTEL_PIN": "12a4",
            "QMOI_PUBLIC_URL": "http://x.example",
            "QMOI_MASTER_KEY": " short-master ",
        }
    )
    text = " ".join(report.problems + report.warnings + report.corrections)
    for secret in (
        "12a4",
        "airtel-secret-value",
        "mpesa-secret-value",
        "passkey-value",
        "init-pass",
        "short-master",
    ):
        assert secret not in text
    assert "AIRTEL_PIN: must be exactly 4 digits" in text


def test_c2b_rules_and_stream_targets_parse() -> None:
    settings, _ = load(
        MPESA_C2B_RULES="air=airtime_sales, DATA=data_packages",
        QMOI_STREAM_TARGETS="airtime_sales=2500",
    )
    assert settings is not None
    assert settings.mpesa.c2b_rules == (
        ("AIR", StreamKey.AIRTIME_SALES),
        ("DATA", StreamKey.DATA_PACKAGES),
    )
    assert settings.targets.stream_targets == ((StreamKey.AIRTIME_SALES, Money.parse("2500")),)


def test_every_setting_is_documented_and_in_env_example() -> None:
    from qmoi.config import VARIABLES

    root = Path(__file__).parents[2]
    reference = (root / "docs" / "configuration.md").read_text()
    example = (root / ".env.example").read_text()
    for name in [*VARIABLES, "QMOI_CONFIG_FILE"]:
        assert f"`{name}`" in reference, name
        assert name in example, name


def test_env_example_is_a_usable_sandbox_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    from pathlib import Path

    from qmoi.config import VARIABLES, read_raw

    env = {k: v for k, v in os.environ.items() if k.upper() in VARIABLES}
    for name in env:
        monkeypatch.delenv(name)
    settings, report = build_settings(read_raw(Path(__file__).parents[2] / ".env.example"))
    assert settings is not None, report.problems
    assert settings.sandbox


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2000.50", "KES 2,000.50 has cents, and M-Pesa pays whole shillings only"),
        ("300,000", "KES 300,000.00 is outside what M-Pesa pays in one transaction"),
        ("0", "must be more than zero"),
        ("-2000", "is negative"),
    ],
)
def test_an_mpesa_chunk_b2c_cannot_pay_is_a_problem_not_a_stuck_reservation(
    value: str, why: str
) -> None:
    """Daraja's B2C pays whole shillings from 1 to 250,000: any other chunk would be
    reserved and never paid."""
    settings, report = load(QMOI_AUTO_TRANSFER_MPESA=value)
    assert settings is None
    (problem,) = report.problems
    assert problem.startswith("QMOI_AUTO_TRANSFER_MPESA: ")
    assert why in problem
    assert problem.endswith(" — give whole shillings from 1 to 250,000, e.g. 2000")


def test_mpesa_chunks_of_whole_shillings_up_to_the_b2c_limit_are_accepted() -> None:
    for value, minor in (("1", 100), ("2,000", 200_000), ("250000.00", 25_000_000)):
        settings, report = load(QMOI_AUTO_TRANSFER_MPESA=value, QMOI_DAILY_TARGET_MPESA="300000")
        assert settings is not None, report.problems
        assert settings.transfers.chunk_mpesa == Money(minor, "KES")


def test_an_airtel_chunk_may_have_cents_but_must_be_positive_and_fit_its_currency() -> None:
    """Airtel's amounts are JSON numbers with decimals (``150.5``): a chunk with cents is
    paid as it is; one in a currency without cents, or not above zero, is refused."""
    settings, report = load(QMOI_AUTO_TRANSFER_AIRTEL="2000.50")
    assert settings is not None, report.problems
    assert settings.transfers.chunk_airtel == Money(200_050, "KES")
    for values, why in (
        ({"QMOI_AUTO_TRANSFER_AIRTEL": "0"}, "must be more than zero"),
        ({"QMOI_AUTO_TRANSFER_AIRTEL": "-1"}, "is negative"),
        (
            {"QMOI_AUTO_TRANSFER_AIRTEL": "2000.50", "AIRTEL_COUNTRY": "UG"},
            "has decimals, and UGX has no minor unit",
        ),
    ):
        settings, report = load(**values)
        assert settings is None
        (problem,) = report.problems
        assert problem.startswith("QMOI_AUTO_TRANSFER_AIRTEL: ")
        assert why in problem
        assert " — " in problem


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_live_airtel_callbacks_without_their_hash_are_one_warning_naming_the_fix(
    environment: str,
) -> None:
    settings, report = load(**{**LIVE, "AIRTEL_ENVIRONMENT": environment})
    assert settings is not None, report.problems
    (warning,) = [w for w in report.warnings if w.startswith("AIRTEL_CALLBACK_AUTH:")]
    what, fix = warning.split(" — ")
    assert f"is off in {environment}" in what
    assert "confirms it with a transaction enquiry before anything changes" in what
    assert "one enquiry per callback" in what
    assert "Airtel portal" in fix
    assert "AIRTEL_CALLBACK_AUTH=true with AIRTEL_CALLBACK_SECRET" in fix


def test_airtel_callback_auth_on_or_the_sandbox_is_no_warning() -> None:
    hashed = {**LIVE, "AIRTEL_CALLBACK_AUTH": "true", "AIRTEL_CALLBACK_SECRET": "k" * 32}
    for values in (hashed, {}):
        settings, report = load(**values)
        assert settings is not None, report.problems
        assert not [w for w in report.warnings if w.startswith("AIRTEL_CALLBACK_AUTH:")]


def test_production_mpesa_without_an_allowlist_warns_naming_safaricoms_addresses() -> None:
    from qmoi.providers.mpesa.callbacks import SAFARICOM_CALLBACK_SOURCES

    settings, report = load(**LIVE)
    assert settings is not None, report.problems
    (warning,) = [w for w in report.warnings if w.startswith("MPESA_CALLBACK_ALLOWLIST:")]
    what, fix = warning.split(" — ")
    assert what.endswith(": is empty, so M-Pesa callbacks are accepted from any address")
    assert "Safaricom's published callback addresses (see docs/providers/mpesa.md)" in fix
    guide = (Path(__file__).parents[2] / "docs" / "providers" / "mpesa.md").read_text()
    assert ",".join(SAFARICOM_CALLBACK_SOURCES) in guide  # the guide lists what to set
    for values in (
        {**LIVE, "MPESA_CALLBACK_ALLOWLIST": ",".join(SAFARICOM_CALLBACK_SOURCES)},
        {**LIVE, "AIRTEL_ENVIRONMENT": "staging", "MPESA_ENVIRONMENT": "staging"},
    ):
        settings, report = load(**values)
        assert settings is not None, report.problems
        assert not [w for w in report.warnings if w.startswith("MPESA_CALLBACK_ALLOWLIST:")]


def test_turning_off_the_confirmation_of_mpesa_callbacks_is_no_longer_a_choice() -> None:
    """Every M-Pesa callback is a hint confirmed by a query: the old switch is said to be
    retired, once, and changes nothing."""
    settings, report = load(**LIVE, MPESA_CONFIRM_CALLBACKS="false")
    assert settings is not None, report.problems
    (said,) = [w for w in report.warnings if w.startswith("MPESA_CONFIRM_CALLBACKS")]
    assert "no longer a choice" in said
    settings, report = load(**LIVE, MPESA_CONFIRM_CALLBACKS="true")
    assert settings is not None
    assert not [w for w in report.warnings if w.startswith("MPESA_CONFIRM_CALLBACKS")]


def test_the_secret_names_are_the_settings_secret_fields() -> None:
    """One list, derived from the models: every ``SecretStr`` field is a secret variable
    and its value reaches the log redactor."""
    from pydantic import SecretStr

    from qmoi.config import SECRET_VARIABLES, VARIABLES, secret_values

    assert SECRET_VARIABLES == {
        "AIRTEL_CLIENT_SECRET",
        "AIRTEL_PIN",
        "AIRTEL_CALLBACK_SECRET",
        "MPESA_CONSUMER_KEY",
        "MPESA_CONSUMER_SECRET",
        "MPESA_PASSKEY",
        "MPESA_INITIATOR_PASSWORD",
        "MPESA_CALLBACK_TOKEN",
        "QMOI_MASTER_KEY",
        "QMOI_SECRET_KEY",
        "QMOI_NOTIFY_WEBHOOK_SECRET",
        "QMOI_NOTIFY_SMTP_PASSWORD",
        "QMOI_NOTIFY_SMS_API_KEY",
    }
    assert SECRET_VARIABLES <= VARIABLES.keys()
    values = {name: f"{name.lower()}-value-0123456789abcdef" for name in SECRET_VARIABLES}
    values["AIRTEL_PIN"] = "4321"
    extra = {"AIRTEL_CALLBACK_AUTH": "true", "QMOI_NOTIFY_SMS_USERNAME": "sandbox"}
    settings, report = load(**{**LIVE, **values, **extra})
    assert settings is not None, report.problems
    found = {s.get_secret_value() for s in secret_values(settings) if isinstance(s, SecretStr)}
    assert found == set(values.values())
