"""What the Daraja emulator remembers: the organisation's float, its transactions, the
OAuth tokens it issued and the C2B URLs registered with it.

The emulator models one M-Pesa organisation (one paybill shortcode, optionally a till
number, one initiator operator) with one working float, the "Utility Account" that
STK and C2B payments credit and B2C payouts, their charges and reversals debit. Money
is held in integer minor units (cents of KES); Daraja's whole-shilling amounts are
converted at the edge, and the decimal numbers Daraja puts in callbacks are produced
only when a payload is written (:func:`wire_amount`).

Tokens and C2B URL registrations are the merchant's set-up, not its traffic, so they
survive ``POST /sandbox/reset``; transactions, customers, faults, the delivery log and
the float do not.

Identifiers imitate Daraja's (``ws_CO_…`` checkout ids, ``AG_…`` conversation ids,
10-character receipts) and are drawn from a generator seeded with ``config.seed``, so a
run with the same seed and the same request order produces the same ids and outcomes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
import string
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from qmoi_sandbox.common.clock import SimClock
from qmoi_sandbox.common.delivery import CallbackSender
from qmoi_sandbox.common.faults import FaultInjector, Faults
from qmoi_sandbox.mpesa.crypto import EmulatorKeys
from qmoi_sandbox.mpesa.customers import CustomerBook

logger = logging.getLogger("qmoi_sandbox.mpesa")

#: Safaricom's published Lipa na M-Pesa Online passkey for the public sandbox shortcode
#: 174379 (the doc's §5 test vector decodes to ``174379`` + this + the timestamp).
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

#: Daraja timestamps carry no zone and are Nairobi local time (UTC+3, no DST).
NAIROBI = timezone(timedelta(hours=3), "EAT")

Kind = Literal["collection", "disbursement", "refund", "reversal", "c2b"]
Status = Literal["pending", "succeeded", "failed", "expired"]


@dataclass(frozen=True)
class MpesaSandboxConfig:
    """Everything that shapes one emulator instance; all fields have sandbox defaults.

    Durations ending in ``_s`` are simulated seconds (scaled by ``speed``) unless the
    field says "real seconds".
    """

    consumer_key: str = "qmoi-sandbox"
    consumer_secret: str = "qmoi-sandbox-secret"  # noqa: S105 - fixed sandbox credential
    shortcode: str = "174379"
    passkey: str = SANDBOX_PASSKEY
    #: a till (Buy Goods) number of the same organisation; None = the shortcode doubles
    #: as the till, as 174379 does in Safaricom's public sandbox
    till_number: str | None = None
    initiator: str = "qmoi_initiator"
    initiator_password: str = "Sandbox#1234"  # noqa: S105 - fixed sandbox credential
    organization_name: str = "QMOI Sandbox"
    country: str = "KE"
    currency: str = "KES"
    seed: int | None = None
    speed: float = 1.0
    start: datetime | None = None
    opening_balance_minor: int = 100_000_000
    #: simulated seconds a customer takes to answer the STK prompt (uniform in range)
    customer_delay_s: tuple[float, float] = (5.0, 30.0)
    #: simulated seconds after which an unanswered prompt ends with 1037 / 1019
    stk_timeout_s: float = 60.0
    #: approve probability of a valid number nobody configured
    default_approve_rate: float = 0.9
    #: simulated seconds before an initiator API (B2C, balance, status, reversal) answers
    result_delay_s: tuple[float, float] = (1.0, 5.0)
    #: OAuth token lifetime; Daraja's sample ``expires_in`` is 3599
    token_ttl_s: int = 3599
    #: the portal FAQ's (unconfirmed) "a new token invalidates the previous one"
    token_invalidates_previous: bool = False
    #: external C2B validation: off by default on Daraja, enabled on request
    c2b_validation: bool = False
    #: real seconds the Validation URL has to answer before ResponseType applies (~8 s)
    c2b_validation_timeout_s: float = 8.0
    #: production behaviour: URLs can be registered only once per shortcode
    c2b_register_once: bool = False
    #: how C2B callbacks show the payer: masked ``2547 ***** 149`` or a sha256 hex hash
    c2b_msisdn_style: Literal["masked", "hashed"] = "masked"
    #: B2C charge per successful payout (the doc's example "Fee For B2C Payment|KES|22.40")
    b2c_fee_minor: int = 2_240
    b2c_min_minor: int = 1_000
    b2c_max_minor: int = 25_000_000
    stk_max_minor: int = 25_000_000
    #: "same amount to the same customer within 2 minutes" → STK 17; 0 disables
    same_amount_window_s: float = 120.0
    #: a second push to a phone with an open prompt → "Unable to lock subscriber"
    lock_subscriber: bool = True
    #: refuse callback URLs containing mpesa/safaricom/exec/sql/query… (doc §13.5)
    enforce_url_rules: bool = True
    #: the portal says failed callback deliveries are not retried; raise to retry
    callback_max_attempts: int = 1
    callback_retry_s: float = 30.0
    #: lock the initiator (8006) after this many consecutive wrong credentials; 0 = never
    initiator_lock_after: int = 0
    key_bits: int = 2048

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        for name in ("customer_delay_s", "result_delay_s"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high")
        if not 0 <= self.default_approve_rate <= 1:
            raise ValueError("default_approve_rate must be within [0, 1]")
        if self.opening_balance_minor < 0:
            raise ValueError("opening_balance_minor must not be negative")
        if self.callback_max_attempts < 1:
            raise ValueError("callback_max_attempts must be at least 1")

    @property
    def shortcodes(self) -> frozenset[str]:
        """Every number of the organisation: the paybill and its till."""
        return frozenset({self.shortcode, self.till_number or self.shortcode})


class MpesaFaults(Faults):
    """The shared faults plus Daraja's queue timeout (doc §9)."""

    queue_timeout_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="a B2C result goes to QueueTimeOutURL instead of ResultURL "
        "(half of them are executed anyway)",
    )


