"""Today's figures per provider and combined, in the shape the original design's API
gave them (``GET /api/qmoi/revenue/metrics``).

Read from the pre-aggregated revenue totals and the day's closes — a few rows whatever
the size of the ledger. "Today" is the calendar day in QMOI_TIMEZONE; after a Z-report
(``qmoi revenue reset``) the counters start again from the reset, while the day's full
figure stays available as ``dayEarnings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from qmoi.domain.money import Money
from qmoi.domain.rates import convert
from qmoi.domain.streams import STREAMS, StreamKey
from qmoi.domain.targets import growth, next_day_target, progress_percent, split_target
from qmoi.domain.transfer import Transfer
from qmoi.services.context import Services
from qmoi.services.policy import Policy
from qmoi.services.ports import UnitOfWork


@dataclass(frozen=True)
class ProviderFigures:
    provider: str
    day: date
    period_start: datetime | None  # the last Z-report today, if any
    earned: Money  # since the period began
    day_earned: Money
    payments: int
    target: Money
    stream_earned: dict[StreamKey, Money]
    stream_target: dict[StreamKey, Money]
    yesterday: Money
    growth_goal: Decimal
    minimum: Money
    last_auto_transfer: Transfer | None
    transferred_today: Money

    @property
    def progress(self) -> Decimal:
        return progress_percent(self.earned, self.target)

    @property
    def growth(self) -> Decimal | None:
        return growth(self.day_earned, self.yesterday)

    @property
    def auto_transfer_status(self) -> str:
        last = self.last_auto_transfer
        if last is None or not last.is_final:
            return "pending"
        return "completed" if last.state.value == "succeeded" else "failed"


def target_for(uow: UnitOfWork, policy: Policy, provider: str, day: date) -> Money:
    """The day's target: fixed, or in growth mode yesterday's actual × (1 + goal), never
    below the minimum (the configured target when yesterday has no figures)."""
    rules = policy.provider(provider)
    if not policy.growth_mode_of(provider):
        return rules.daily_target
    yesterday = uow.totals.close_of(provider, day - timedelta(days=1))
    if yesterday is None:
        return rules.daily_target
    return next_day_target(
        Money(yesterday.earned_minor, rules.currency),
        rules.growth_goal,
        policy.minimum_of(provider),
    )


def provider_figures(uow: UnitOfWork, policy: Policy, provider: str, day: date) -> ProviderFigures:
    rules = policy.provider(provider)
    currency = rules.currency
    totals = {s: m for (_, s), m in uow.totals.by_stream(day, provider).items()}
    reset = uow.totals.last_reset(provider, day)
    base = reset.totals if reset is not None else {}
    stream_earned = {
        s.key: Money(totals.get(s.key.value, 0) - base.get(s.key.value, 0), currency)
        for s in STREAMS
    }
    target = target_for(uow, policy, provider, day)
    overrides = policy.stream_targets_of(provider)
    yesterday = uow.totals.by_stream(day - timedelta(days=1), provider)
    transfers = uow.transfers.settled_total(provider, day)
    return ProviderFigures(
        provider=provider,
        day=day,
        period_start=reset.closed_at if reset else None,
        earned=Money(sum(m.minor for m in stream_earned.values()), currency),
        day_earned=Money(sum(totals.values()), currency),
        payments=uow.totals.payments(day, provider),
        target=target,
        stream_earned=stream_earned,
        stream_target=split_target(target, overrides),
        yesterday=Money(sum(yesterday.values()), currency),
        growth_goal=rules.growth_goal,
        minimum=policy.minimum_of(provider),
        last_auto_transfer=uow.transfers.latest(provider, trigger="auto", day=day),
        transferred_today=Money(transfers, currency),
    )


def figures(services: Services, day: date | None = None) -> dict[str, ProviderFigures]:
    policy = services.policy
    with services.uows(read_only=True) as uow:
        day = day or policy.day(uow.now)
        return {name: provider_figures(uow, policy, name, day) for name in policy.providers}


def amount(money: Money) -> int | float:
    """KES as a JSON number with at most two decimals. Converting only here, at the
    edge, is exact: a float's shortest repr reproduces any 2-decimal amount < 10^13."""
    value = money.to_decimal()
    return int(value) if value == value.to_integral_value() else float(value)


