"""``qmoi validate --online``: prove that each provider answers QMOI's credentials.

For each provider it asks for a fresh access token, then for the balance, and turns each
answer into one :class:`Fact` — a line a person can act on, such as ``airtel: balance
KES 1,000,000.00`` or ``airtel: the token request was refused (invalid_client) — check
AIRTEL_CLIENT_ID and AIRTEL_CLIENT_SECRET``.

Daraja answers a balance query by posting the result to a callback URL. When the caller
runs a receiver that hands results to a :class:`ResultWaiter` (the sandbox check does), the
balance is awaited; otherwise (live, where results go to the running QMOI's public URL)
the check proves that Daraja *accepted* the query and says where its result went, and the
token is the proof of the credentials.

It moves no money, never prints a secret (tokens, keys, the callback path token), and
never lets a provider error escape: every failure becomes a failed fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from qmoi.config import Settings
from qmoi.errors import ConfigError
from qmoi.providers.base import (
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    PaymentProvider,
    ProviderError,
    ProviderName,
    ResultWaiter,
)
from qmoi.providers.registry import (
    base_url_of,
    build_provider,
    capabilities_for,
    fetch_token,
    mpesa_callback_base,
)

#: How long to wait for a Daraja balance result that comes back to this process.
DEFAULT_RESULT_TIMEOUT_S = 20.0


class Verdict(StrEnum):
    PASSED = "passed"  # a check that proved something
    FAILED = "failed"  # a check that failed: the command exits 1
    NOTE = "note"  # what was done or skipped, and why


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of the report: ``text`` starts with the provider's name."""

    provider: ProviderName
    verdict: Verdict
    text: str


@dataclass(frozen=True, slots=True)
class ProviderTarget:
    """Where and how to check one provider.

    ``base_url``: the API host (None: ``*_BASE_URL`` or the environment's host);
    ``url_source``: what to change when that host cannot be reached. M-Pesa only:
    ``callback_base_url`` receives Daraja's results (None: QMOI's own public callback
    URL) and ``results`` is where they arrive in this process (None: they go to the
    running QMOI instead, so only Daraja's acceptance can be seen here).
    """

    name: ProviderName
    base_url: str | None = None
    url_source: str | None = None
    callback_base_url: str | None = None
    results: ResultWaiter | None = None
    result_timeout_s: float = DEFAULT_RESULT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class OnlineReport:
    facts: tuple[Fact, ...]

    @property
    def passed(self) -> bool:
        return all(f.verdict is not Verdict.FAILED for f in self.facts)

    @property
    def failures(self) -> int:
        return sum(f.verdict is Verdict.FAILED for f in self.facts)


async def check_online(settings: Settings, targets: Sequence[ProviderTarget]) -> OnlineReport:
    """Check every target (concurrently); facts come back in target order."""
    per_target = await asyncio.gather(*(_check(settings, t) for t in targets))
    return OnlineReport(tuple(fact for facts in per_target for fact in facts))


class _Watched:
    """A :class:`ResultWaiter` that notes that Daraja acknowledged the request (the
    connector only waits after an accepted acknowledgement), then waits on ``inner`` —
    or, with no ``inner``, answers "nothing came" at once."""

    def __init__(self, inner: ResultWaiter | None) -> None:
        self.inner = inner
        self.accepted = False

    async def wait(self, key: str, timeout_s: float) -> Mapping[str, Any] | None:
        self.accepted = True
        if self.inner is None:
            return None
        return await self.inner.wait(key, timeout_s)

    def deliver(self, key: str, body: Mapping[str, Any]) -> None:
        if self.inner is not None:
            self.inner.deliver(key, body)


