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

# docs/sandbox.md "Test numbers", by national number (the international forms are
# 254733000100 … 254733000104 in Kenya).
TEST_NUMBERS: dict[str, Outcome] = {
    "733000100": Outcome.APPROVE,
    "733000101": Outcome.DECLINE,
    "733000102": Outcome.NO_ANSWER,
    "733000103": Outcome.NO_FUNDS,
    "733000104": Outcome.WRONG_PIN,
}

_FIRST_NAMES = ("AMINA", "BRIAN", "CHEBET", "DAVID", "ESTHER", "FAITH", "GEORGE", "HALIMA")
_LAST_NAMES = ("OTIENO", "WANJIKU", "KIPROP", "MUTUA", "ACHIENG", "NJOROGE", "KAMAU", "ODHIAMBO")
# Kenyan Airtel ranges 73x and 78x; other countries' generated numbers start with 7.
_GENERATED_PREFIXES: dict[str, tuple[str, ...]] = {"KE": ("73", "78")}


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
        for number, outcome in TEST_NUMBERS.items():
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
            if number in self._customers:
                continue
            created.append(self._new(number, approve_rate, label))
        return created

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
