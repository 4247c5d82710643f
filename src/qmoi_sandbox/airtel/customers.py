"""Simulated Airtel Money subscribers: who answers a USSD prompt, how, and after how long.

A USSD push only *asks* the subscriber; the outcome depends on a person holding a phone.
This module stands in for that person. Each subscriber approves with a probability
(0.9 unless created through ``POST /sandbox/customers`` with another rate); otherwise
they fail with one of the real reasons Airtel reports (cancelled, never answered, not
enough balance, wrong PIN). The fixed test numbers of ``docs/sandbox.md`` always give
the same outcome, like a card network's test cards.

Every draw comes from one seeded generator, so the same seed and the same order of
requests give the same outcomes and delays. Nothing here touches the wallet or the
network: the engine applies what the customer decided.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType

from qmoi_sandbox.airtel.state import CountryRules


class Outcome(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    NO_ANSWER = "no_answer"
    NO_FUNDS = "no_funds"
    WRONG_PIN = "wrong_pin"


FAILURES: tuple[Outcome, ...] = (
    Outcome.DECLINE,
    Outcome.NO_ANSWER,
    Outcome.NO_FUNDS,
    Outcome.WRONG_PIN,
)

# docs/sandbox.md "Test numbers": national number = the country's test prefix + these
# six digits. Kenya's are 733000100 … 733000104 (254733000100 …); elsewhere the prefix
# is an Airtel range where phonenumbers calls all five numbers valid mobiles (733… is not
# valid in Uganda, Zambia, Malawi, DR Congo or Nigeria). Countries whose emulated number
# length disagrees with phonenumbers (TD, NE, SC) have no test numbers.
_TEST_SUFFIXES: dict[str, Outcome] = {
    "000100": Outcome.APPROVE,
    "000101": Outcome.DECLINE,
    "000102": Outcome.NO_ANSWER,
    "000103": Outcome.NO_FUNDS,
    "000104": Outcome.WRONG_PIN,
}
TEST_PREFIXES: dict[str, str] = {
    "KE": "733",
    "UG": "753",
    "TZ": "783",
    "ZM": "973",
    "MW": "993",
    "RW": "733",
    "CD": "973",
    "NG": "8083",
    "CG": "053",
    "GA": "077",
    "MG": "333",
}


def fixed_numbers(country: str) -> dict[str, Outcome]:
    """The fixed-outcome national numbers of ``country`` (empty where it has none)."""
    prefix = TEST_PREFIXES.get(country)
    if prefix is None:
        return {}
    return {prefix + suffix: outcome for suffix, outcome in _TEST_SUFFIXES.items()}


TEST_NUMBERS: dict[str, Outcome] = fixed_numbers("KE")

_FIRST_NAMES = ("AMINA", "BRIAN", "CHEBET", "DAVID", "ESTHER", "FAITH", "GEORGE", "HALIMA")
_LAST_NAMES = ("OTIENO", "WANJIKU", "KIPROP", "MUTUA", "ACHIENG", "NJOROGE", "KAMAU", "ODHIAMBO")
# Airtel's ranges per country, for generated subscribers (QMOI checks numbers with
# phonenumbers, so a generated number must be a valid mobile there too).
_GENERATED_PREFIXES: dict[str, tuple[str, ...]] = {
    "KE": ("73", "78"),
    "UG": ("70", "74", "75"),
    "TZ": ("68", "69", "78"),
    "ZM": ("77", "97"),
    "MW": ("99",),
    "RW": ("72", "73"),
    "CD": ("97", "99"),
    "NG": ("802", "808", "701"),
    "CG": ("05",),
    "GA": ("074", "077"),
    "MG": ("33",),
}


def valid_mobile(country: str, national: str, dialling_code: str) -> bool:
    """Whether phonenumbers takes ``national`` for a mobile number of ``country``."""
    try:
        parsed = phonenumbers.parse("+" + dialling_code + national)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


@dataclass
class Customer:
    """One subscriber the emulator knows, with their answering behaviour and KYC data."""

    msisdn: str  # national form, as on the wire
    approve_rate: float
    label: str
    first_name: str
    last_name: str
    registered_id: str
    fixed: Outcome | None = None


class CustomerBook:
    """All subscribers seen or created; unknown valid numbers join on first use."""

    def __init__(
        self,
        *,
        country: str,
        rules: CountryRules,
        rng: random.Random,
        default_approve_rate: float,
        delay_s: tuple[float, float],
        prompt_timeout_s: float,
    ) -> None:
        self._country = country
        self._rules = rules
        self._rng = rng
        self._default_rate = default_approve_rate
        self._delay_s = delay_s
        self._prompt_timeout_s = prompt_timeout_s
        self._customers: dict[str, Customer] = {}
        for number, outcome in fixed_numbers(country).items():
            if len(number) == rules.national_length:
                self._customers[number] = Customer(
                    number,
                    1.0 if outcome is Outcome.APPROVE else 0.0,
                    f"test number: {outcome.value}",
                    "SANDBOX",
                    outcome.value.replace("_", " ").upper(),
                    f"TEST{number[-4:]}",
                    fixed=outcome,
                )

    def get(self, msisdn: str) -> Customer:
        customer = self._customers.get(msisdn)
        if customer is None:
            customer = self._new(msisdn, self._default_rate, "")
        return customer

    def create(self, count: int, approve_rate: float, label: str) -> list[Customer]:
        created: list[Customer] = []
        prefixes = _GENERATED_PREFIXES.get(self._country, ("7",))
        while len(created) < count:
            prefix = self._rng.choice(prefixes)
            rest = self._rules.national_length - len(prefix)
            number = prefix + "".join(self._rng.choice("0123456789") for _ in range(rest))
            if number in self._customers or not self._plausible(number):
                continue
            created.append(self._new(number, approve_rate, label))
        return created

    def _plausible(self, number: str) -> bool:
        # Countries without known ranges take any number; known ones must be valid mobiles.
        if self._country not in _GENERATED_PREFIXES:
            return True
        return valid_mobile(self._country, number, self._rules.dialling_code)

    def international(self, customer: Customer) -> str:
        return self._rules.to_international(customer.msisdn)

    def decide(self, customer: Customer) -> Outcome:
        """What the subscriber does with the prompt (drawn now, applied after the delay)."""
        if customer.fixed is not None:
            return customer.fixed
        if self._rng.random() < customer.approve_rate:
            return Outcome.APPROVE
        return self._rng.choice(FAILURES)

    def answer_delay_s(self, outcome: Outcome) -> float:
        """Simulated seconds until the outcome is known; a silent phone waits out the prompt."""
        if outcome is Outcome.NO_ANSWER:
            return self._prompt_timeout_s
        low, high = self._delay_s
        return self._rng.uniform(low, high)

    def _new(self, msisdn: str, approve_rate: float, label: str) -> Customer:
        # KYC data is derived from the number, not drawn: a lookup must not shift the
        # seeded sequence of outcomes.
        n = int(msisdn)
        customer = Customer(
            msisdn,
            approve_rate,
            label,
            _FIRST_NAMES[n % len(_FIRST_NAMES)],
            _LAST_NAMES[(n // len(_FIRST_NAMES)) % len(_LAST_NAMES)],
            f"{(n * 7919) % 100_000_000:08d}",
        )
        self._customers[msisdn] = customer
        return customer
