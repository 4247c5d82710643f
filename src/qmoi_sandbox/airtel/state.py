"""What the emulated Airtel Money merchant account holds: wallet, transactions, tokens.

This module models the *ledger side* of the emulator, with no HTTP and no clock of its
own (times are passed in): the merchant's one wallet in integer minor units (collections
credit it, disbursements, fees and refunds debit it), every transaction Airtel would
know about (keyed by the merchant's ``transaction.id`` per kind, and by Airtel's own
ids), and the OAuth2 bearer tokens issued so far.

It must never let money appear or vanish: the wallet moves only through
:meth:`AirtelState.credit` and :meth:`AirtelState.debit`, a debit never takes the
balance below zero, and Airtel ids are never reused, not even across a reset (QMOI may
still hold ids it saw before the reset, and books each provider id at most once).

:class:`AirtelSandboxConfig` lives here too, so every other module can import it
without importing the application.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["collection", "disbursement", "refund"]
Status = Literal["pending", "succeeded", "failed", "expired"]
AirtelStatus = Literal["TIP", "TS", "TF", "TA"]


@dataclass(frozen=True)
class CountryRules:
    """How subscriber numbers look in one Airtel country."""

    dialling_code: str
    national_length: int
    leading_digits: tuple[str, ...] = ()  # empty: any first digit but 0

    def to_international(self, national: str) -> str:
        return self.dialling_code + national


# Airtel's countries, dialling codes and 9-digit national numbers (Nigeria 10).
# Leading digits are enforced only where Airtel names them (Kenya: 7… and 1…).
COUNTRIES: dict[str, CountryRules] = {
    "KE": CountryRules("254", 9, ("1", "7")),
    "UG": CountryRules("256", 9),
    "TZ": CountryRules("255", 9),
    "RW": CountryRules("250", 9),
    "ZM": CountryRules("260", 9),
    "MW": CountryRules("265", 9),
    "NG": CountryRules("234", 10),
    "CD": CountryRules("243", 9),
    "CG": CountryRules("242", 9),
    "GA": CountryRules("241", 9),
    "TD": CountryRules("235", 9),
    "NE": CountryRules("227", 9),
    "MG": CountryRules("261", 9),
    "SC": CountryRules("248", 9),
}

# ISO 4217 minor-unit exponents of the footprint's currencies.
CURRENCY_EXPONENTS: dict[str, int] = {
    "KES": 2,
    "UGX": 0,
    "TZS": 2,
    "RWF": 0,
    "ZMW": 2,
    "MWK": 2,
    "NGN": 2,
    "CDF": 2,
    "USD": 2,
    "XAF": 0,
    "XOF": 0,
    "MGA": 2,
    "SCR": 2,
}

# The currency of each country's Airtel Money wallets (the X-Currency it accepts). The
# emulator keeps its own copy: it shares no code with QMOI.
CURRENCIES: dict[str, str] = {
    "KE": "KES",
    "UG": "UGX",
    "TZ": "TZS",
    "RW": "RWF",
    "ZM": "ZMW",
    "MW": "MWK",
    "NG": "NGN",
    "CD": "CDF",
    "CG": "XAF",
    "GA": "XAF",
    "TD": "XAF",
    "NE": "XOF",
    "MG": "MGA",
    "SC": "SCR",
}

# Opening float of a served country's wallet other than the home one, in whole units:
# about a million shillings' worth each, so every wallet can pay out from the start.
# Illustrative round numbers, not exchange rates.
OPENING_WHOLE_UNITS: dict[str, int] = {
    "KES": 1_000_000,
    "UGX": 30_000_000,
    "TZS": 20_000_000,
    "RWF": 10_000_000,
    "ZMW": 200_000,
    "MWK": 13_000_000,
    "NGN": 12_000_000,
    "CDF": 20_000_000,
    "XAF": 5_000_000,
    "XOF": 5_000_000,
    "MGA": 35_000_000,
    "SCR": 100_000,
}

_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency, 2)


def format_minor(amount_minor: int, currency: str) -> str:
    """``123456`` KES → ``"1234.56"``: the decimal string Airtel and the inspection API use."""
    exp = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"


@dataclass(frozen=True)
class AirtelSandboxConfig:
    """Everything an Airtel emulator instance is started with (see ``app.py`` for defaults).

    Durations are simulated seconds unless the name says otherwise.
    """

    client_id: str = "qmoi-sandbox"
    client_secret: str = "qmoi-sandbox-secret"  # noqa: S105 - fixed sandbox credential
    pin: str = "1234"
    country: str = "KE"
    currency: str = "KES"
    #: further countries served beside ``country``, each in its own currency (CURRENCIES)
    countries: tuple[str, ...] = ()
    seed: int | None = None
    speed: float = 1.0
    start: datetime | None = None
    #: epoch second at which the clock stood at ``start`` (shares another clock)
    clock_origin: float | None = None
    opening_balance_minor: int = 100_000_000
    customer_delay_s: tuple[float, float] = (5.0, 30.0)
    prompt_timeout_s: float = 60.0
    default_approve_rate: float = 0.9
    callback_url: str | None = None
    callback_auth: bool = False
    callback_key: str = "qmoi-sandbox-callback-key"
    hash_scope: Literal["outer", "inner"] = "outer"
    signing_required: bool = False
    token_ttl_s: int = 180
    disbursement_fee_minor: int = 0
    disbursement_callbacks: bool = False
    max_transaction_minor: int | None = None
    merchant_name: str = "QMOI SANDBOX"
    rsa_key_bits: int = 1024
    private_key_pem: bytes | None = None
    callback_max_attempts: int = 5
    callback_first_retry_s: float = 30.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.client_id or not self.client_secret:
            problems.append("client id and secret must not be empty")
        if not self.pin.isdigit():
            problems.append("pin must be digits")
        if self.country not in COUNTRIES:
            problems.append(f"country must be one of {sorted(COUNTRIES)}")
        unknown = [c for c in self.countries if c not in COUNTRIES]
        if unknown:
            problems.append(f"countries {unknown} not among {sorted(COUNTRIES)}")
        if not _CURRENCY_RE.match(self.currency):
            problems.append("currency must be an ISO 4217 code")
        if self.speed <= 0:
            problems.append("speed must be positive")
        if self.start is not None and self.start.tzinfo is None:
            problems.append("start must be timezone-aware")
        if self.opening_balance_minor < 0:
            problems.append("opening balance must not be negative")
        low, high = self.customer_delay_s
        if not 0 <= low <= high:
            problems.append("customer_delay_s must be (low, high) with 0 <= low <= high")
        if self.prompt_timeout_s < 0:
            problems.append("prompt_timeout_s must not be negative")
        if not 0 <= self.default_approve_rate <= 1:
            problems.append("default_approve_rate must be in [0, 1]")
        if self.hash_scope not in ("outer", "inner"):
            problems.append("hash_scope must be 'outer' or 'inner'")
        if self.token_ttl_s <= 0:
            problems.append("token_ttl_s must be positive")
        if self.disbursement_fee_minor < 0:
            problems.append("disbursement fee must not be negative")
        if self.max_transaction_minor is not None and self.max_transaction_minor <= 0:
            problems.append("max_transaction_minor must be positive")
        if self.rsa_key_bits < 1024:
            problems.append("rsa_key_bits must be at least 1024")
        if self.callback_max_attempts < 1:
            problems.append("callback_max_attempts must be at least 1")
        if problems:
            raise ValueError("invalid Airtel sandbox config: " + "; ".join(problems))

    @property
    def rules(self) -> CountryRules:
        return COUNTRIES[self.country]

    @property
    def served(self) -> dict[str, str]:
        """Country → currency of every country served, the home ``country`` first."""
        served = {self.country: self.currency}
        for country in self.countries:
            served.setdefault(country, CURRENCIES[country])
        return served

    def opening_minor(self, country: str) -> int:
        if country == self.country:
            return self.opening_balance_minor
        currency = self.served[country]
        whole = OPENING_WHOLE_UNITS.get(currency, 1_000_000)
        return int(whole * 10 ** exponent(currency))


def valid_country_code(value: str) -> bool:
    return bool(_COUNTRY_RE.match(value))


@dataclass
class Transaction:
    """One collection, disbursement or refund as Airtel's books would show it."""

    id: str  # the merchant's transaction.id (for a refund: its own Airtel id)
    kind: Kind
    msisdn: str  # international form without "+", e.g. 254733000100
    amount_minor: int
    currency: str
    reference: str
    created_at: datetime
    status: Status = "pending"
    airtel_status: AirtelStatus = "TIP"
    result_code: str = ""
    result_text: str = ""
    message: str = ""  # what enquiries and callbacks say in ``message``
    fee_minor: int = 0
    provider_id: str | None = None  # airtel_money_id, once final and successful
    reference_id: str | None = None  # disbursements: Airtel's "CI…" reference
    country: str = ""  # the X-Country it came in with ("": the home country)
    completed_at: datetime | None = None
    refund_of: str | None = None  # refunds: the original collection's airtel_money_id

    def finish(
        self,
        *,
        now: datetime,
        status: Status,
        airtel_status: AirtelStatus,
        result_code: str,
        result_text: str,
        message: str,
        provider_id: str | None = None,
    ) -> None:
        self.status = status
        self.airtel_status = airtel_status
        self.result_code = result_code
        self.result_text = result_text
        self.message = message
        self.provider_id = provider_id
        self.completed_at = now

    def as_json(self) -> dict[str, Any]:
        """The inspection API's transaction shape (docs/sandbox.md)."""
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "kind": self.kind,
            "msisdn": self.msisdn,
            "amount_minor": self.amount_minor,
            "amount": format_minor(self.amount_minor, self.currency),
            "currency": self.currency,
            "country": self.country,
            "status": self.status,
            "result_code": self.result_code,
            "result_text": self.result_text,
            "fee_minor": self.fee_minor,
            "reference": self.reference,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "sandbox": True,
        }


