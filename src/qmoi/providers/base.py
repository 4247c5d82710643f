"""The one interface every provider connector implements, in neutral types.

Airtel's and Daraja's field names never leave their own packages: a connector speaks
the provider's wire format inside and answers in the types below. Where providers
differ, the connector says how in its :class:`Capabilities` (and by the capability
protocols it implements), so that no service ever tests a provider's name. Failures are
classed by what we know about the money:

    ProviderError                 carries provider, operation, provider code and message
    ├── NotSent                   the request never left (connection refused, DNS, pool):
    │                             safe to send again with the same reference
    ├── OutcomeUnknown            sent, and we do not know what happened (timeout after
    │                             sending, 5xx, ambiguous code): ask the status, never resend
    ├── AuthenticationFailed      credentials refused; nothing moved; fix the configuration
    ├── Rejected                  the provider refused the request itself (malformed,
    │                             forbidden): final, nothing moved
    └── CallbackRejected          an inbound callback failed a check: never becomes revenue

A provider's *answer* about a transaction (approved, cancelled, pending…) is not an
error: it comes back as a :class:`ProviderStatus`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from qmoi.domain.money import Money, exponent
from qmoi.errors import QmoiError

ProviderName = Literal["airtel", "mpesa"]
PROVIDERS: tuple[ProviderName, ...] = ("airtel", "mpesa")


class Outcome(StrEnum):
    """What a provider's answer means for the money."""

    SUCCEEDED = "succeeded"  # money moved; final
    FAILED = "failed"  # money did not move; final
    PENDING = "pending"  # accepted, not final yet (customer prompt, queued payout)
    UNKNOWN = "unknown"  # we cannot tell; resolve by enquiry, never by sending again


class FailureReason(StrEnum):
    """Why a transaction failed, across providers (the provider's own code is kept too)."""

    CANCELLED = "cancelled"  # the customer declined the prompt
    TIMEOUT = "timeout"  # the customer never answered the prompt
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_PIN = "invalid_pin"
    LIMIT_EXCEEDED = "limit_exceeded"
    INVALID_NUMBER = "invalid_number"  # not a registered/valid subscriber
    ACCOUNT_BLOCKED = "account_blocked"  # barred, suspended or locked wallet
    DUPLICATE = "duplicate"  # the provider already has a transaction with this id
    NOT_FOUND = "not_found"  # the provider has no such transaction
    INVALID_REQUEST = "invalid_request"  # the provider refused our request as malformed
    AUTHORIZATION = "authorization"  # credentials, initiator or PIN configuration refused
    EXPIRED = "expired"  # the provider gave up on it
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A provider's answer about one transaction, mapped to our terms; raw code kept."""

    outcome: Outcome
    provider_code: str
    provider_message: str
    reason: FailureReason | None = None
    provider_reference: str | None = None  # Airtel money id / M-Pesa receipt, once final
    amount: Money | None = None
    fee: Money | None = None
    msisdn: str | None = None  # 2547… when the provider tells us
    completed_at: datetime | None = None
    account_reference: str | None = None  # what the payer typed (bill reference), if told

    @property
    def is_final(self) -> bool:
        return self.outcome in (Outcome.SUCCEEDED, Outcome.FAILED)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """How a provider differs from the plain case, as its connector describes it: the
    services ask what a provider can do, never which one it is. The defaults are the
    plain case (what a connector that describes nothing is taken to be)."""

    label: str = "the provider"  # the name people know it by: "M-Pesa"
    #: amounts are whole major units, named so ("shillings"): Daraja refuses cents
    whole_units: str | None = None
    #: a push sent again under the same reference cannot charge twice (Airtel dedupes
    #: transaction ids; an STK push carries no id of ours)
    idempotent_collect: bool = True
    #: a payout's result names no fee: ask the provider for it afterwards
    fee_by_enquiry: bool = False
    #: answers to queries (balance, status, reversal) come later to a callback URL,
    #: where a :class:`ResultWaiter` must meet them
    results_by_callback: bool = False
    #: the settings that hold the app's credentials, named in a refused token's fix
    credential_settings: str = "the provider's client id and secret"
    #: the settings that sign operator calls (balance, status), when not the app's own
    operator_settings: str | None = None

    def amount_problem(self, amount: Money, verb: str) -> str | None:
        """Why this provider cannot move ``amount`` (``"M-Pesa takes whole shillings
        only"``), or None; ``verb`` says what it would do with it."""
        if self.whole_units is None or amount.minor % 10 ** exponent(amount.currency) == 0:
            return None
        return f"{self.label} {verb} whole {self.whole_units} only"


PLAIN = Capabilities()


@runtime_checkable
class Described(Protocol):
    """A connector that describes its provider (every production connector does)."""

    capabilities: Capabilities