class MpesaFaultInjector(FaultInjector):
    """A :class:`FaultInjector` whose settings are :class:`MpesaFaults`."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed, MpesaFaults())


#: every counter ``GET /sandbox/faults/injected`` reports, even when still zero
FAULT_COUNTERS = (
    "latency",
    "error",
    "timeout_after_accept",
    "lost_callback",
    "duplicate_callback",
    "late_callback",
    "early_token_expiry",
    "enquiry_pending",
    "ambiguous_enquiry",
    "out_of_order_callback",
    "queue_timeout",
)


def format_minor(minor: int) -> str:
    """``123456`` → ``"1234.56"`` (how Daraja writes amounts in strings)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def wire_amount(minor: int) -> float:
    """A JSON number for a payload field Daraja sends as a decimal (``150.00``).

    Only ever used to write a payload; the value is exact for whole shillings and the
    shortest float repr round-trips any two-decimal amount.
    """
    return float(Decimal(minor).scaleb(-2))


def daraja_time(moment: datetime) -> str:
    """``YYYYMMDDHHmmss`` in Nairobi time (Timestamp, TransTime, TransactionDate…)."""
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def b2c_time(moment: datetime) -> str:
    """``dd.MM.yyyy HH:mm:ss`` in Nairobi time (B2C TransactionCompletedDateTime)."""
    return moment.astimezone(NAIROBI).strftime("%d.%m.%Y %H:%M:%S")


@dataclass
class Transaction:
    """One money movement, with what the inspection API shows and what the wire needs."""

    id: str
    kind: Kind
    msisdn: str
    amount_minor: int
    currency: str
    reference: str
    created_at: datetime
    status: Status = "pending"
    provider_id: str | None = None
    result_code: str | None = None
    result_text: str | None = None
    fee_minor: int = 0
    completed_at: datetime | None = None
    #: MerchantRequestID (STK) or OriginatorConversationID (initiator APIs)
    originator_id: str = ""
    #: CustomerPayBillOnline / BusinessPayment / Pay Bill … as the request named it
    command: str = ""
    #: original receipt this reversal reverses / True once this payment was reversed
    reverses: str | None = None
    reversed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "kind": self.kind,
            "msisdn": self.msisdn,
            "amount_minor": self.amount_minor,
            "amount": format_minor(self.amount_minor),
            "currency": self.currency,
            "status": self.status,
            "result_code": self.result_code,
            "result_text": self.result_text,
            "fee_minor": self.fee_minor,
            "reference": self.reference,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "sandbox": True,
        }


@dataclass
class C2BRegistration:
    shortcode: str
    response_type: str
    confirmation_url: str
    validation_url: str


@dataclass
class Token:
    value: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class _Volatile:
    """The part of the state that ``reset`` throws away."""

    rng: random.Random
    faults: MpesaFaultInjector
    balance_minor: int
    charges_paid_minor: int = 0
    #: part of the float held back from payouts (``PUT /sandbox/wallet``)
    held_minor: int = 0
    transactions: dict[str, Transaction] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    originator_ids: set[str] = field(default_factory=set)
    receipts: set[str] = field(default_factory=set)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    failed_credentials: int = 0