class InsufficientFunds(Exception):
    """The wallet holds less than a debit asks for."""


class Wallet:
    """One country's merchant float in integer minor units of its currency."""

    def __init__(self, currency: str, opening_minor: int) -> None:
        self.currency = currency
        self.opening_minor = opening_minor
        self.balance_minor = opening_minor
        #: part of the float held back from payouts (``PUT /sandbox/wallet``): how a
        #: reliability run makes the float insufficient for a while without moving money
        self.held_minor = 0

    def credit(self, amount_minor: int) -> None:
        if amount_minor < 0:
            raise ValueError("credit must not be negative")
        self.balance_minor += amount_minor

    def debit(self, amount_minor: int) -> None:
        if amount_minor < 0:
            raise ValueError("debit must not be negative")
        if amount_minor > self.available_minor:
            raise InsufficientFunds(f"available {self.available_minor} < {amount_minor}")
        self.balance_minor -= amount_minor

    @property
    def available_minor(self) -> int:
        """What a payout or refund may take: the float less any hold."""
        return max(0, self.balance_minor - self.held_minor)

    def hold(self, held_minor: int) -> None:
        if held_minor < 0:
            raise ValueError("hold must not be negative")
        self.held_minor = held_minor

    def set_balance(self, balance_minor: int) -> None:
        if balance_minor < 0:
            raise ValueError("balance must not be negative")
        self.balance_minor = balance_minor

    def reset(self) -> None:
        self.balance_minor = self.opening_minor
        self.held_minor = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "balance_minor": self.balance_minor,
            "currency": self.currency,
            "balance": format_minor(self.balance_minor, self.currency),
            "held_minor": self.held_minor,
        }


