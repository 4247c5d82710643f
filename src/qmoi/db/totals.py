"""Pre-aggregated revenue: income per (day, hour, provider, stream), moved in the same
transaction as the ledger entry, and the frozen figures of day closes and Z-reports.
The metrics read these few rows instead of scanning a ledger that grows without end."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.repositories import dialect_insert, inserted
from qmoi.services.records import Close


class RevenueTotalsRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        day: date,
        hour: int,
        provider: str,
        stream: str,
        currency: str,
        amount_minor: int,
        payments: int = 1,
    ) -> None:
        statement = dialect_insert(self._session, t.revenue_totals).values(
            business_day=day,
            hour=hour,
            provider=provider,
            stream=stream,
            currency=currency,
            amount_minor=amount_minor,
            payments=payments,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["business_day", "hour", "provider", "stream"],
            set_={
                "amount_minor": t.revenue_totals.c.amount_minor + statement.excluded.amount_minor,
                "payments": t.revenue_totals.c.payments + statement.excluded.payments,
            },
        )
        self._session.execute(statement)

    def add_many(self, rows: Sequence[tuple[date, int, str, str, str, int]]) -> None:
        """:meth:`add` for many payments ``(day, hour, provider, stream, currency,
        amount_minor)``, summed per bucket first: one statement per bucket."""
        buckets: dict[tuple[date, int, str, str, str], tuple[int, int]] = {}
        for day, hour, provider, stream, currency, amount in rows:
            key = (day, hour, provider, stream, currency)
            total, count = buckets.get(key, (0, 0))
            buckets[key] = (total + amount, count + 1)
        for (day, hour, provider, stream, currency), (total, count) in buckets.items():
            self.add(day, hour, provider, stream, currency, total, count)

    def by_stream(self, day: date, provider: str | None = None) -> dict[tuple[str, str], int]:
        """{(provider, stream): minor} for ``day``."""
        query = (
            select(
                t.revenue_totals.c.provider,
                t.revenue_totals.c.stream,
                func.sum(t.revenue_totals.c.amount_minor),
            )
            .where(t.revenue_totals.c.business_day == day)
            .group_by(t.revenue_totals.c.provider, t.revenue_totals.c.stream)
        )
        if provider is not None:
            query = query.where(t.revenue_totals.c.provider == provider)
        return {(p, s): int(m) for p, s, m in self._session.execute(query)}

    def by_hour(self, day: date) -> dict[tuple[str, int], int]:
        """{(provider, hour): minor} for ``day``."""
        query = (
            select(
                t.revenue_totals.c.provider,
                t.revenue_totals.c.hour,
                func.sum(t.revenue_totals.c.amount_minor),
            )
            .where(t.revenue_totals.c.business_day == day)
            .group_by(t.revenue_totals.c.provider, t.revenue_totals.c.hour)
        )
        return {(p, h): int(m) for p, h, m in self._session.execute(query)}

    def open_days(self, provider: str, before: date) -> list[date]:
        """Days before ``before`` with revenue for ``provider`` and no close yet, oldest
        first (a worker that was down, or a fast sandbox clock, may skip midnights)."""
        closed = select(t.day_closes.c.business_day).where(
            t.day_closes.c.provider == provider, t.day_closes.c.kind == "close"
        )
        rows = self._session.scalars(
            select(t.revenue_totals.c.business_day)
            .where(
                t.revenue_totals.c.provider == provider,
                t.revenue_totals.c.business_day < before,
                t.revenue_totals.c.business_day.not_in(closed),
            )
            .distinct()
            .order_by(t.revenue_totals.c.business_day)
        )
        return list(rows)

    def payments(self, day: date, provider: str) -> int:
        return int(
            self._session.scalar(
                select(func.coalesce(func.sum(t.revenue_totals.c.payments), 0)).where(
                    t.revenue_totals.c.business_day == day, t.revenue_totals.c.provider == provider
                )
            )
            or 0
        )

    # --- closes and Z-reports ---------------------------------------------------------

    def add_close(self, close: Close, actor: str) -> bool:
        """Record a close or Z-report; False if the day was already closed."""
        values = {
            "provider": close.provider,
            "business_day": close.business_day,
            "kind": close.kind,
            "closed_at": close.closed_at,
            "currency": close.currency,
            "earned_minor": close.earned_minor,
            "totals": json.dumps(close.totals, sort_keys=True),
            "target_minor": close.target_minor,
            "actor": actor,
        }
        if close.kind == "close":
            statement = dialect_insert(self._session, t.day_closes).values(values)
            statement = statement.on_conflict_do_nothing(
                index_elements=["provider", "business_day"],
                index_where=t.day_closes.c.kind == "close",
            ).returning(t.day_closes.c.id)
            return inserted(self._session, statement)
        self._session.execute(insert(t.day_closes).values(values))
        return True

    def closes(self, provider: str, day: date) -> list[Close]:
        rows = self._session.execute(
            select(t.day_closes)
            .where(t.day_closes.c.provider == provider, t.day_closes.c.business_day == day)
            .order_by(t.day_closes.c.id)
        )
        return [
            Close(
                r.provider,
                r.business_day,
                r.kind,
                r.closed_at,
                r.currency,
                int(r.earned_minor),
                {k: int(v) for k, v in json.loads(r.totals).items()},
                int(r.target_minor),
            )
            for r in rows
        ]

    def close_of(self, provider: str, day: date) -> Close | None:
        return next((c for c in self.closes(provider, day) if c.kind == "close"), None)

    def last_reset(self, provider: str, day: date) -> Close | None:
        resets = [c for c in self.closes(provider, day) if c.kind == "reset"]
        return resets[-1] if resets else None
