"""Where Daraja's callbacks are mounted, and how a query's answer finds its caller.

Every callback comes to a sub-path of one secret base URL (:data:`CALLBACK_ROUTES` maps
each to its :class:`CallbackKind`); the sub-paths avoid the words Daraja refuses in URLs
(§13.5). Answers a call waits for (Transaction Status, Account Balance and Reversal
results, and their queue timeouts) come to a URL made for that one query: the result
path followed by an unguessable *answer tag* that only Daraja learns. They are handed to
the :class:`ResultWaiter` under that tag, so someone who knows the path token — it
travels in URLs — still cannot answer a query in Daraja's place.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from qmoi.providers.base import CallbackEvent, CallbackKind

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