class AirtelState:
    """The merchant's wallets (one per served country), transactions and tokens.

    Single-threaded: the event loop owns it. The wallet methods without a country act
    on the home country's wallet, the one a single-country emulator has.
    """

    def __init__(self, config: AirtelSandboxConfig) -> None:
        self.config = config
        self.currency = config.currency
        self.wallets = {
            country: Wallet(currency, config.opening_minor(country))
            for country, currency in config.served.items()
        }
        self.transactions: list[Transaction] = []
        self._by_kind_id: dict[tuple[Kind, str], Transaction] = {}
        self._by_provider_id: dict[str, Transaction] = {}
        self.refunded: set[str] = set()  # airtel_money_ids of refunded collections
        self.tokens: dict[str, datetime] = {}  # access token → simulated expiry
        self._sequence = itertools.count(1)  # never reset: Airtel ids stay unique

    # --- wallet -----------------------------------------------------------------------

    def wallet(self, country: str = "") -> Wallet:
        return self.wallets[country or self.config.country]

    @property
    def balance_minor(self) -> int:
        return self.wallet().balance_minor

    @property
    def held_minor(self) -> int:
        return self.wallet().held_minor

    @property
    def available_minor(self) -> int:
        return self.wallet().available_minor

    def credit(self, amount_minor: int) -> None:
        self.wallet().credit(amount_minor)

    def debit(self, amount_minor: int) -> None:
        self.wallet().debit(amount_minor)

    def hold(self, held_minor: int) -> None:
        self.wallet().hold(held_minor)

    def set_balance(self, balance_minor: int) -> None:
        self.wallet().set_balance(balance_minor)

    def wallet_json(self) -> dict[str, Any]:
        return self.wallet().as_json()

    # --- transactions -------------------------------------------------------------------

    def add(self, txn: Transaction) -> None:
        key = (txn.kind, txn.id)
        if key in self._by_kind_id:
            raise ValueError(f"duplicate {txn.kind} id {txn.id!r}")
        self._by_kind_id[key] = txn
        self.transactions.append(txn)
        self.index_provider_ids(txn)

    def index_provider_ids(self, txn: Transaction) -> None:
        for pid in (txn.provider_id, txn.reference_id):
            if pid:
                self._by_provider_id[pid] = txn

    def exists(self, kind: Kind, txn_id: str) -> bool:
        return (kind, txn_id) in self._by_kind_id

    def get(self, kind: Kind, txn_id: str) -> Transaction | None:
        return self._by_kind_id.get((kind, txn_id))

    def by_provider_id(self, provider_id: str) -> Transaction | None:
        return self._by_provider_id.get(provider_id)

    def lookup(self, any_id: str) -> Transaction | None:
        """By the merchant's id (oldest first) or by any Airtel id: the inspection lookup."""
        for txn in self.transactions:
            if txn.id == any_id:
                return txn
        return self._by_provider_id.get(any_id)

    def select(self, kind: str | None = None, status: str | None = None) -> list[Transaction]:
        return [
            t
            for t in self.transactions
            if (not kind or t.kind == kind) and (not status or t.status == status)
        ]

    # --- Airtel ids ---------------------------------------------------------------------

    def next_money_id(self, prefix: str, letter: str, now: datetime) -> str:
        """``MP260101.1200.A00001``-style ids: prefix, date, time, letter and a sequence."""
        seq = next(self._sequence)
        return f"{prefix}{now:%y%m%d}.{now:%H%M}.{letter}{seq:05d}"

    # --- tokens -------------------------------------------------------------------------

    def issue_token(self, now: datetime) -> str:
        self._forget_expired(now)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = now + timedelta(seconds=self.config.token_ttl_s)
        return token

    def token_valid(self, token: str, now: datetime) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and now < expiry

    def revoke_token(self, token: str) -> None:
        self.tokens.pop(token, None)

    def _forget_expired(self, now: datetime) -> None:
        for token in [t for t, expiry in self.tokens.items() if expiry <= now]:
            del self.tokens[token]

    # --- reset --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget transactions; wallets back to their opening balance. Tokens and ids survive."""
        for wallet in self.wallets.values():
            wallet.reset()
        self.transactions.clear()
        self._by_kind_id.clear()
        self._by_provider_id.clear()
        self.refunded.clear()
