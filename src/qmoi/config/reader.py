"""Parsing one variable at a time into a :class:`Report`: a problem is recorded as
``VARIABLE: what is wrong — how to fix it`` and reading goes on, so one run reports every
problem; safe corrections are applied and recorded. Secrets never appear in a message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from qmoi.config.catalogue import VARIABLES
from qmoi.config.secret_names import SECRET_VARIABLES
from qmoi.config.sources import RawValues
from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money, exponent
from qmoi.domain.msisdn import check_msisdn
from qmoi.domain.streams import StreamKey


@dataclass
class Report:
    """What loading found: problems make the configuration unusable; the rest inform."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # where values came from, when notable

    @property
    def usable(self) -> bool:
        return not self.problems


class Reader:
    """Parses one variable at a time, recording problems instead of stopping at the first."""

    def __init__(
        self, raw: RawValues, report: Report, names: Callable[[str], str] | None = None
    ) -> None:
        self.raw = raw.values
        self.report = report
        self._strict_network: bool | None = None
        #: how a finding names the variable (an account's reader names its own fields)
        self.name_of: Callable[[str], str] = names or (lambda name: name)

    def muted(self) -> Reader:
        """A reader of the same values whose findings go nowhere: a disabled provider's
        settings are read for their defaults, never required or checked."""
        return Reader(RawValues(self.raw), Report())

    def over(self, values: dict[str, str], names: Callable[[str], str]) -> Reader:
        """A reader of these values with ``values`` on top, reporting into the same report
        under ``names``: an account read as if its fields were the provider's variables."""
        reader = Reader(RawValues({**self.raw, **values}), self.report, names)
        reader._strict_network = self.strict_network
        return reader

    def text(self, name: str) -> str | None:
        value = self.raw.get(name, VARIABLES[name][0])
        if value is None:
            return None
        stripped = value.strip()
        if stripped != value and name not in SECRET_VARIABLES:
            self.correct(name, value, stripped, "removed stray spaces")
        elif stripped != value:
            self.report.corrections.append(
                f"{self.name_of(name)}: removed stray spaces around the value"
            )
        return stripped or None

    def correct(self, name: str, before: str, after: str, what: str) -> None:
        self.report.corrections.append(f"{self.name_of(name)}: {what}: {before!r} → {after!r}")

    def problem(self, name: str, what: str, fix: str) -> None:
        line = f"{self.name_of(name)}: {what} — {fix}"
        if line not in self.report.problems:  # an inherited value is read once per account
            self.report.problems.append(line)

    def warn(self, name: str, what: str, fix: str) -> None:
        line = f"{self.name_of(name)}: {what} — {fix}"
        if line not in self.report.warnings:
            self.report.warnings.append(line)

    def secret(self, name: str) -> SecretStr | None:
        value = self.text(name)
        return SecretStr(value) if value else None

    def boolean(self, name: str) -> bool:
        value = (self.text(name) or "").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        self.problem(name, f"{value!r} is not true or false", "use true or false")
        return False

    def choice(self, name: str, choices: list[str], default: str) -> str:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in choices:
            self.problem(name, f"{value!r} is not one of {', '.join(choices)}", "pick one of them")
            return default
        if lowered != value:
            self.correct(name, value, lowered, "lower-cased")
        return lowered

    def amount(
        self, name: str, currency: str = "KES", *, positive: bool = True, fix: str | None = None
    ) -> Money:
        value = self.text(name) or ""
        try:
            money = Money.parse(value, currency)
        except InvalidAmount as exc:
            example = "10,000.50" if exponent(currency) else f"10,000 ({currency} has no cents)"
            self.problem(name, f"{exc}", fix or f"give an amount like 10000 or {example}")
            return Money.parse(VARIABLES[name][0] or "0", currency)
        if positive and not money.is_positive:
            self.problem(name, "must be more than zero", fix or "give a positive amount like 2000")
        return money

    def ratio(self, name: str) -> Decimal:
        value = self.text(name) or ""
        try:
            number = Decimal(value.rstrip("%")) / (100 if value.endswith("%") else 1)
        except InvalidOperation:
            self.problem(name, f"{value!r} is not a number", "give a fraction like 0.20 or 20%")
            return Decimal("0.20")
        if not number.is_finite() or number < 0 or number > 10:
            self.problem(name, f"{value!r} is out of range", "give a fraction between 0 and 10")
            return Decimal("0.20")
        return number

    def url(self, name: str, *, value: str | None = None) -> str | None:
        value = value if value is not None else self.text(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problem(
                name, f"{value!r} is not an http(s) URL", "give a URL like https://pay.example.com"
            )
            return None
        if value.endswith("/"):
            trimmed = value.rstrip("/")
            self.correct(name, value, trimmed, "removed the trailing slash")
            value = trimmed
        return value

    @property
    def strict_network(self) -> bool:
        """QMOI_STRICT_NETWORK, read once: whether a number in another network's range
        is refused rather than warned about."""
        if self._strict_network is None:
            self._strict_network = self.boolean("QMOI_STRICT_NETWORK")
        return self._strict_network

    def phone(
        self,
        name: str,
        network: str,
        example: str,
        sandbox_default: str | None,
        country: str = "KE",
    ) -> str:
        """The owner's number on ``network`` in ``country``, stored as E.164 digits. A
        number of another network's range is a warning (numbers can be ported) unless
        QMOI_STRICT_NETWORK makes it a problem."""
        value = self.text(name)
        if value is None:
            if sandbox_default is not None:
                return sandbox_default
            self.problem(name, "is not set", f"give the owner's {network} number, e.g. {example}")
            return ""
        checked = check_msisdn(value, country, network)
        error = checked.problem or (checked.network_hint if self.strict_network else None)
        if error:
            self.problem(name, error, f"give the owner's {network} number, e.g. {example}")
            return ""
        normalised = checked.number
        if checked.network_hint:
            self.warn(
                name,
                f"{checked.network_hint}, going by its number range; accepted, as numbers "
                "can be ported between networks",
                f"make sure it is the owner's {network} number, or set "
                "QMOI_STRICT_NETWORK=true to refuse such numbers",
            )
        if normalised != value:
            self.correct(name, value, normalised, "stored in international form")
        return normalised


def stream_key(reader: Reader, name: str, text: str) -> StreamKey | None:
    """The stream ``text`` names, or None and a problem."""
    try:
        return StreamKey(text.strip().lower())
    except ValueError:
        reader.problem(
            name,
            f"{text!r} is not a revenue stream",
            f"use one of {', '.join(s.value for s in StreamKey)}",
        )
        return None


def key_values(reader: Reader, name: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` items, comma-separated; malformed ones are problems."""
    text = reader.text(name) or ""
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            reader.problem(name, f"{item!r} is not KEY=VALUE", "separate pairs with commas")
            continue
        pairs.append((key.strip(), value.strip()))
    return pairs


def pem_or_path(reader: Reader, name: str) -> str | None:
    """PEM (or base64) text given inline, or read from the file it names."""
    value = reader.text(name)
    if value is None:
        return None
    if "-----BEGIN" in value or re.fullmatch(r"[A-Za-z0-9+/=\s]{100,}", value):
        return value.replace("\\n", "\n")
    path = Path(value).expanduser()
    if not path.is_file():
        reader.problem(name, f"{value} is neither PEM text nor a readable file", "fix the path")
        return None
    return path.read_text(encoding="utf-8", errors="replace")
