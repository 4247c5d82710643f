"""Initiator requests whose answer comes by callback (§9–§11).

Account Balance, Transaction Status and Reversal are acknowledged at once and answered
later at a URL made for that one query (see :mod:`.routes`): the connector sends the
request, then waits on the injected :class:`ResultWaiter` under the query's answer tag.
A result naming another conversation is ignored — the tag can show in a proxy's log,
the ConversationID of our request only in Daraja's answer to us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qmoi.providers.base import CallbackKind, OutcomeUnknown, Rejected
from qmoi.providers.mpesa import routes, wire
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession, logger

#: builds a payload from initiator name, SecurityCredential, result and timeout URLs
Build = Callable[[str, str, str, str], dict[str, Any]]


def read_ack(operation: str, data: Mapping[str, Any], reference: str | None) -> wire.InitiatorAck:
    """An accepted initiator acknowledgement, or the error its answer amounts to."""
    try:
        ack = wire.read_initiator_ack(data)
    except wire.WireError as exc:
        raise OutcomeUnknown(
            PROVIDER, operation, f"unreadable acknowledgement: {exc.message}",
            reference=reference,
        ) from None  # fmt: skip
    if ack.response_code != wire.ACCEPTED:
        raise Rejected(
            PROVIDER, operation, ack.response_description or "not accepted",
            provider_code=ack.response_code, reference=reference,
        )  # fmt: skip
    if ack.conversation_id is None and ack.originator_conversation_id is None:
        raise OutcomeUnknown(
            PROVIDER, operation, "accepted without a conversation id", reference=reference
        )
    return ack


async def send_and_wait(
    session: MpesaSession,
    operation: str,
    path: str,
    build: Build,
    answer_paths: tuple[str, str],
    *,
    safe: bool,
    reference: str | None = None,
) -> tuple[CallbackKind | None, Mapping[str, Any]] | None:
    """Send an initiator request whose result and queue-timeout URLs carry a fresh
    answer tag, then wait for the result under that tag; None when none arrives in
    time. Only Daraja learns the tag, so nobody else can answer in its place."""
    tag = routes.new_answer_tag()
    result_path, timeout_path = answer_paths
    result_url = session.callback_url(routes.answer_path(result_path, tag))
    timeout_url = session.callback_url(routes.answer_path(timeout_path, tag))

    async def send() -> wire.InitiatorAck:
        name, credential = session.initiator()
        data = await session.call(
            operation, path, build(name, credential, result_url, timeout_url),
            money_moving=not safe, reference=reference,
        )  # fmt: skip
        return read_ack(operation, data, reference)

    ack = await (session.retrying(send) if safe else send())
    logger.debug("awaiting result", operation=operation, conversation_id=ack.conversation_id)
    body = await session.results.wait(tag, session.result_timeout_s)
    if body is None:
        logger.info(
            "no result in time", operation=operation, conversation_id=ack.conversation_id,
            timeout_s=session.result_timeout_s,
        )  # fmt: skip
        return None
    kind, data = routes.read_delivery(body)
    if not routes.answers(data, kind, ack.conversation_id, ack.originator_conversation_id):
        # the URL (and its tag) can show in a proxy's log; the ConversationID of our
        # request only in Daraja's answer to us: a result naming another is not ours
        logger.warning(
            "result for another conversation ignored", operation=operation,
            conversation_id=ack.conversation_id,
        )  # fmt: skip
        return None
    return kind, data