_RECEIPT_CHARS = string.ascii_uppercase + string.digits
_TOKEN_CHARS = string.ascii_letters + string.digits


class MpesaState:
    """The emulator's memory and bookkeeping; the HTTP layers call into it."""

    def __init__(self, config: MpesaSandboxConfig) -> None:
        self.config = config
        self.clock = SimClock(config.start, config.speed)
        self.keys = EmulatorKeys(key_bits=config.key_bits, common_name=config.organization_name)
        self.tokens: dict[str, Token] = {}
        self.c2b_urls: dict[str, C2BRegistration] = {}
        self._sender: CallbackSender | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._v = self._fresh()
        self.customers = CustomerBook(self._v.rng, config)

    def _fresh(self, faults: MpesaFaultInjector | None = None) -> _Volatile:
        seed = self.config.seed
        # The fault generator gets its own seed: two generators seeded alike would
        # draw the same numbers and correlate faults with customer outcomes.
        faults_seed = None if seed is None else seed + 1
        if faults is None:
            faults = MpesaFaultInjector(faults_seed)
        else:
            faults.reset(faults_seed)
        return _Volatile(
            rng=random.Random(seed),  # noqa: S311 - simulation, not cryptography
            faults=faults,
            balance_minor=self.config.opening_balance_minor,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._sender is None:
            self._sender = self._new_sender()

    async def stop(self) -> None:
        await self._cancel_tasks()
        if self._sender is not None:
            await self._sender.close()
            self._sender = None

    async def reset(self) -> None:
        """Forget transactions, customers, faults and deliveries; refill the float."""
        await self._cancel_tasks()
        if self._sender is not None:
            await self._sender.cancel()
        # The injector object is kept (the sender holds it) and restarted in place.
        self._v = self._fresh(self._v.faults)
        self.customers = CustomerBook(self._v.rng, self.config)

    def _new_sender(self) -> CallbackSender:
        return CallbackSender(
            self.clock,
            self._v.faults,
            max_attempts=self.config.callback_max_attempts,
            first_retry_s=self.config.callback_retry_s,
        )

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run background work (a customer answering, a result being prepared)."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background work %s failed", name)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) until background work and deliveries have finished."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        await self.sender.drain(timeout_s)

    @property
    def sender(self) -> CallbackSender:
        if self._sender is None:
            raise RuntimeError("the emulator has not been started (no lifespan yet)")
        return self._sender

    # -- accessors ----------------------------------------------------------------------

    @property
    def rng(self) -> random.Random:
        return self._v.rng

    @property
    def faults(self) -> MpesaFaultInjector:
        return self._v.faults

    @property
    def balance_minor(self) -> int:
        return self._v.balance_minor

    @balance_minor.setter
    def balance_minor(self, value: int) -> None:
        self._v.balance_minor = value

    @property
    def held_minor(self) -> int:
        return self._v.held_minor

    @held_minor.setter
    def held_minor(self, value: int) -> None:
        self._v.held_minor = value

    @property
    def charges_paid_minor(self) -> int:
        """Cumulative charges as Daraja's "Charges Paid Account" shows them (negative)."""
        return self._v.charges_paid_minor

    def now(self) -> datetime:
        return self.clock.now()

    def injected_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(FAULT_COUNTERS, 0)
        counts.update(self.faults.injected)
        return counts

    def count_injected(self, name: str) -> None:
        self.faults.injected[name] += 1

    # -- money --------------------------------------------------------------------------

    def credit(self, amount_minor: int) -> None:
        self._v.balance_minor += amount_minor

    def debit(self, amount_minor: int, fee_minor: int = 0) -> bool:
        """Take amount + fee from the float; False (and nothing taken) when short."""
        if amount_minor + fee_minor > self._v.balance_minor - self._v.held_minor:
            return False
        self._v.balance_minor -= amount_minor + fee_minor
        self._v.charges_paid_minor -= fee_minor
        return True

    # -- transactions -------------------------------------------------------------------

    def add(self, tx: Transaction, *aliases: str) -> Transaction:
        self._v.transactions[tx.id] = tx
        for alias in aliases:
            if alias:
                self._v.aliases[alias] = tx.id
        return tx

    def alias(self, tx: Transaction, alias: str) -> None:
        self._v.aliases[alias] = tx.id

    def find(self, key: str) -> Transaction | None:
        """By our id, the M-Pesa receipt, or the originator / merchant request id."""
        tx = self._v.transactions.get(key)
        if tx is None and key in self._v.aliases:
            tx = self._v.transactions.get(self._v.aliases[key])
        return tx

    def transactions(self, kind: str | None = None, status: str | None = None) -> list[Transaction]:
        return [
            tx
            for tx in self._v.transactions.values()
            if (not kind or tx.kind == kind) and (not status or tx.status == status)
        ]

    def finish(
        self, tx: Transaction, status: Status, code: str, text: str, *, receipt: str | None = None
    ) -> None:
        tx.status = status
        tx.result_code = code
        tx.result_text = text
        tx.completed_at = self.now()
        if receipt is not None:
            tx.provider_id = receipt
            self.alias(tx, receipt)

    def pending_prompt_for(self, msisdn: str) -> Transaction | None:
        for tx in reversed(self._v.transactions.values()):
            if tx.kind == "collection" and tx.status == "pending" and tx.msisdn == msisdn:
                return tx
        return None

    def recent_same_amount(self, msisdn: str, amount_minor: int) -> bool:
        window = self.config.same_amount_window_s
        if window <= 0:
            return False
        since = self.now() - timedelta(seconds=window)
        return any(
            tx.kind == "collection"
            and tx.msisdn == msisdn
            and tx.amount_minor == amount_minor
            and tx.created_at >= since
            and tx.result_code != "17"
            for tx in self._v.transactions.values()
        )

    def claim_originator_id(self, originator_id: str) -> bool:
        """False when the OriginatorConversationID was used before (v3 duplicate)."""
        if originator_id in self._v.originator_ids:
            return False
        self._v.originator_ids.add(originator_id)
        return True

    # -- initiator ----------------------------------------------------------------------

    def check_initiator(self, name: str, credential: str) -> int | None:
        """None when name and decrypted SecurityCredential match; else 2001 or 8006."""
        limit = self.config.initiator_lock_after
        if limit and self._v.failed_credentials >= limit:
            return 8006
        password = self.keys.decrypt_credential(credential)
        if name == self.config.initiator and password == self.config.initiator_password:
            self._v.failed_credentials = 0
            return None
        self._v.failed_credentials += 1
        return 2001

    # -- tokens -------------------------------------------------------------------------

    def issue_token(self) -> Token:
        if self.config.token_invalidates_previous:
            for old in self.tokens.values():
                old.revoked = True
        value = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(28))
        token = Token(value, self.now() + timedelta(seconds=self.config.token_ttl_s))
        self.tokens[value] = token
        self._forget_dead_tokens()
        return token

    def token_valid(self, value: str) -> bool:
        token = self.tokens.get(value)
        if token is None or token.revoked or self.now() >= token.expires_at:
            return False
        if self.faults.roll("early_token_expiry"):
            token.revoked = True
            return False
        return True

    def _forget_dead_tokens(self) -> None:
        now = self.now()
        for value in [v for v, t in self.tokens.items() if t.revoked or now >= t.expires_at]:
            del self.tokens[value]

    # -- identifiers --------------------------------------------------------------------

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def request_id(self) -> str:
        """``requestId`` of a synchronous error, e.g. ``1c5b-4ba8-815c-ac45c57a3db01495926``."""
        return f"{self._hex(4)}-{self._hex(4)}-{self._hex(4)}-{self._hex(12)}{self._digits(7)}"

    def merchant_request_id(self) -> str:
        """``29115-34620561-1`` style (also the C2B ``OriginatorCoversationID``)."""
        head, body = self.rng.randint(1000, 99999), self.rng.randint(10**7, 10**9)
        return f"{head}-{body}-{next(self._v.seq)}"

    def checkout_request_id(self) -> str:
        now = self.now().astimezone(NAIROBI)
        return f"ws_CO_{now:%d%m%Y%H%M%S}{self._digits(3)}{next(self._v.seq):08d}"

    def conversation_id(self) -> str:
        now = self.now().astimezone(NAIROBI)
        return f"AG_{now:%Y%m%d}_{self._hex(20)}"

    def receipt(self) -> str:
        """A unique 10-character M-Pesa receipt: year letter, month letter, 8 random."""
        now = self.now().astimezone(NAIROBI)
        year = chr(ord("A") + (now.year - 2006) % 26)
        month = chr(ord("A") + now.month - 1)
        while True:
            value = year + month + "".join(self.rng.choice(_RECEIPT_CHARS) for _ in range(8))
            if value not in self._v.receipts:
                self._v.receipts.add(value)
                return value

    def uniform(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)