async def _check(settings: Settings, target: ProviderTarget) -> list[Fact]:
    name = target.name
    facts: list[Fact] = []
    waiter = _Watched(target.results)
    callback_base = target.callback_base_url
    no_callback: str | None = None
    if capabilities_for(name).results_by_callback and callback_base is None:
        try:
            callback_base = mpesa_callback_base(settings)
        except ConfigError as exc:
            no_callback = exc.message
    try:
        provider = build_provider(
            settings,
            name,
            base_url=target.base_url,
            results=waiter,
            # with no callback URL, no call that needs one is made (see no_callback)
            callback_base_url=callback_base if callback_base is not None else "",
            result_timeout_s=target.result_timeout_s,
        )
    except ConfigError as exc:
        return [Fact(name, Verdict.FAILED, f"{name}: {exc.message}")]
    try:
        url = base_url_of(provider)
        token = await _token_fact(provider, target, url)
        facts.append(token)
        if token.verdict is not Verdict.PASSED:
            return facts
        if no_callback is not None:
            facts.append(
                Fact(
                    name,
                    Verdict.NOTE,
                    f"{name}: balance not requested — {no_callback}; the token check is the proof",
                )
            )
            return facts
        facts.append(await _balance_fact(provider, target, url, waiter, settings, callback_base))
        return facts
    finally:
        await provider.aclose()


async def _token_fact(provider: PaymentProvider, target: ProviderTarget, url: str) -> Fact:
    name = target.name
    try:
        grant = await fetch_token(provider)
    except AuthenticationFailed as exc:
        code = f" ({exc.provider_code})" if exc.provider_code else f": {exc.detail}"
        return Fact(
            name,
            Verdict.FAILED,
            f"{name}: the token request was refused{code} — check "
            f"{capabilities_for(name).credential_settings}",
        )
    except ProviderError as exc:
        return Fact(name, Verdict.FAILED, _error_line(name, "token request", exc, target, url))
    except ConfigError as exc:
        return Fact(name, Verdict.FAILED, f"{name}: no token: {exc.message}")
    lifetime = f"expires in {grant.lifetime_s:g} s" if grant.lifetime_s > 0 else "no lifetime given"
    return Fact(name, Verdict.PASSED, f"{name}: token obtained from {url} ({lifetime})")


async def _balance_fact(
    provider: PaymentProvider,
    target: ProviderTarget,
    url: str,
    waiter: _Watched,
    settings: Settings,
    callback_base: str | None,
) -> Fact:
    name = target.name
    try:
        balance = await provider.balance()
    except ConfigError as exc:
        return Fact(name, Verdict.NOTE, f"{name}: balance not checked — {exc.message}")
    except OutcomeUnknown as exc:
        if capabilities_for(name).results_by_callback and waiter.accepted:
            if target.results is None:
                where = _redacted(callback_base or "", settings)
                return Fact(
                    name,
                    Verdict.PASSED,
                    f"{name}: balance query accepted by Daraja; its result goes to {where} "
                    "(QMOI's callback URL), not to this command — the token check is the proof",
                )
            return Fact(
                name,
                Verdict.FAILED,
                f"{name}: the balance query was accepted but no result came back within "
                f"{target.result_timeout_s:g} s",
            )
        return Fact(name, Verdict.FAILED, _error_line(name, "balance request", exc, target, url))
    except AuthenticationFailed as exc:
        said = capabilities_for(name)
        check = said.operator_settings or said.credential_settings
        return Fact(
            name,
            Verdict.FAILED,
            f"{name}: the balance request was refused ({exc.provider_code or 'no code'}: "
            f"{exc.detail}) — check {check}",
        )
    except ProviderError as exc:
        return Fact(name, Verdict.FAILED, _error_line(name, "balance request", exc, target, url))
    account = balance.raw.get("account")  # a provider with several accounts names it
    if account:
        return Fact(
            name, Verdict.PASSED, f"{name}: balance query answered ({account} {balance.available})"
        )
    return Fact(name, Verdict.PASSED, f"{name}: balance {balance.available}")


def _error_line(
    name: ProviderName, what: str, exc: ProviderError, target: ProviderTarget, url: str
) -> str:
    source = target.url_source or f"{name.upper()}_BASE_URL"
    if isinstance(exc, NotSent):
        return f"{name}: {url} could not be reached ({exc.detail}) — check {source} and the network"
    code = f"{exc.provider_code}: " if exc.provider_code else ""
    if isinstance(exc, OutcomeUnknown):
        return f"{name}: the {what} got no usable answer ({code}{exc.detail})"
    return f"{name}: the {what} was refused ({code}{exc.detail})"


def _redacted(callback_base: str, settings: Settings) -> str:
    """The callback URL with its secret path token replaced by ``…``."""
    token = settings.mpesa.callback_token
    secret = token.get_secret_value() if token is not None else ""
    return callback_base.replace(secret, "…") if secret else callback_base