def capabilities_of(provider: object) -> Capabilities:
    """What ``provider`` says of itself; :data:`PLAIN` when it says nothing."""
    return provider.capabilities if isinstance(provider, Described) else PLAIN


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """Ask a customer to pay (Airtel USSD push / M-Pesa STK push)."""

    reference: str  # our id, generated and stored before sending; reused on every retry
    msisdn: str  # 2547…
    amount: Money
    account_reference: str  # shown to the customer / paybill account
    description: str


@dataclass(frozen=True, slots=True)
class DisburseRequest:
    """Pay a wallet (our transfers to the owner). ``reference`` is the idempotency key."""

    reference: str  # deterministic, e.g. built from (provider, day, sequence)
    msisdn: str
    amount: Money
    remarks: str


@dataclass(frozen=True, slots=True)
class Submission:
    """The synchronous answer to a money-moving call.

    ``provider_request_id`` is what the provider will use to refer to it (Airtel: our
    own transaction id; Daraja: CheckoutRequestID or ConversationID).
    """

    status: ProviderStatus
    provider_request_id: str


@dataclass(frozen=True, slots=True)
class Balance:
    available: Money
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subscriber:
    msisdn: str
    first_name: str | None
    last_name: str | None
    registered: bool
    barred: bool


class CallbackKind(StrEnum):
    COLLECTION = "collection"  # Airtel collection callback / Daraja STK callback
    DISBURSEMENT = "disbursement"  # Airtel disbursement callback / B2C result
    DISBURSEMENT_TIMEOUT = "disbursement_timeout"  # Daraja queue timeout
    C2B_VALIDATION = "c2b_validation"
    C2B_CONFIRMATION = "c2b_confirmation"
    STATUS_RESULT = "status_result"  # Daraja transaction-status result
    BALANCE_RESULT = "balance_result"  # Daraja account-balance result
    REVERSAL_RESULT = "reversal_result"


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """An inbound callback, parsed but not yet matched to our records.

    ``authenticated`` is True only when the connector proved the provider sent it (a
    verified Airtel callback hash). Anything else — a body anyone could have posted to a
    public URL, whatever it claims — is a hint: the services ask the provider before it
    may change anything (``qmoi.services.trust``).
    """

    provider: ProviderName
    kind: CallbackKind
    event_id: str  # the provider's identity of the fact it reports
    reference: str  # our reference or the provider request id it is about
    status: ProviderStatus
    account_reference: str | None = None  # C2B bill reference
    raw: Mapping[str, Any] = field(default_factory=dict)
    authenticated: bool = False


@dataclass(frozen=True, slots=True)
class ExpectedTransaction:
    """What we asked for, to check a callback against."""

    reference: str
    amount: Money
    msisdn: str


def callback_mismatches(event: CallbackEvent, expected: ExpectedTransaction) -> list[str]:
    """Reasons a callback does not match what we sent (empty when it matches).

    Where the provider reports an amount, currency or msisdn, it must be ours. A provider
    that reports no amount (Airtel's callback carries only the id and status) is matched
    on our own transaction id, which the caller has already checked is one we issued; a
    callback failing any check never becomes revenue.
    """
    reasons: list[str] = []
    status = event.status
    if status.amount is not None and status.amount != expected.amount:
        if status.amount.currency != expected.amount.currency:
            reasons.append("currency_mismatch")
        else:
            reasons.append("amount_mismatch")
    if status.msisdn is not None and status.msisdn != expected.msisdn:
        reasons.append("msisdn_mismatch")
    return reasons


class ProviderError(QmoiError):
    """A provider call failed; says which operation, which code, and if money may have moved."""

    code = "provider_error"
    money_may_have_moved = False

    def __init__(
        self,
        provider: str,
        operation: str,
        message: str,
        *,
        provider_code: str | None = None,
        reference: str | None = None,
    ) -> None:
        moved = "money may have moved" if self.money_may_have_moved else "no money moved"
        code = f" [{provider_code}]" if provider_code else ""
        super().__init__(f"{provider} {operation} failed{code}: {message} ({moved})")
        self.provider = provider
        self.operation = operation
        self.provider_code = provider_code
        self.reference = reference
        self.detail = message

    def as_status(self) -> ProviderStatus:
        """This failure as an answer about the transaction it concerned: UNKNOWN, with
        the provider's code. Right for every enquiry — a question that failed says
        nothing of the money, so nothing may be settled or released on it."""
        return ProviderStatus(Outcome.UNKNOWN, self.provider_code or self.code, self.detail)

    def as_send_status(self) -> ProviderStatus:
        """This failure as the answer to a money-moving call (collect, disburse). Only a
        refusal is final (:class:`Rejected`, :class:`AuthenticationFailed`); anything
        else leaves the outcome unknown, to be settled by enquiry."""
        return self.as_status()


class NotSent(ProviderError):
    """The request never reached the provider; safe to send again with the same reference."""

    code = "provider_unavailable"

    def as_send_status(self) -> ProviderStatus:
        """UNKNOWN marked ``not_sent``: the caller keeps the request to send again (taken
        for anything else, it is only ever asked about — the safe reading)."""
        return ProviderStatus(Outcome.UNKNOWN, "not_sent", self.detail)


