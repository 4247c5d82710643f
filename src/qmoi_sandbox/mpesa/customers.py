"""Simulated M-Pesa customers: who they are and how they answer an STK prompt.

A push reaches a phone; the customer enters the PIN (success), cancels (1032), never
answers (1037, the "DS timeout"), lacks funds (1) or types a wrong PIN (2001); now and
then the prompt simply expires (1019). Each customer approves with a probability and
otherwise fails with one of those codes; the answer comes after a simulated delay
(``config.customer_delay_s``), or after ``config.stk_timeout_s`` when nobody answers.

Fixed test numbers behave like card networks' test cards (docs/sandbox.md):

==============  ==========================
254708000100    approves
254708000101    cancels (1032)
254708000102    never answers (1037)
254708000103    lacks funds (1)
254708000104    enters a wrong PIN (2001)
==============  ==========================

Any other valid Safaricom number approves with ``config.default_approve_rate`` unless
it was created through ``POST /sandbox/customers`` with another rate. A well-formed
number of another network (Airtel's 073x…) is not an M-Pesa subscriber: its prompt is
never delivered (1037) and a B2C payout to it fails with ``SFC_IC0003``.

Every draw comes from the emulator's seeded generator, in request order, so a seeded
run repeats itself. Names (shown in C2B callbacks and B2C ``ReceiverPartyPublicName``)
are derived from the number, not drawn, so a customer keeps one name.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qmoi_sandbox.mpesa.config import MpesaSandboxConfig

#: Daraja's STK result codes with the texts the emulator sends.
STK_RESULTS: dict[int, str] = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    17: "Rule limited.",
    1019: "Transaction has expired.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
    2028: "The request is not permitted according to product assignment.",
}

APPROVE = 0
CANCELLED = 1032
NO_ANSWER = 1037
INSUFFICIENT_FUNDS = 1
WRONG_PIN = 2001
EXPIRED = 1019

TEST_NUMBERS: dict[str, int] = {
    "254708000100": APPROVE,
    "254708000101": CANCELLED,
    "254708000102": NO_ANSWER,
    "254708000103": INSUFFICIENT_FUNDS,
    "254708000104": WRONG_PIN,
}

#: How a customer who does not approve fails, and how often.
FAILURE_WEIGHTS: dict[int, int] = {
    CANCELLED: 45,
    NO_ANSWER: 25,
    INSUFFICIENT_FUNDS: 15,
    WRONG_PIN: 10,
    EXPIRED: 5,
}

#: Codes that mean "nobody answered in time": they take the prompt timeout, not the
#: customer's thinking time, and end the transaction as ``expired``.
UNANSWERED = frozenset({NO_ANSWER, EXPIRED})

MSISDN_RE = re.compile(r"^254(?:7\d{8}|1\d{8})$")

#: Safaricom's mobile prefixes (after 254): 070–072, 0740–0743, 0745, 0746, 0748,
#: 0757–0759, 0768, 0769, 079, 0110–0115.
_SAFARICOM_RE = re.compile(r"^254(?:7[0-2]\d|74[0-35-68]|75[7-9]|76[89]|79\d|11[0-5])\d{6}$")
#: Prefixes new simulated customers are numbered in (07xx, clear of the test block).
_NEW_PREFIXES = ("25470", "25471", "25472", "25479")

_FIRST = ("JOHN", "MARY", "PETER", "GRACE", "JAMES", "FAITH", "DAVID", "MERCY", "BRIAN", "ANN")
_MIDDLE = ("", "", "KAMAU", "WANJIRU", "OTIENO", "ACHIENG", "KIPCHOGE", "MUTUA", "NJERI", "")
_LAST = ("DOE", "MWANGI", "ODHIAMBO", "KARIUKI", "WAFULA", "CHEPKOECH", "KIMANI", "NDUTA", "OMONDI")


def is_msisdn(value: str) -> bool:
    """A Kenyan mobile number in Daraja's form: ``2547XXXXXXXX`` or ``2541XXXXXXXX``."""
    return bool(MSISDN_RE.match(value))


def is_safaricom(value: str) -> bool:
    return value in TEST_NUMBERS or bool(_SAFARICOM_RE.match(value))


@dataclass(frozen=True)
class Customer:
    msisdn: str
    approve_rate: float
    label: str = ""
    fixed_code: int | None = None

    @property
    def names(self) -> tuple[str, str, str]:
        digest = hashlib.sha256(self.msisdn.encode()).digest()
        return (
            _FIRST[digest[0] % len(_FIRST)],
            _MIDDLE[digest[1] % len(_MIDDLE)],
            _LAST[digest[2] % len(_LAST)],
        )

    @property
    def display_name(self) -> str:
        first, middle, last = self.names
        return " ".join(part for part in (first, middle, last) if part)


@dataclass(frozen=True)
class PromptAnswer:
    """What a customer will do with a prompt, decided when the push arrives."""

    code: int
    delay_s: float


class CustomerBook:
    """The customers the emulator knows; unknown valid numbers are met on first use."""

    def __init__(self, rng: random.Random, config: MpesaSandboxConfig) -> None:
        self._rng = rng
        self._config = config
        self._customers: dict[str, Customer] = {
            msisdn: Customer(msisdn, 1.0 if code == APPROVE else 0.0, "test number", code)
            for msisdn, code in TEST_NUMBERS.items()
        }

    def get(self, msisdn: str) -> Customer:
        customer = self._customers.get(msisdn)
        if customer is None:
            customer = Customer(msisdn, self._config.default_approve_rate)
            self._customers[msisdn] = customer
        return customer

    def create(self, count: int, approve_rate: float, label: str = "") -> list[str]:
        """``count`` new customers with fresh Safaricom numbers."""
        made: list[str] = []
        while len(made) < count:
            msisdn = self._rng.choice(_NEW_PREFIXES) + f"{self._rng.randrange(10**7):07d}"
            if msisdn in self._customers:
                continue
            self._customers[msisdn] = Customer(msisdn, approve_rate, label)
            made.append(msisdn)
        return made

    def answer(self, msisdn: str) -> PromptAnswer:
        """Decide now how and when the customer will answer a prompt."""
        if not is_safaricom(msisdn):
            return PromptAnswer(NO_ANSWER, self._config.stk_timeout_s)
        customer = self.get(msisdn)
        delay = self._rng.uniform(*self._config.customer_delay_s)
        if customer.fixed_code is not None:
            code = customer.fixed_code
        elif self._rng.random() < customer.approve_rate:
            code = APPROVE
        else:
            codes = list(FAILURE_WEIGHTS)
            code = self._rng.choices(codes, weights=[FAILURE_WEIGHTS[c] for c in codes])[0]
        if code in UNANSWERED:
            delay = self._config.stk_timeout_s
        return PromptAnswer(code, delay)
