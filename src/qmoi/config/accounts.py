"""The merchant's accounts: the config file's ``accounts`` list, each entry read as if its
fields were its provider's variables (``"phoneNumber"`` of an Airtel account is
``AIRTEL_PHONE_NUMBER``), so an account is checked by exactly the rules a provider's
section is, and every finding names the account's own field (``accounts.airtel-ug.
phoneNumber: …``). What an account does not say it takes from those variables.

Credentials never sit in the file: ``"credentials": {"clientSecret": "AIRTEL_UG_SECRET"}``
names an environment variable (or ``.env`` entry, or vault secret) that holds the value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from qmoi.config.catalogue import VARIABLES
from qmoi.config.models import (
    AccountSettings,
    AirtelSettings,
    Environment,
    ProviderKind,
    TargetMode,
)
from qmoi.config.providers import read_airtel, read_mpesa
from qmoi.config.reader import Reader, key_values, stream_key
from qmoi.config.secret_names import SECRET_VARIABLES
from qmoi.config.sources import REFERENCE, RawValues, camel_to_upper_snake, json_text
from qmoi.config.targets import mpesa_chunk
from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey

ACCOUNT_ID = re.compile(r"[a-z0-9-]{1,32}")
PREFIXES: dict[str, str] = {"airtel": "AIRTEL", "mpesa": "MPESA"}
#: an account's own fields, beside the provider's variables
OWN_FIELDS = frozenset({"id", "provider", "enabled", "default", "credentials"})
#: an account's figures, and the variable each stands for ({P}: AIRTEL or MPESA)
FIGURES = {
    "dailyTarget": "QMOI_DAILY_TARGET_{P}",
    "autoTransfer": "QMOI_AUTO_TRANSFER_{P}",
    "growthGoal": "QMOI_{P}_GROWTH_TARGET",
    "minimum": "QMOI_MINIMUM_GUARANTEE",
    "targetMode": "QMOI_TARGET_MODE",
    "streamTargets": "QMOI_STREAM_TARGETS",
}
#: provider variables an account may not set itself
NOT_PER_ACCOUNT = frozenset({"AIRTEL_ENABLED", "MPESA_ENABLED", "DEBUG_AIRTEL"})


def read_accounts(
    reader: Reader, raw: RawValues, public_url: str | None
) -> tuple[AccountSettings, ...] | None:
    """The enabled accounts the file lists (None when it lists none: the legacy two).
    Problems are recorded in the reader's report; reading goes on past them."""
    if raw.accounts is None:
        return None
    if not raw.accounts:
        reader.problem(
            "accounts", "the list is empty", "give at least one account, or remove the list"
        )
        return ()
    seen: Counter[str] = Counter()
    accounts: list[AccountSettings] = []
    for index, entry in enumerate(raw.accounts):
        account = _read_one(reader, raw, public_url, index, entry, seen)
        if account is not None:
            accounts.append(account)
    if not accounts and not reader.report.problems:
        reader.problem("accounts", "every account is disabled", "enable at least one")
    return _with_defaults(reader, raw.accounts, accounts)


def _read_one(
    reader: Reader,
    raw: RawValues,
    public_url: str | None,
    index: int,
    entry: Mapping[str, Any],
    seen: Counter[str],
) -> AccountSettings | None:
    account_id = entry.get("id")
    where = f"accounts[{index}]"
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        reader.problem(
            f"{where}.id",
            f"{account_id!r} is not an account id",
            "use 1–32 lower-case letters, digits and hyphens, e.g. airtel-ug",
        )
        return None
    seen[account_id] += 1
    label = f"accounts.{account_id}"
    if seen[account_id] == 2:
        reader.problem(f"{label}.id", "is given to two accounts", "give each account its own id")
    provider = entry.get("provider")
    if provider not in PREFIXES:
        reader.problem(
            f"{label}.provider", f"{provider!r} is not a provider", "use airtel or mpesa"
        )
        return None
    enabled, default = entry.get("enabled", True), entry.get("default", False)
    for name, value in (("enabled", enabled), ("default", default)):
        if not isinstance(value, bool):
            reader.problem(
                f"{label}.{name}", f"{value!r} is not true or false", "use true or false"
            )
    if enabled is not True:
        return None  # a disabled account is absent, and nothing in it is checked
    kind: ProviderKind = "airtel" if provider == "airtel" else "mpesa"
    values, names = _overlay(reader, raw, label, kind, entry)
    own = reader.over(values, lambda var: names.get(var) or f"{var} (account {account_id})")
    section = read_airtel(own, public_url) if kind == "airtel" else read_mpesa(own)
    if isinstance(section, AirtelSettings) and "AIRTEL_CALLBACK_URL" not in values:
        if public_url is not None and account_id != "airtel":
            section = section.model_copy(
                update={"callback_url": f"{public_url}/api/airtel/callback/{account_id}"}
            )
    currency = section.currency if isinstance(section, AirtelSettings) else "KES"
    prefix = PREFIXES[kind]
    if currency != "KES":
        _own_figures_wanted(reader, label, entry, currency)
    return AccountSettings(
        id=account_id,
        provider=kind,
        section=section,
        daily_target=own.amount(f"QMOI_DAILY_TARGET_{prefix}", currency),
        chunk=(
            own.amount("QMOI_AUTO_TRANSFER_AIRTEL", currency)
            if kind == "airtel"
            else mpesa_chunk(own)
        ),
        growth_goal=own.ratio(f"QMOI_{prefix}_GROWTH_TARGET"),
        minimum=_minimum(own, entry, currency),
        target_mode=TargetMode(own.choice("QMOI_TARGET_MODE", ["fixed", "growth"], "fixed")),
        stream_targets=_stream_targets(own, currency),
        default=default is True,
    )