class OutcomeUnknown(ProviderError):
    """Sent, but we do not know what happened; resolve by enquiry, never by resending."""

    code = "provider_outcome_unknown"
    money_may_have_moved = True

    def as_send_status(self) -> ProviderStatus:
        return ProviderStatus(Outcome.UNKNOWN, self.provider_code or "unknown", self.detail)


class AuthenticationFailed(ProviderError):
    """The provider refused our credentials; nothing moved."""

    code = "provider_auth_failed"

    def as_send_status(self) -> ProviderStatus:
        return _refused(self, FailureReason.AUTHORIZATION)


class Rejected(ProviderError):
    """The provider refused the request itself; final, nothing moved."""

    code = "provider_rejected"

    def as_send_status(self) -> ProviderStatus:
        return _refused(self, FailureReason.INVALID_REQUEST)


def _refused(error: ProviderError, reason: FailureReason) -> ProviderStatus:
    """A send the provider refused outright: final, nothing moved."""
    return ProviderStatus(
        Outcome.FAILED, error.provider_code or error.code, error.detail, reason=reason
    )


class CallbackRejected(ProviderError):
    """An inbound callback failed a check (signature, shape, unknown id, mismatch)."""

    code = "callback_rejected"

    def __init__(self, provider: str, reason: str, message: str) -> None:
        super().__init__(provider, "callback", message, provider_code=None)
        self.reason = reason


@runtime_checkable
class PaymentProvider(Protocol):
    """What the revenue engine needs from a provider. All calls are async over one pool."""

    name: ProviderName
    currency: str

    async def collect(self, request: CollectRequest) -> Submission: ...

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """Enquire a collection; safe to repeat."""
        ...

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus: ...

    async def disburse(self, request: DisburseRequest) -> Submission: ...

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Enquire a disbursement; safe to repeat."""
        ...

    async def balance(self) -> Balance: ...

    async def ping(self) -> None:
        """Reach the provider and prove the credentials (a fresh token, not the cached
        one); raises a :class:`ProviderError` when it cannot. Moves no money."""
        ...

    async def user_enquiry(self, msisdn: str) -> Subscriber: ...

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        """Parse and authenticate a callback; raise :class:`CallbackRejected` if it fails."""
        ...

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """The JSON body the provider expects in answer to a callback."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Statements(Protocol):
    """A provider whose statement can be read: its completed customer payments between
    two instants, each a SUCCEEDED status with receipt, amount, number and time."""

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]: ...


@runtime_checkable
class DirectPayments(Protocol):
    """A provider whose customers can pay us unprompted (M-Pesa C2B): what it says of one
    such payment, by its receipt — SUCCEEDED with the provider's own amount and time;
    NOT_FOUND for a receipt that is no such payment."""

    async def direct_payment_status(self, receipt: str) -> ProviderStatus: ...


class Decision(Protocol):
    """A yes or no, with whatever the provider's answer needs besides."""

    @property
    def accepted(self) -> bool: ...


@runtime_checkable
class ValidatesDirectPayments(Protocol):
    """A provider that asks us before it takes an unprompted payment (M-Pesa C2B
    validation): our decision on one. A provider that does not ask needs no answer."""

    def decide_c2b(self, event: CallbackEvent) -> Decision: ...


class ResultWaiter(Protocol):
    """Where answers that arrive by callback (Daraja balance / status / B2C results) meet
    the call that asked for them. In one process an in-memory waiter will do; across
    processes the bootstrap gives a database-backed one."""

    async def wait(self, key: str, timeout_s: float) -> Mapping[str, Any] | None:
        """The result body delivered for ``key``, or None after ``timeout_s``."""
        ...

    def deliver(self, key: str, body: Mapping[str, Any]) -> None: ...


class InMemoryResultWaiter:
    """A :class:`ResultWaiter` for a single process: futures keyed by conversation id.

    ``deliver`` may be called from any thread (an API worker thread); waiting happens on
    one event loop. A result that arrives before anyone waits is kept (bounded) so a
    fast callback is not lost.
    """

    def __init__(self, max_early: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._early: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._max_early = max_early

    async def wait(self, key: str, timeout_s: float) -> Mapping[str, Any] | None:
        with self._lock:
            if key in self._early:
                return self._early.pop(key)
            future = self._futures.get(key)
            if future is None:
                future = asyncio.get_running_loop().create_future()
                self._futures[key] = future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return None
        finally:
            with self._lock:
                self._futures.pop(key, None)

    def deliver(self, key: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            future = self._futures.get(key)
            if future is None or future.done():
                self._early[key] = body
                while len(self._early) > self._max_early:
                    self._early.popitem(last=False)
                return
        future.get_loop().call_soon_threadsafe(_set_result, future, body)


def _set_result(future: asyncio.Future[Mapping[str, Any]], body: Mapping[str, Any]) -> None:
    if not future.done():
        future.set_result(body)
