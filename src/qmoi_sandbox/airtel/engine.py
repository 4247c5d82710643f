"""What the emulated Airtel does with an accepted request, apart from HTTP.

* **Collections** (USSD push): the request creates a pending transaction (``TIP``) and
  the simulated subscriber answers after a simulated delay. Approval credits the wallet
  and makes the transaction ``TS`` with an ``MP…`` Airtel money id; any other answer
  makes it ``TF`` with the real reason code. The outcome is then POSTed to the portal's
  callback URL (there is no per-request callback URL at Airtel), with the ``hash``
  when callback authentication is on.
* **Refunds**: full refund of a successful collection, keyed by its Airtel money id,
  at most once, debiting the wallet.
* **Disbursements**: executed synchronously, as Airtel answers them: the wallet is
  debited by amount + fee and the transaction is final ``TS``; a wallet that is short
  leaves a ``TF`` transaction with ``DP00900001007``.

Several countries may be served at once (``countries``): each has its own wallet in
its currency and its own subscribers; the request's ``X-Country`` picks them.

Request validation (headers, tokens, PIN, signatures, fields) happens before this
module is called; what reaches it is well-formed. Time is the simulated clock; every
random draw comes from generators seeded from the configured seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from typing import Any

from qmoi_sandbox.airtel.crypto import EmulatorKeys, callback_hash
from qmoi_sandbox.airtel.customers import CustomerBook, Outcome
from qmoi_sandbox.airtel.state import (
    COUNTRIES,
    AirtelSandboxConfig,
    AirtelState,
    AirtelStatus,
    CountryRules,
    Status,
    Transaction,
    Wallet,
    format_minor,
)
from qmoi_sandbox.common.clock import SimClock
from qmoi_sandbox.common.delivery import CallbackSender
from qmoi_sandbox.common.faults import FaultInjector


@dataclass(frozen=True)
class CollectionResult:
    status: Status
    airtel_status: AirtelStatus
    response_code: str
    text: str


# What a subscriber's answer means (where Airtel's sources disagree, the majority).
COLLECTION_RESULTS: dict[Outcome, CollectionResult] = {
    Outcome.APPROVE: CollectionResult("succeeded", "TS", "DP00800001001", "Success"),
    Outcome.DECLINE: CollectionResult(
        "failed", "TF", "DP00800001008", "Refused - the subscriber declined the payment"
    ),
    Outcome.NO_ANSWER: CollectionResult(
        "failed", "TF", "DP00800001024", "Transaction Timed Out - the subscriber did not answer"
    ),
    Outcome.NO_FUNDS: CollectionResult(
        "failed", "TF", "DP00800001007", "Not enough balance in the subscriber's wallet"
    ),
    Outcome.WRONG_PIN: CollectionResult(
        "failed", "TF", "DP00800001002", "Incorrect PIN entered by the subscriber"
    ),
}


@dataclass(frozen=True)
class Market:
    """One served country: its wallet (in its currency) and its subscribers."""

    country: str
    currency: str
    wallet: Wallet
    customers: CustomerBook

    @property
    def rules(self) -> CountryRules:
        return COUNTRIES[self.country]


class Refused(Exception):
    """Airtel refuses an otherwise well-formed request (duplicate id, unknown refund…)."""

    def __init__(self, response_code: str, result_code: str, message: str, code: str = "400"):
        super().__init__(message)
        self.response_code = response_code
        self.result_code = result_code
        self.message = message
        self.code = code


def _seeded(seed: int | None, stream: str) -> random.Random:
    # String seeds are hashed with SHA-512 by ``random``: stable across processes.
    return random.Random(None if seed is None else f"{seed}:{stream}")  # noqa: S311


class AirtelEngine:
    """The emulator's behaviour and all of its state; ``app.state.sandbox`` in the app."""

    def __init__(self, config: AirtelSandboxConfig) -> None:
        self.config = config
        self.clock = SimClock(config.start, config.speed, config.clock_origin)
        created = self.clock.now()
        if config.private_key_pem is not None:
            self.keys = EmulatorKeys.from_pem(config.private_key_pem, created=created)
        else:
            self.keys = EmulatorKeys.generate(bits=config.rsa_key_bits, created=created)
        self.state = AirtelState(config)
        self.faults = FaultInjector(config.seed)
        self.markets = self._new_markets()
        self._ids = _seeded(config.seed, "ids")
        self.sender: CallbackSender | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self.sender is None:
            self.sender = self._new_sender()

    async def stop(self) -> None:
        await self._cancel_tasks()
        if self.sender is not None:
            await self.sender.close()
            self.sender = None

    async def reset(self) -> None:
        """Forget transactions, customers, faults and callbacks; wallet to its opening balance.

        Seeded generators restart from the seed, so a run after a reset repeats itself.
        Tokens, keys, the clock and the Airtel id sequence carry on.
        """
        await self._cancel_tasks()
        if self.sender is not None:
            await self.sender.cancel()
        self.state.reset()
        self.faults.reset(self.config.seed)
        self.markets = self._new_markets()
        self._ids = _seeded(self.config.seed, "ids")

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) for pending customer answers and callback deliveries."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        if self.sender is not None:
            await self.sender.drain(timeout_s)

    @property
    def customers(self) -> CustomerBook:
        """The home country's subscribers."""
        return self.market().customers

    def market(self, country: str = "") -> Market:
        """A served country (default: the home one); KeyError for any other."""
        return self.markets[country or self.config.country]

    def _new_markets(self) -> dict[str, Market]:
        cfg = self.config
        markets: dict[str, Market] = {}
        for country, currency in cfg.served.items():
            # The home country keeps the seed stream it always had: same seed, same run.
            stream = "customers" if country == cfg.country else f"customers:{country}"
            book = CustomerBook(
                country=country,
                rules=COUNTRIES[country],
                rng=_seeded(cfg.seed, stream),
                default_approve_rate=cfg.default_approve_rate,
                delay_s=cfg.customer_delay_s,
                prompt_timeout_s=cfg.prompt_timeout_s,
            )
            markets[country] = Market(country, currency, self.state.wallet(country), book)
        return markets

    def _new_sender(self) -> CallbackSender:
        return CallbackSender(
            self.clock,
            self.faults,
            max_attempts=self.config.callback_max_attempts,
            first_retry_s=self.config.callback_first_retry_s,
        )

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def money(self, amount_minor: int, currency: str = "") -> str:
        currency = currency or self.config.currency
        return f"{currency} {format_minor(amount_minor, currency)}"

    # --- collections --------------------------------------------------------------------

    def start_collection(
        self, *, txn_id: str, msisdn: str, amount_minor: int, reference: str, country: str = ""
    ) -> Transaction:
        """Accept a USSD push: a pending transaction now, the subscriber's answer later."""
        if self.state.exists("collection", txn_id):
            raise Refused("DP00800001008", "ESB000041", "External Transaction ID already exists.")
        market = self.market(country)
        customer = market.customers.get(msisdn)
        txn = Transaction(
            id=txn_id,
            kind="collection",
            msisdn=market.customers.international(customer),
            amount_minor=amount_minor,
            currency=market.currency,
            country=market.country,
            reference=reference,
            created_at=self.clock.now(),
            result_code="DP00800001006",
            result_text="In process",
            message="Transaction in progress",
        )
        self.state.add(txn)
        outcome = market.customers.decide(customer)
        delay_s = market.customers.answer_delay_s(outcome)
        self._spawn(self._customer_answers(txn, outcome, delay_s))
        return txn

    async def _customer_answers(self, txn: Transaction, outcome: Outcome, delay_s: float) -> None:
        await self.clock.sleep(delay_s)
        self.finish_collection(txn, outcome)

    def finish_collection(self, txn: Transaction, outcome: Outcome) -> None:
        if txn.status != "pending":
            return
        result = COLLECTION_RESULTS[outcome]
        now = self.clock.now()
        if result.status == "succeeded":
            money_id = self.state.next_money_id("MP", "A", now)
            self.state.wallet(txn.country).credit(txn.amount_minor)
            paid = self.money(txn.amount_minor, txn.currency)
            message = f"Paid {paid} to {self.config.merchant_name}, Trans ID {money_id}."
            txn.finish(
                now=now,
                status="succeeded",
                airtel_status="TS",
                result_code=result.response_code,
                result_text=result.text,
                message=message,
                provider_id=money_id,
            )
            self.state.index_provider_ids(txn)
        else:
            txn.finish(
                now=now,
                status=result.status,
                airtel_status="TF",
                result_code=result.response_code,
                result_text=result.text,
                message=result.text,
            )
        self.notify(txn)

    def callback_body(self, txn: Transaction) -> dict[str, Any]:
        """``{"transaction": {id, message, status_code, airtel_money_id}}`` (+ hash)."""
        transaction: dict[str, Any] = {
            "id": txn.id,
            "message": txn.message,
            "status_code": txn.airtel_status,
        }
        if txn.provider_id:
            transaction["airtel_money_id"] = txn.provider_id
        body: dict[str, Any] = {"transaction": transaction}
        if self.config.callback_auth:
            body["hash"] = callback_hash(
                transaction, self.config.callback_key, self.config.hash_scope
            )
        return body

    def notify(self, txn: Transaction) -> None:
        url = self.config.callback_url
        if not url:
            return
        if self.sender is None:
            self.sender = self._new_sender()
        self.sender.send(url, self.callback_body(txn), transaction_id=txn.id)

    # --- refunds ------------------------------------------------------------------------

    def refund(self, airtel_money_id: str) -> Transaction:
        original = self.state.by_provider_id(airtel_money_id)
        if original is None or original.kind != "collection" or original.status != "succeeded":
            raise Refused(
                "DP00800001025",
                "ESB000045",
                "No Transaction Found With Provided Transaction Id.",
                code="404",
            )
        if airtel_money_id in self.state.refunded:
            raise Refused("DP00800001008", "ESB000011", "Transaction has already been refunded")
        wallet = self.state.wallet(original.country)
        if original.amount_minor > wallet.available_minor:
            raise Refused(
                "DP00800001007",
                "ESB000011",
                f"Not enough balance. Bal {self.money(wallet.balance_minor, wallet.currency)}",
            )
        now = self.clock.now()
        refund_id = self.state.next_money_id("CI", "C", now)
        wallet.debit(original.amount_minor)
        self.state.refunded.add(airtel_money_id)
        txn = Transaction(
            id=refund_id,
            kind="refund",
            msisdn=original.msisdn,
            amount_minor=original.amount_minor,
            currency=original.currency,
            country=original.country,
            reference=original.reference,
            created_at=now,
            refund_of=airtel_money_id,
        )
        txn.finish(
            now=now,
            status="succeeded",
            airtel_status="TS",
            result_code="DP00800001001",
            result_text=f"Refund of {airtel_money_id} ({original.id})",
            message="success",
            provider_id=refund_id,
        )
        self.state.add(txn)
        return txn

    # --- disbursements ------------------------------------------------------------------

    def disburse(
        self,
        *,
        txn_id: str,
        msisdn: str,
        amount_minor: int,
        reference: str,
        payee_name: str | None,
        country: str = "",
    ) -> Transaction:
        """Pay out now: ``TS`` with the wallet debited, or ``TF`` when it is short."""
        if self.state.exists("disbursement", txn_id):
            raise Refused(
                "DP00900001017",
                "ESB000041",
                "Duplicate Transaction Id. To know the status of the actual transaction, "
                "please do transaction enquiry.",
            )
        market = self.market(country)
        wallet, currency = market.wallet, market.currency
        customer = market.customers.get(msisdn)
        name = payee_name or f"{customer.first_name} {customer.last_name}"
        now = self.clock.now()
        fee = self.config.disbursement_fee_minor
        txn = Transaction(
            id=txn_id,
            kind="disbursement",
            msisdn=market.customers.international(customer),
            amount_minor=amount_minor,
            currency=currency,
            country=market.country,
            reference=reference,
            created_at=now,
        )
        if amount_minor + fee > wallet.available_minor:
            txn.finish(
                now=now,
                status="failed",
                airtel_status="TF",
                result_code="DP00900001007",
                result_text="Insufficient funds",
                message=f"Insufficient funds. Bal {self.money(wallet.balance_minor, currency)}",
            )
            self.state.add(txn)
            self._notify_disbursement(txn)
            return txn
        wallet.debit(amount_minor + fee)
        reference_id = self.state.next_money_id("CI", "H", now)
        suffix = "".join(
            self._ids.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(10)
        )
        txn.fee_minor = fee
        txn.reference_id = reference_id
        txn.finish(
            now=now,
            status="succeeded",
            airtel_status="TS",
            result_code="DP00900001001",
            result_text="Success",
            message=(
                f"You have sent {self.money(amount_minor, currency)} to {msisdn} {name}. "
                f"Bal {self.money(wallet.balance_minor, currency)}.Com {self.money(fee, currency)} "
                f"TID: {reference_id}"
            ),
            provider_id=f"disbursement-{suffix}-{txn_id}",
        )
        self.state.add(txn)
        self._notify_disbursement(txn)
        return txn

    def _notify_disbursement(self, txn: Transaction) -> None:
        if self.config.disbursement_callbacks:
            self.notify(txn)