def _own_figures_wanted(
    reader: Reader, label: str, entry: Mapping[str, Any], currency: str
) -> None:
    """The variables' target and chunk are shilling-sized: read as another currency's
    units they are almost surely not what the owner means (UGX 2,000 is about KES 70)."""
    for field in ("dailyTarget", "autoTransfer"):
        if field not in entry:
            reader.warn(
                f"{label}.{field}",
                f"is not given, so the {FIGURES[field].format(P='AIRTEL')} figure is read as "
                f"{currency}",
                f"give the account its own {field} in {currency}",
            )


def _overlay(
    reader: Reader, raw: RawValues, label: str, kind: str, entry: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The account's fields as provider variables, and how a finding names each."""
    prefix = PREFIXES[kind]
    values: dict[str, str] = {f"{prefix}_ENABLED": "true"}
    names: dict[str, str] = {}
    for key, value in entry.items():
        if key in OWN_FIELDS:
            continue
        field = f"{label}.{key}"
        if key in FIGURES:
            variable = FIGURES[key].format(P=prefix)
            text = _figure_text(reader, field, value)
        else:
            variable = f"{prefix}_{camel_to_upper_snake(key)}"
            if variable in SECRET_VARIABLES:
                reader.problem(
                    field,
                    "is a credential, and credentials are never written in the file",
                    f'name where it is kept: "credentials": {{"{key}": "SOME_VARIABLE"}}, '
                    "with SOME_VARIABLE in the environment or `qmoi secrets set SOME_VARIABLE`",
                )
                continue
            if variable not in VARIABLES or variable in NOT_PER_ACCOUNT:
                reader.problem(field, f"is not a setting of a {kind} account", "check its spelling")
                continue
            text = json_text(value)
        values[variable], names[variable] = text, field
    credentials = entry.get("credentials", {})
    if not isinstance(credentials, dict):
        reader.problem(
            f"{label}.credentials",
            "must be an object",
            'give {"clientSecret": "AIRTEL_UG_CLIENT_SECRET", …}: each credential by the '
            "name of the variable or vault secret that holds it",
        )
        return values, names
    for key, reference in credentials.items():
        field = f"{label}.credentials.{key}"
        variable = f"{prefix}_{camel_to_upper_snake(key)}"
        if variable not in VARIABLES or variable in NOT_PER_ACCOUNT:
            reader.problem(field, f"is not a credential of a {kind} account", "check its spelling")
        elif not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
            reader.problem(
                field,
                "must name a variable, not hold a value",
                "give an upper-case name such as AIRTEL_UG_CLIENT_SECRET, set in the "
                "environment or with `qmoi secrets set`",
            )
        elif reference not in raw.referenced:
            reader.problem(
                field,
                f"{reference} is not set in the environment, .env or the vault",
                f"set {reference}, or seal it with `qmoi secrets set {reference}`",
            )
        else:
            values[variable], names[variable] = raw.referenced[reference], field
    return values, names


def _figure_text(reader: Reader, field: str, value: object) -> str:
    """A figure as the variable's text; stream targets are an object of amounts."""
    if isinstance(value, dict):
        return ",".join(f"{k}={json_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        reader.problem(field, "is a list", "give a number, or an object for streamTargets")
        return ""
    return json_text(value)


def _minimum(own: Reader, entry: Mapping[str, Any], currency: str) -> Money:
    """The account's minimum guarantee, in its currency. Unset: the global one where it
    is in the same currency, else none (never a comparison across currencies)."""
    if "minimum" in entry:
        return own.amount("QMOI_MINIMUM_GUARANTEE", currency, positive=False)
    fallback = own.muted().amount("QMOI_MINIMUM_GUARANTEE", positive=False)
    return fallback if fallback.currency == currency else Money(0, currency)


def _stream_targets(own: Reader, currency: str) -> tuple[tuple[StreamKey, Money], ...]:
    name = "QMOI_STREAM_TARGETS"
    targets: list[tuple[StreamKey, Money]] = []
    for key, value in key_values(own, name):
        stream = stream_key(own, name, key)
        try:
            amount = Money.parse(value, currency)
        except InvalidAmount as exc:
            own.problem(name, f"{key}: {exc}", f"give an amount in {currency}")
            continue
        if stream is not None:
            targets.append((stream, amount))
    return tuple(targets)


def _with_defaults(
    reader: Reader, entries: tuple[dict[str, Any], ...], accounts: list[AccountSettings]
) -> tuple[AccountSettings, ...]:
    """Each provider's default account: its only one, or the one marked ``"default":
    true``; the accounts all sandbox or all live."""
    done: list[AccountSettings] = []
    for kind in PREFIXES:
        mine = [a for a in accounts if a.provider == kind]
        marked = [a for a in mine if a.default]
        if len(mine) == 1:
            marked = mine
        elif mine and len(marked) != 1:
            ids = ", ".join(a.id for a in mine)
            reader.problem(
                "accounts",
                f"{kind} has {len(mine)} accounts ({ids}) and "
                f"{'none' if not marked else len(marked)} marked default",
                'mark exactly one of them "default": true (the one the original '
                f"/api/qmoi/revenue/{kind}/… routes act on)",
            )
        done.extend(a.model_copy(update={"default": a in marked}) for a in mine)
    order = {str(e.get("id")): i for i, e in enumerate(entries)}
    done.sort(key=lambda a: order.get(a.id, 0))
    if len({a.environment is Environment.SANDBOX for a in done}) > 1:
        reader.problem(
            "accounts",
            "some accounts are the sandbox and others live; simulated and real money must "
            "never share a database",
            'give every account "environment": "sandbox", or every one a live environment',
        )
    return tuple(done)
