"""What the Daraja emulator remembers: the organisation's float, its transactions, the
OAuth tokens it issued and the C2B URLs registered with it.

The emulator models one M-Pesa organisation (one paybill shortcode, optionally a till
number, one initiator operator) with one working float, the "Utility Account" that
STK and C2B payments credit and B2C payouts, their charges and reversals debit (in
minor units: :mod:`qmoi_sandbox.mpesa.records`).

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
from datetime import datetime, timedelta
from typing import Any

from qmoi_sandbox.common.clock import SimClock
from qmoi_sandbox.common.delivery import CallbackSender
from qmoi_sandbox.mpesa.config import FAULT_COUNTERS, MpesaFaultInjector, MpesaSandboxConfig
from qmoi_sandbox.mpesa.crypto import EmulatorKeys
from qmoi_sandbox.mpesa.customers import CustomerBook
from qmoi_sandbox.mpesa.records import NAIROBI, C2BRegistration, Status, Token, Transaction

logger = logging.getLogger("qmoi_sandbox.mpesa")


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
        self.clock = SimClock(config.start, config.speed, config.clock_origin)
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
