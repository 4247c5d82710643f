"""Each provider is optional: an Airtel-only or M-Pesa-only QMOI validates (live too), a
disabled provider's settings are neither required nor checked, at least one provider
must be on, and sandbox and live are never mixed among the enabled ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmoi.bootstrap import policy_from
from qmoi.config import Environment, RawValues, build_settings

AIRTEL_LIVE = {
    "AIRTEL_ENVIRONMENT": "production",
    "AIRTEL_CLIENT_ID": "id",
    "AIRTEL_CLIENT_SECRET": "airtel-secret-value",
    "AIRTEL_PIN": "4321",
    "AIRTEL_PHONE_NUMBER": "254733123456",
}
MPESA_LIVE = {
    "MPESA_ENVIRONMENT": "production",
    "MPESA_CONSUMER_KEY": "key-value",
    "MPESA_CONSUMER_SECRET": "mpesa-secret-value",
    "MPESA_SHORTCODE": "600000",
    "MPESA_PASSKEY": "passkey-value",
    "MPESA_INITIATOR_NAME": "api_op",
    "MPESA_INITIATOR_PASSWORD": "init-pass",
    "MPESA_CERTIFICATE": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----",
    "MPESA_PHONE_NUMBER": "254712345678",
}
QMOI_LIVE = {"QMOI_MASTER_KEY": "m" * 40, "QMOI_PUBLIC_URL": "https://pay.example.com"}

#: what a disabled provider's section may hold without anyone minding: wrong numbers,
#: live environments without credentials, malformed texts and amounts
AIRTEL_BROKEN = {
    "AIRTEL_ENVIRONMENT": "production",
    "AIRTEL_COUNTRY": "QQ",
    "AIRTEL_CURRENCY": "ZZZ",
    "AIRTEL_PHONE_NUMBER": "not a number",
    "AIRTEL_PIN": "12345",
    "AIRTEL_CALLBACK_AUTH": "true",
    "QMOI_AUTO_TRANSFER_AIRTEL": "-5",
    "QMOI_DAILY_TARGET_AIRTEL": "lots",
}
MPESA_BROKEN = {
    "MPESA_ENVIRONMENT": "production",
    "MPESA_PHONE_NUMBER": "0733123456",
    "MPESA_SHORTCODE": "12",
    "MPESA_CALLBACK_TOKEN": "short",
    "MPESA_ACCOUNT_REFERENCE": "FAR-TOO-LONG-A-REFERENCE",
    "QMOI_AUTO_TRANSFER_MPESA": "2000.50",
    "QMOI_MPESA_GROWTH_TARGET": "lots",
}


def load(**values: str):  # type: ignore[no-untyped-def]
    return build_settings(RawValues(values))


def test_both_providers_are_enabled_by_default() -> None:
    settings, _ = load()
    assert settings is not None
    assert settings.airtel.enabled
    assert settings.mpesa.enabled
    assert settings.enabled_providers == ("airtel", "mpesa")
    assert list(policy_from(settings).providers) == ["airtel", "mpesa"]


@pytest.mark.parametrize(
    ("values", "enabled"),
    [
        ({"MPESA_ENABLED": "false"}, ("airtel",)),
        ({"AIRTEL_ENABLED": "false"}, ("mpesa",)),
    ],
)
def test_each_provider_alone_is_a_usable_sandbox(
    values: dict[str, str], enabled: tuple[str, ...]
) -> None:
    settings, report = load(**values)
    assert settings is not None, report.problems
    assert settings.enabled_providers == enabled
    assert settings.sandbox
    assert list(policy_from(settings).providers) == list(enabled)


def test_an_airtel_only_live_configuration_is_usable_and_live() -> None:
    settings, report = load(**AIRTEL_LIVE, **QMOI_LIVE, MPESA_ENABLED="false")
    assert settings is not None, report.problems
    assert report.problems == []
    assert not settings.sandbox
    assert settings.enabled_providers == ("airtel",)
    assert not any(w.startswith("MPESA_") for w in report.warnings), report.warnings


def test_an_mpesa_only_live_configuration_is_usable_and_live() -> None:
    settings, report = load(**MPESA_LIVE, **QMOI_LIVE, AIRTEL_ENABLED="false")
    assert settings is not None, report.problems
    assert not settings.sandbox
    assert settings.enabled_providers == ("mpesa",)
    assert not any(w.startswith("AIRTEL_") for w in report.warnings), report.warnings


def test_an_airtel_only_live_configuration_still_needs_airtels_own_settings() -> None:
    settings, report = load(AIRTEL_ENVIRONMENT="production", MPESA_ENABLED="false")
    assert settings is None
    named = {p.split(":")[0] for p in report.problems}
    assert {"AIRTEL_CLIENT_ID", "AIRTEL_CLIENT_SECRET", "AIRTEL_PHONE_NUMBER"} <= named
    assert {"QMOI_MASTER_KEY", "QMOI_PUBLIC_URL"} <= named
    assert not any(name.startswith("MPESA_") for name in named), report.problems


def test_neither_provider_enabled_is_one_clear_problem() -> None:
    settings, report = load(AIRTEL_ENABLED="false", MPESA_ENABLED="false")
    assert settings is None
    (problem,) = report.problems
    assert problem.startswith("AIRTEL_ENABLED / MPESA_ENABLED: both providers are disabled")
    assert "set AIRTEL_ENABLED=true or MPESA_ENABLED=true" in problem


def test_an_enabled_flag_that_is_not_a_boolean_is_a_problem() -> None:
    settings, report = load(MPESA_ENABLED="perhaps")
    assert settings is None
    assert any(
        p.startswith("MPESA_ENABLED: 'perhaps' is not true or false") for p in report.problems
    )


@pytest.mark.parametrize(
    ("values", "off"),
    [
        ({**AIRTEL_LIVE, **QMOI_LIVE, **MPESA_BROKEN, "MPESA_ENABLED": "false"}, "MPESA"),
        ({**MPESA_LIVE, **QMOI_LIVE, **AIRTEL_BROKEN, "AIRTEL_ENABLED": "false"}, "AIRTEL"),
    ],
)
def test_a_disabled_providers_settings_are_neither_required_nor_checked(
    values: dict[str, str], off: str
) -> None:
    settings, report = load(**values)
    assert settings is not None, report.problems
    said = [*report.problems, *report.warnings]
    assert not any(off in line.split(":")[0] for line in said), said


def test_the_json_file_turns_a_provider_off_in_its_own_section(tmp_path: Path) -> None:
    from qmoi.config import json_file_values

    path = tmp_path / "qmoi.json"
    path.write_text('{"mpesa": {"enabled": false}, "airtel": {"enabled": true}}')
    values = json_file_values(path)
    assert values["MPESA_ENABLED"] == "false"
    assert values["AIRTEL_ENABLED"] == "true"
    settings, report = build_settings(RawValues(values))
    assert settings is not None, report.problems
    assert settings.enabled_providers == ("airtel",)


@pytest.mark.parametrize(
    "values",
    [
        {**AIRTEL_LIVE, **QMOI_LIVE},  # M-Pesa left as the sandbox: mixed
        {**MPESA_LIVE, **QMOI_LIVE},  # Airtel left as the sandbox: mixed
    ],
)
def test_sandbox_and_live_are_never_mixed_among_enabled_providers(values: dict[str, str]) -> None:
    settings, report = load(**values)
    assert settings is None
    assert any("simulated and real money must never share a database" in p for p in report.problems)


@pytest.mark.parametrize(
    ("values", "off"),
    [
        ({**AIRTEL_LIVE, **QMOI_LIVE, "MPESA_ENABLED": "false"}, "mpesa"),
        ({**MPESA_LIVE, **QMOI_LIVE, "AIRTEL_ENABLED": "false"}, "airtel"),
        # the disabled one is live while the enabled one is the sandbox: no mixing
        ({**MPESA_BROKEN, "MPESA_ENABLED": "false"}, "mpesa"),
        ({**AIRTEL_BROKEN, "AIRTEL_ENABLED": "false"}, "airtel"),
    ],
)
def test_a_disabled_provider_does_not_count_for_the_mixing_rule(
    values: dict[str, str], off: str
) -> None:
    settings, report = load(**values)
    assert settings is not None, report.problems
    assert not any("share a database" in p for p in report.problems)
    disabled = settings.mpesa if off == "mpesa" else settings.airtel
    assert not disabled.enabled
    assert off not in settings.enabled_providers


def test_a_disabled_providers_live_environment_does_not_make_qmoi_live() -> None:
    settings, report = load(**MPESA_BROKEN, MPESA_ENABLED="false")
    assert settings is not None, report.problems
    assert settings.mpesa.environment is Environment.PRODUCTION
    assert settings.sandbox  # no master key or public URL needed: Airtel is the sandbox
    assert policy_from(settings).sandbox


def test_sms_notifications_default_to_the_enabled_providers_owner_number() -> None:
    settings, _ = load(
        MPESA_ENABLED="false", QMOI_NOTIFY_SMS_API_KEY="k", QMOI_NOTIFY_SMS_USERNAME="u"
    )
    assert settings is not None
    assert settings.notify.sms_to == (settings.airtel.phone_number,)
