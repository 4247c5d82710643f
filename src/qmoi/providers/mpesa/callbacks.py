"""Inbound Daraja callbacks: where they are mounted, how they are parsed and checked, and
what QMOI answers.

Models ``docs/providers/mpesa-daraja.md`` §6 (STK callback), §8.2 (C2B validation and
confirmation), §9 (B2C result and queue timeout), §10 (Account Balance result), §11
(Transaction Status and Reversal results) and §13 (callbacks are unsigned: defend with a
source allow-list, a secret path token, strict correlation and confirmation queries).

Daraja posts every callback to a URL we chose; QMOI mounts them all under one secret
base, ``{QMOI_PUBLIC_URL}/api/mpesa/{callback token}``, at the sub-paths below
(:data:`CALLBACK_ROUTES` maps each to its :class:`CallbackKind`). Sub-paths avoid the
words Daraja refuses in URLs (§13.5).

Every parser turns any surprise — malformed JSON, a wrong type, a huge number, a
negative or fractional-shilling amount, a missing id — into
:class:`CallbackRejected` with a stable ``reason``; none of them ever raises anything
else. Unknown fields are ignored. Each event gets a stable ``event_id`` (the inbox
identity), so a repeated delivery is recognised as the same event.

Queue timeouts of every initiator API are parsed as ``CallbackKind.DISBURSEMENT_TIMEOUT``
(base.py: "Daraja queue timeout"): an UNKNOWN outcome, never a failure.

Answers that a call is waiting for (Transaction Status, Account Balance and Reversal
results, and their queue timeouts) come to a URL made for that one query: the result
path followed by an unguessable *answer tag* (:func:`new_answer_tag`), which only
Daraja learns. They are handed to the :class:`ResultWaiter` under that tag
(:func:`waiter_delivery`), so someone who knows the path token — it travels in URLs —
still cannot answer a query in Daraja's place; an answer without a tag is unsolicited.

This module must never book, never trust the masked C2B ``MSISDN`` as an identity, never
answer a C2B confirmation with anything but success (it cannot be refused), and never
log a body.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey, attribute
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    FailureReason,
    Outcome,
    ProviderName,
    ProviderStatus,
    callback_mismatches,
)
from qmoi.providers.mpesa import translate, wire
from qmoi.providers.mpesa.translate import AmountError

PROVIDER: ProviderName = "mpesa"

# --------------------------------------------------------------------------------------
# where callbacks are mounted (relative to the connector's callback_base_url)
# --------------------------------------------------------------------------------------

STK_CALLBACK_PATH = "/stk"
C2B_VALIDATION_PATH = "/c2b/validation"
C2B_CONFIRMATION_PATH = "/c2b/confirmation"
B2C_RESULT_PATH = "/b2c/result"
B2C_TIMEOUT_PATH = "/b2c/timeout"
STATUS_RESULT_PATH = "/status/result"
STATUS_TIMEOUT_PATH = "/status/timeout"
BALANCE_RESULT_PATH = "/balance/result"
BALANCE_TIMEOUT_PATH = "/balance/timeout"
REVERSAL_RESULT_PATH = "/reversal/result"
REVERSAL_TIMEOUT_PATH = "/reversal/timeout"

#: Sub-path → the kind to pass to ``parse_callback``. The API layer mounts each one.
CALLBACK_ROUTES: Mapping[str, CallbackKind] = {
    STK_CALLBACK_PATH: CallbackKind.COLLECTION,
    C2B_VALIDATION_PATH: CallbackKind.C2B_VALIDATION,
    C2B_CONFIRMATION_PATH: CallbackKind.C2B_CONFIRMATION,
    B2C_RESULT_PATH: CallbackKind.DISBURSEMENT,
    B2C_TIMEOUT_PATH: CallbackKind.DISBURSEMENT_TIMEOUT,
    STATUS_RESULT_PATH: CallbackKind.STATUS_RESULT,
    STATUS_TIMEOUT_PATH: CallbackKind.DISBURSEMENT_TIMEOUT,
    BALANCE_RESULT_PATH: CallbackKind.BALANCE_RESULT,
    BALANCE_TIMEOUT_PATH: CallbackKind.DISBURSEMENT_TIMEOUT,
    REVERSAL_RESULT_PATH: CallbackKind.REVERSAL_RESULT,
    REVERSAL_TIMEOUT_PATH: CallbackKind.DISBURSEMENT_TIMEOUT,
}

#: Kinds whose event answers a call waiting on the :class:`ResultWaiter`.
WAITED_KINDS = frozenset(
    {
        CallbackKind.STATUS_RESULT,
        CallbackKind.BALANCE_RESULT,
        CallbackKind.REVERSAL_RESULT,
        CallbackKind.DISBURSEMENT_TIMEOUT,
    }
)
#: Sub-paths that answer one query of ours; the query's answer tag follows them.
ANSWER_PATHS = frozenset(
    {
        STATUS_RESULT_PATH,
        STATUS_TIMEOUT_PATH,
        BALANCE_RESULT_PATH,
        BALANCE_TIMEOUT_PATH,
        REVERSAL_RESULT_PATH,
        REVERSAL_TIMEOUT_PATH,
    }
)
_ANSWER_TAG = re.compile(r"[0-9a-f]{32}")

#: Safaricom's callback source addresses (§13.2; pesafy and mpesakit agree).
SAFARICOM_CALLBACK_SOURCES: tuple[str, ...] = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
)
#: Listed by mpesakit only (§13.2, unconfirmed); add them knowingly.
SAFARICOM_CALLBACK_SOURCES_UNCONFIRMED: tuple[str, ...] = ("196.201.212.128", "196.201.212.132")


# --------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------


def parse_callback(
    kind: CallbackKind, body: bytes | str, *, shortcodes: Collection[str] = ()
) -> CallbackEvent:
    """Parse one callback body of ``kind``; :class:`CallbackRejected` if it is not one.

    ``shortcodes`` are ours (paybill/store and till); a C2B confirmation for another
    shortcode is refused (it is not our money). Validation requests are not refused here
    — :func:`decide_c2b_validation` answers them with ``C2B00015``.
    """
    try:
        data = wire.decode_json(body)
    except wire.WireError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, exc.message) from None
    return parse_callback_data(kind, data, shortcodes=shortcodes)


def parse_callback_data(
    kind: CallbackKind, data: Mapping[str, Any], *, shortcodes: Collection[str] = ()
) -> CallbackEvent:
    """:func:`parse_callback` for an already decoded body (e.g. from the ResultWaiter)."""
    try:
        if kind is CallbackKind.COLLECTION:
            return _stk(data)
        if kind in (CallbackKind.C2B_VALIDATION, CallbackKind.C2B_CONFIRMATION):
            return _c2b(kind, data, shortcodes)
        if kind is CallbackKind.DISBURSEMENT:
            return _b2c_result(data)
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            return _queue_timeout(data)
        if kind is CallbackKind.STATUS_RESULT:
            return _status_result(data)
        if kind is CallbackKind.BALANCE_RESULT:
            return _balance_result(data)
        if kind is CallbackKind.REVERSAL_RESULT:
            return _reversal_result(data)
    except wire.WireError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, exc.message) from None
    except AmountError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, str(exc)) from None
    raise CallbackRejected(PROVIDER, "unknown_kind", f"M-Pesa sends no {kind.value} callbacks")


def _json_safe(value: Any) -> Any:
    """The decoded body with ``Decimal`` fractions as their exact text, so that ``raw``
    can be stored as JSON without ever passing through a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _time(value: str, name: str) -> datetime:
    try:
        return translate.compact_time(value)
    except ValueError:
        raise wire.WireError("invalid_field", f"{name} is not YYYYMMDDHHmmss") from None