def percent(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _transfer_summary(transfer: Transfer | None) -> dict[str, Any] | None:
    if transfer is None:
        return None
    return {
        "reference": transfer.reference,
        "amount": amount(transfer.amount),
        "state": transfer.state.value,
        "providerReference": transfer.provider_reference,
        "updatedAt": transfer.updated_at.isoformat(),
    }


def metrics(services: Services, now: datetime | None = None) -> dict[str, Any]:
    """The metrics answer: ``{"airtel": {...}, "mpesa": {...}, "combined": {...}}`` as the
    original design has it — each provider's default account — and ``"accounts"``: every
    account's figures by id. ``combined`` names each provider's earnings and gives
    ``byCurrency`` totals; amounts in different currencies are never added together. A
    provider without an account has no key anywhere."""
    now = now or services.clock.now()
    policy = services.policy
    by_account = figures(services, policy.day(now))
    accounts = {name: _account_metrics(policy, f, now) for name, f in by_account.items()}
    answer: dict[str, Any] = {
        kind: accounts[name]
        for kind in ("airtel", "mpesa")
        if (name := policy.default_account(kind)) is not None
    }
    currency = policy.combined_target.currency
    same = [f for f in by_account.values() if f.earned.currency == currency]
    combined = Money(sum(f.earned.minor for f in same), currency)
    answer["combined"] = {
        **{kind: answer[kind]["dailyEarnings"] for kind in ("airtel", "mpesa") if kind in answer},
        "combined": amount(combined),
        "target": amount(policy.combined_target),
        "progress": percent(progress_percent(combined, policy.combined_target)),
        "byCurrency": by_currency(by_account),
        "reporting": reporting(policy, by_account),
        "lastUpdate": now.isoformat(),
        "day": policy.day(now).isoformat(),
        "sandbox": policy.sandbox,
    }
    answer["accounts"] = accounts
    return answer


def account_metrics(
    services: Services, account: str, now: datetime | None = None
) -> dict[str, Any]:
    """One account's figures, as ``metrics`` gives each."""
    now = now or services.clock.now()
    policy = services.policy
    with services.uows(read_only=True) as uow:
        f = provider_figures(uow, policy, account, policy.day(now))
    return _account_metrics(policy, f, now)


def _account_metrics(policy: Policy, f: ProviderFigures, now: datetime) -> dict[str, Any]:
    rules = policy.provider(f.provider)
    return {
        "account": f.provider,
        "provider": rules.provider,
        "dailyEarnings": amount(f.earned),
        "targetProgress": percent(f.progress),
        "streamPerformance": {
            s.metrics_key: {
                "earned": amount(f.stream_earned[s.key]),
                "target": amount(f.stream_target[s.key]),
            }
            for s in STREAMS
        },
        "autoTransferStatus": f.auto_transfer_status,
        "lastAutoTransfer": _transfer_summary(f.last_auto_transfer),
        "lastUpdate": now.isoformat(),
        "target": amount(f.target),
        "minimum": amount(f.minimum),
        "dayEarnings": amount(f.day_earned),
        "payments": f.payments,
        "transferredToday": amount(f.transferred_today),
        "growth": {
            "vsYesterday": percent(f.growth) if f.growth is not None else None,
            "goal": percent(f.growth_goal),
            "yesterday": amount(f.yesterday),
        },
        "periodStart": f.period_start.isoformat() if f.period_start else None,
        "currency": f.earned.currency,
    }


def by_currency(by_account: dict[str, ProviderFigures]) -> dict[str, dict[str, Any]]:
    """Totals per currency over the accounts that collect in it (never across)."""
    groups: dict[str, list[ProviderFigures]] = {}
    for f in by_account.values():
        groups.setdefault(f.earned.currency, []).append(f)
    answer: dict[str, dict[str, Any]] = {}
    for currency, group in sorted(groups.items()):
        earned = Money(sum(f.earned.minor for f in group), currency)
        target = Money(sum(f.target.minor for f in group), currency)
        answer[currency] = {
            "earned": amount(earned),
            "target": amount(target),
            "progress": percent(progress_percent(earned, target)),
            "transferredToday": amount(
                Money(sum(f.transferred_today.minor for f in group), currency)
            ),
            "payments": sum(f.payments for f in group),
            "accounts": [f.provider for f in group],
        }
    return answer


def reporting(policy: Policy, by_account: dict[str, ProviderFigures]) -> dict[str, Any] | None:
    """Every account's totals in the reporting currency, at the owner's dated rates —
    or, when a currency collected in has no rate, no totals and the currencies missing
    one (a rate is never invented). None without a reporting currency."""
    into = policy.reporting_currency
    if into is None:
        return None
    currencies = sorted({f.earned.currency for f in by_account.values()})
    missing = [c for c in currencies if c != into and c not in policy.rates]
    used = [policy.rates[c] for c in currencies if c in policy.rates]
    answer: dict[str, Any] = {
        "currency": into,
        "rates": [
            {"currency": r.currency, "rate": str(r.rate), "asOf": r.as_of.isoformat()} for r in used
        ],
        "missing": missing,
        "earned": None,
        "target": None,
        "transferredToday": None,
    }
    if missing:
        return answer

    def total(pick: Callable[[ProviderFigures], Money]) -> int | float:
        """Summed per currency (exactly), each sum converted once, then added."""
        sums: dict[str, int] = {}
        for f in by_account.values():
            money = pick(f)
            sums[money.currency] = sums.get(money.currency, 0) + money.minor
        converted = [
            convert(Money(minor, c), policy.rates[c], into) if c != into else Money(minor, c)
            for c, minor in sums.items()
        ]
        return amount(Money(sum(m.minor for m in converted), into))

    answer |= {
        "earned": total(lambda f: f.earned),
        "target": total(lambda f: f.target),
        "transferredToday": total(lambda f: f.transferred_today),
    }
    return answer
