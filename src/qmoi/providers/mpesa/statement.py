"""The shortcode's statement (Pull Transactions; unconfirmed, see ``wire.read_pull_page``).

How a push whose answer and callback were both lost is found: nothing else can name it.
One statement query runs at a time: they are long, and a burst of them fails together
whenever the token they share is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from qmoi.providers.base import Outcome, OutcomeUnknown, ProviderStatus
from qmoi.providers.mpesa import translate, wire
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession


class Statement:
    """Completed customer payments to our shortcode, page by page."""

    def __init__(self, session: MpesaSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        """Completed customer payments to our shortcode between two instants, each as a
        SUCCEEDED status with its receipt, amount, number and time."""
        async with self._lock:
            return await self._statement(since, until)

    async def _pull(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return await self._session.call(
            "pull_transactions",
            wire.PULL_PATH,
            payload,
            money_moving=False,
            answer_limit=wire.PULL_ANSWER_BYTES,
        )

    async def _statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        session = self._session
        lines: list[ProviderStatus] = []
        offset = 0
        while True:
            payload = wire.pull_query_payload(
                shortcode=session.shortcode(),
                start=translate.pull_time(since),
                end=translate.pull_time(translate.whole_second_after(until)),
                offset=offset,
            )
            data = await session.retrying(partial(self._pull, payload))
            try:
                page = wire.read_pull_page(data)
            except wire.WireError as exc:
                raise OutcomeUnknown(
                    PROVIDER, "pull_transactions", f"unreadable answer: {exc.message}"
                ) from None
            lines += [translate.pulled_status(p) for p in page]
            if len(page) < wire.PULL_PAGE:
                return [s for s in lines if s.outcome is Outcome.SUCCEEDED]
            offset += len(page)