def _stk(data: Mapping[str, Any]) -> CallbackEvent:
    callback = wire.read_stk_callback(data)
    items = callback.items
    amount: Money | None = None
    receipt: str | None = None
    msisdn: str | None = None
    completed_at: datetime | None = None
    if callback.result_code == wire.ACCEPTED:
        amount = translate.transaction_amount(items.get("Amount"), "Amount")
        receipt = wire.required_id(items, "MpesaReceiptNumber")
        if items.get("TransactionDate") is not None:
            completed_at = _time(
                wire.digits(items["TransactionDate"], "TransactionDate"), "TransactionDate"
            )
    if items.get("PhoneNumber") is not None:
        phone = wire.digits(items["PhoneNumber"], "PhoneNumber")
        if not translate.is_msisdn(phone):
            raise wire.WireError("invalid_field", "PhoneNumber is not a Kenyan mobile number")
        msisdn = phone
    status = translate.status_from(
        translate.STK_RESULTS,
        callback.result_code,
        callback.result_desc,
        provider_reference=receipt,
        amount=amount,
        msisdn=msisdn,
        completed_at=completed_at,
    )
    checkout = callback.checkout_request_id
    return CallbackEvent(
        PROVIDER, CallbackKind.COLLECTION, f"stk:{checkout}", checkout, status, None,
        _json_safe(data),
    )  # fmt: skip


def _c2b(kind: CallbackKind, data: Mapping[str, Any], shortcodes: Collection[str]) -> CallbackEvent:
    note = wire.read_c2b(data)
    amount = translate.transaction_amount(note.trans_amount, "TransAmount")
    at = _time(note.trans_time, "TransTime")
    if kind is CallbackKind.C2B_CONFIRMATION:
        if shortcodes and note.business_short_code not in shortcodes:
            raise CallbackRejected(
                PROVIDER, "shortcode_mismatch", "confirmation is for a shortcode not ours"
            )
        status = ProviderStatus(
            Outcome.SUCCEEDED, wire.ACCEPTED, note.transaction_type or "C2B payment",
            provider_reference=note.trans_id, amount=amount, completed_at=at,
        )  # fmt: skip
        event_id = f"c2b:{note.trans_id}"
    else:
        status = ProviderStatus(
            Outcome.PENDING, "", "awaiting our validation answer", amount=amount
        )
        event_id = f"c2b-validation:{note.trans_id}"
    return CallbackEvent(
        PROVIDER, kind, event_id, note.trans_id, status, note.bill_ref_number or None,
        _json_safe(data),
    )  # fmt: skip


def _b2c_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    code = result.result_code or ""
    params = result.parameters
    reference = result.originator_conversation_id or result.conversation_id or ""
    amount: Money | None = None
    receipt: str | None = None
    completed_at: datetime | None = None
    if code == wire.ACCEPTED:
        amount = translate.transaction_amount(params.get("TransactionAmount"), "TransactionAmount")
        receipt = wire.optional_id(params, "TransactionReceipt") or result.transaction_id
        if receipt is None:
            raise wire.WireError("missing_field", "a successful B2C result has no receipt")
        completed_at = translate.any_time(params.get("TransactionCompletedDateTime"))
    name = params.get("ReceiverPartyPublicName")
    status = translate.status_from(
        translate.B2C_RESULTS,
        code,
        result.result_desc,
        provider_reference=receipt,
        amount=amount,
        msisdn=translate.msisdn_prefix(name if isinstance(name, str) else None),
        completed_at=completed_at,
    )
    event_id = f"b2c:{reference}"
    if result.result_type not in (None, "0"):  # 1 = waiting for further messages (§3)
        status = ProviderStatus(
            Outcome.PENDING, code, result.result_desc or "waiting for further messages"
        )
        event_id = f"b2c:{reference}:type{result.result_type}"
    return CallbackEvent(
        PROVIDER, CallbackKind.DISBURSEMENT, event_id, reference, status, None, _json_safe(data)
    )


def _queue_timeout(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data, queue_timeout=True)
    reference = result.originator_conversation_id or result.conversation_id or ""
    status = ProviderStatus(
        Outcome.UNKNOWN,
        result.result_code or "queue_timeout",
        result.result_desc or "request timed out in M-Pesa's queue: resolve by status query",
    )
    return CallbackEvent(
        PROVIDER, CallbackKind.DISBURSEMENT_TIMEOUT, f"queue-timeout:{reference}", reference,
        status, None, _json_safe(data),
    )  # fmt: skip


def _waiter_key(result: wire.ResultEnvelope) -> str:
    return result.conversation_id or result.originator_conversation_id or ""


def transaction_status_of(result: wire.ResultEnvelope) -> ProviderStatus:
    """The queried transaction's status from a Transaction Status result (§11.1).

    A non-zero ``ResultCode`` means the *query* failed, which says nothing about the
    transaction: UNKNOWN (reason ``authorization`` when our credentials were refused).
    """
    code = result.result_code or ""
    if code != wire.ACCEPTED:
        reason = (
            FailureReason.AUTHORIZATION if code in translate.QUERY_CREDENTIAL_FAILURES else None
        )
        return ProviderStatus(
            Outcome.UNKNOWN, code, result.result_desc or "status query failed", reason=reason
        )
    params = result.parameters
    state = params.get("TransactionStatus")
    state_text = state.strip() if isinstance(state, str) else ""
    meaning = translate.TRANSACTION_STATUSES.get(state_text.lower())
    if meaning is None:
        return ProviderStatus(
            Outcome.UNKNOWN, code, f"transaction status {state_text or 'missing'!r}"
        )
    if meaning.outcome is not Outcome.SUCCEEDED:
        return ProviderStatus(meaning.outcome, code, state_text, reason=meaning.reason)
    receipt = wire.optional_id(params, "ReceiptNo") or result.transaction_id
    return ProviderStatus(
        Outcome.SUCCEEDED,
        code,
        state_text,
        provider_reference=receipt,
        amount=translate.transaction_amount(params.get("Amount"), "Amount"),
        fee=translate.fee_from_charges(params.get("DebitPartyCharges")),
        completed_at=translate.any_time(params.get("FinalisedTime")),
    )


def _status_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    return CallbackEvent(
        PROVIDER, CallbackKind.STATUS_RESULT, f"status:{key}", key,
        transaction_status_of(result), None, _json_safe(data),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One account of a balance result, in money."""

    name: str
    available: Money
    amounts: tuple[Money, ...]


def balances_of(result: wire.ResultEnvelope) -> list[AccountBalance]:
    """The accounts of a successful Account Balance result (§10)."""
    value = result.parameters.get("AccountBalance")
    if not isinstance(value, str):
        raise wire.WireError("missing_field", "AccountBalance is missing")
    accounts = []
    for line in wire.read_account_balance(value):
        if line.currency != translate.CURRENCY:
            continue
        amounts = tuple(translate.balance_amount(a, line.name) for a in line.amounts if a)
        if amounts:
            accounts.append(AccountBalance(line.name, amounts[0], amounts))
    return accounts


def _balance_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    code = result.result_code or ""
    if code == wire.ACCEPTED:
        balances_of(result)  # refuse an unreadable balance here, not later
        status = ProviderStatus(Outcome.SUCCEEDED, code, result.result_desc or "balance")
    elif code in translate.QUERY_CREDENTIAL_FAILURES:
        status = ProviderStatus(
            Outcome.FAILED, code, result.result_desc, reason=FailureReason.AUTHORIZATION
        )
    else:
        status = translate.status_from(translate.GENERIC_RESULTS, code, result.result_desc)
    return CallbackEvent(
        PROVIDER, CallbackKind.BALANCE_RESULT, f"balance:{key}", key, status, None,
        _json_safe(data),
    )  # fmt: skip


def _reversal_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    code = result.result_code or ""
    amount: Money | None = None
    completed_at: datetime | None = None
    params = result.parameters
    if code == wire.ACCEPTED:
        if params.get("Amount") is not None:
            amount = translate.transaction_amount(params.get("Amount"), "Amount")
        completed_at = translate.any_time(params.get("TransCompletedTime"))
    status = translate.status_from(
        translate.REVERSAL_RESULTS,
        code,
        result.result_desc,
        provider_reference=result.transaction_id,
        amount=amount,
        completed_at=completed_at,
    )
    return CallbackEvent(
        PROVIDER, CallbackKind.REVERSAL_RESULT, f"reversal:{key}", key, status, None,
        _json_safe(data),
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# the ResultWaiter hand-over
# --------------------------------------------------------------------------------------


def new_answer_tag() -> str:
    """An unguessable tag for one query's result URL (128 random bits, lower-case hex:
    none of the words Daraja refuses in URLs can appear in it)."""
    return secrets.token_hex(16)


def answer_path(path: str, tag: str) -> str:
    """The sub-path a query's result (``path`` one of :data:`ANSWER_PATHS`) comes to."""
    return f"{path}/{tag}"


def route(sub_path: str) -> tuple[CallbackKind, str | None] | None:
    """The kind of callback a sub-path receives, and the answer tag it carries (None for
    the fixed paths); None for a path QMOI does not serve."""
    cleaned = "/" + sub_path.strip("/")
    kind = CALLBACK_ROUTES.get(cleaned)
    if kind is not None:
        return kind, None
    base, _, tag = cleaned.rpartition("/")
    if base in ANSWER_PATHS and _ANSWER_TAG.fullmatch(tag):
        return CALLBACK_ROUTES[base], tag
    return None


def waiter_delivery(event: CallbackEvent, tag: str | None) -> tuple[str, dict[str, Any]] | None:
    """``(key, body)`` to pass to ``ResultWaiter.deliver`` — or None when the event is no
    answer to a query of ours (not a waited kind, or it came without the query's tag).
    The body says which kind it is, so a queue timeout is never read as a result."""
    if tag is None or event.kind not in WAITED_KINDS:
        return None
    return tag, {"kind": event.kind.value, "body": dict(event.raw)}


def answers(
    data: Mapping[str, Any],
    kind: CallbackKind | None,
    conversation_id: str | None,
    originator_conversation_id: str | None,
) -> bool:
    """Whether a delivered result is the answer to the request Daraja acknowledged with
    these ids: the ConversationID it names must be that of our acknowledgement (which
    only Daraja's answer to us carried). A queue timeout whose undocumented shape names
    no conversation is accepted: it says nothing but "ask again"."""
    timeout = kind is CallbackKind.DISBURSEMENT_TIMEOUT
    inner = data.get("Result", data)
    if not isinstance(inner, Mapping):
        return False
    named = inner.get("ConversationID") or inner.get("OriginatorConversationID")
    if named is None:
        return timeout
    return isinstance(named, str) and named in {conversation_id, originator_conversation_id}


def read_delivery(body: Mapping[str, Any]) -> tuple[CallbackKind | None, Mapping[str, Any]]:
    """Undo :func:`waiter_delivery`'s wrapping (a bare Daraja body is accepted too)."""
    kind = body.get("kind")
    inner = body.get("body")
    if isinstance(kind, str) and isinstance(inner, dict):
        try:
            return CallbackKind(kind), inner
        except ValueError:
            return None, inner
    return None, body


# --------------------------------------------------------------------------------------
# authenticity checks (§13.1–13.2)
# --------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks; ``ValueError`` naming the first bad entry."""
    networks: list[Network] = []
    for entry in entries:
        cleaned = entry.strip()
        if not cleaned:
            continue
        try:
            networks.append(ipaddress.ip_network(cleaned, strict=False))
        except ValueError:
            raise ValueError(f"{cleaned!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def source_allowed(address: str | None, allowlist: Iterable[str | Network]) -> bool:
    """Whether a callback's source address is allowed.

    An empty allow-list allows every source (the check is off: configure
    ``MPESA_CALLBACK_ALLOWLIST`` in production). A missing or unreadable address is
    refused. IPv4-mapped IPv6 addresses are compared as IPv4. Behind a proxy, pass the
    client address from the one trusted ``X-Forwarded-For`` hop, never the header as is.
    """
    networks: list[Network] = []
    for entry in allowlist:
        networks.extend(parse_allowlist([entry]) if isinstance(entry, str) else [entry])
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def token_matches(presented: str | None, expected: SecretStr | str | None) -> bool:
    """Constant-time comparison of the path token; no configured token matches nothing."""
    secret = expected.get_secret_value() if isinstance(expected, SecretStr) else expected
    if not secret or presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), secret.encode("utf-8"))


# --------------------------------------------------------------------------------------
# C2B: validation decision and stream attribution (§8.2)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class C2BDecision:
    """Our answer to a validation request, and the stream the money would go to."""

    accepted: bool
    result_code: str
    result_desc: str
    stream: StreamKey | None = None

    def answer(self) -> dict[str, str]:
        """The body Daraja expects (§8.2): ``{"ResultCode": "0", "ResultDesc": "Accepted"}``
        or a ``C2B000xx`` rejection."""
        return {"ResultCode": self.result_code, "ResultDesc": self.result_desc}


def _reject(code: str) -> C2BDecision:
    return C2BDecision(False, code, translate.C2B_VALIDATION_RESULTS[code])


def decide_c2b_validation(
    event: CallbackEvent,
    *,
    rules: tuple[tuple[str, StreamKey], ...],
    default_stream: StreamKey,
    shortcodes: Collection[str] = (),
    known_references: Collection[str] = (),
    is_known: Callable[[str], bool] | None = None,
    accept_unknown: bool = False,
) -> C2BDecision:
    """Accept or reject a customer's payment before it happens (pure).

    * a shortcode not ours → ``C2B00015``; an amount we cannot take → ``C2B00013``;
    * an account reference is *known* when a stream rule's prefix matches it, it is one
      of ``known_references`` (case-insensitive), or ``is_known`` says so; a known one is
      accepted and attributed to its stream;
    * an empty reference (till / buy-goods payments carry none) is accepted into
      ``default_stream``;
    * an unknown reference is rejected with ``C2B00012`` (Invalid Account Number), or
      accepted into ``default_stream`` when ``accept_unknown``.
    """
    if event.kind is not CallbackKind.C2B_VALIDATION:
        raise ValueError(f"{event.kind.value} is not a validation request")
    shortcode = event.raw.get("BusinessShortCode")
    if shortcodes and str(shortcode).strip() not in shortcodes:
        return _reject(translate.C2B_INVALID_SHORTCODE)
    amount = event.status.amount
    if amount is None or not amount.is_positive:
        return _reject(translate.C2B_INVALID_AMOUNT)
    reference = (event.account_reference or "").strip()
    accepted = translate.C2B_VALIDATION_RESULTS[translate.C2B_ACCEPT]
    if not reference:
        return C2BDecision(True, translate.C2B_ACCEPT, accepted, default_stream)
    folded = reference.upper()
    known = (
        any(folded.startswith(prefix.strip().upper()) for prefix, _ in rules if prefix.strip())
        or folded in {r.strip().upper() for r in known_references}
        or (is_known is not None and is_known(reference))
    )
    if not known and not accept_unknown:
        return _reject(translate.C2B_INVALID_ACCOUNT)
    return C2BDecision(
        True, translate.C2B_ACCEPT, accepted, attribute(reference, rules, default_stream)
    )


def c2b_stream(
    event: CallbackEvent, rules: tuple[tuple[str, StreamKey], ...], default: StreamKey
) -> StreamKey:
    """The revenue stream of a C2B payment from its bill reference (trimmed, case-folded;
    longest matching prefix, else ``default``)."""
    return attribute(event.account_reference or "", rules, default)


# --------------------------------------------------------------------------------------
# matching against what we asked for, and against the confirming query
# --------------------------------------------------------------------------------------


def verify_against(event: CallbackEvent, expected: ExpectedTransaction | None) -> None:
    """Refuse a callback about nothing we sent (``unknown_reference``) or one that does
    not match it (the reasons of :func:`callback_mismatches`)."""
    if expected is None:
        raise CallbackRejected(
            PROVIDER, "unknown_reference", f"no request of ours is called {event.reference!r}"
        )
    reasons = callback_mismatches(event, expected)
    if reasons:
        raise CallbackRejected(PROVIDER, reasons[0], ", ".join(reasons))


def confirmation_mismatches(event: CallbackEvent, confirmed: ProviderStatus) -> list[str]:
    """Why a confirming status query does not back a callback (empty when it does).

    Only a final callback is checked; for a queue timeout the query *is* the answer.
    ``not_confirmed``: the query is not final yet (hold the callback, ask again later);
    ``outcome_contradicted``: the query says otherwise (the callback loses);
    ``amount_contradicted`` / ``receipt_contradicted``: both report it, differently.
    """
    claimed = event.status
    if not claimed.is_final:
        return []
    reasons: list[str] = []
    if not confirmed.is_final:
        reasons.append("not_confirmed")
    elif confirmed.outcome is not claimed.outcome:
        reasons.append("outcome_contradicted")
    if claimed.amount is not None and confirmed.amount is not None:
        if claimed.amount != confirmed.amount:
            reasons.append("amount_contradicted")
    if claimed.provider_reference and confirmed.provider_reference:
        if claimed.provider_reference != confirmed.provider_reference:
            reasons.append("receipt_contradicted")
    return reasons
