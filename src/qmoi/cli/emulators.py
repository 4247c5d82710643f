"""The sandbox side of ``qmoi validate --online``: which emulators to talk to, with which
credentials, and where Daraja's results come back.

A provider in the sandbox is checked against a running emulator when its URL is given
(``--sandbox-url-airtel`` / ``--sandbox-url-mpesa``, else ``AIRTEL_BASE_URL`` /
``MPESA_BASE_URL``), otherwise against the built-in emulator started in this process on
a free loopback port. Credentials not configured are the emulator's published sandbox
defaults, read from the emulator package — imported only inside the functions below,
the one place of the CLI besides ``qmoi sandbox`` that imports ``qmoi_sandbox``.
Daraja posts its balance result to a callback URL: a loopback receiver started here hands
it to an :class:`InMemoryResultWaiter`.
"""

from __future__ import annotations

import hmac
import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qmoi.cli.simulation import with_emulator_credentials
from qmoi.config import AirtelSettings, Settings
from qmoi.providers.base import CallbackRejected, InMemoryResultWaiter, ResultWaiter
from qmoi.providers.registry import MPESA_CALLBACK_PREFIX, answer_route, hand_over_result
from qmoi.services.providers_check import Fact, ProviderTarget, Verdict


@dataclass
class CheckPlan:
    """The settings to check with (credentials filled in), the targets, and what was
    started or assumed, as notes to print."""

    settings: Settings
    targets: list[ProviderTarget] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def plan_sandbox(
    settings: Settings,
    stack: ExitStack,
    *,
    airtel_url: str | None,
    mpesa_url: str | None,
    only: str | None = None,
) -> CheckPlan:
    """Start what the sandbox check of the enabled providers needs (nothing for a
    disabled one; ``only``: that provider alone, for one account); everything started
    stops when ``stack`` closes."""
    plan = CheckPlan(settings)
    if settings.airtel.enabled and only in (None, "airtel"):
        _plan_airtel(plan, stack, airtel_url)
    if settings.mpesa.enabled and only in (None, "mpesa"):
        _plan_mpesa(plan, stack, mpesa_url)
    return plan


def _plan_airtel(plan: CheckPlan, stack: ExitStack, url: str | None) -> None:
    from qmoi_sandbox.airtel import AirtelSandboxConfig, create_app
    from qmoi_sandbox.common.server import serve_in_thread

    configured = plan.settings.airtel
    if url is not None:
        own = with_emulator_credentials(configured, lambda: None)
        assert isinstance(own, AirtelSettings)  # noqa: S101 - it was given one
        client_id, secret = own.client_id, own.client_secret
        source = "--sandbox-url-airtel or AIRTEL_BASE_URL"
    else:
        try:
            config = AirtelSandboxConfig(country=configured.country, currency=configured.currency)
        except ValueError as exc:
            plan.facts.append(
                Fact("airtel", Verdict.FAILED, f"airtel: the built-in emulator cannot start: {exc}")
            )
            return
        url = stack.enter_context(serve_in_thread(create_app(config)))
        client_id, secret = config.client_id, SecretStr(config.client_secret)
        source = "the built-in emulator"
        plan.facts.append(
            Fact(
                "airtel",
                Verdict.NOTE,
                f"airtel: started the built-in emulator on {url} (its default sandbox credentials)",
            )
        )
    airtel = configured.model_copy(
        update={"client_id": client_id, "client_secret": secret, "base_url": url}
    )
    plan.settings = plan.settings.model_copy(update={"airtel": airtel})
    plan.targets.append(ProviderTarget("airtel", base_url=url, url_source=source))


def _plan_mpesa(plan: CheckPlan, stack: ExitStack, url: str | None) -> None:
    from qmoi_sandbox.common.server import serve_in_thread
    from qmoi_sandbox.mpesa import MpesaSandboxConfig, MpesaState, create_app

    configured = plan.settings.mpesa
    update: dict[str, object]
    if url is not None:
        source = "--sandbox-url-mpesa or MPESA_BASE_URL"
        running_at = url
        own = with_emulator_credentials(configured, lambda: _fetch_certificate(plan, running_at))
        update = own.model_dump(include=MPESA_CREDENTIALS)
    else:
        # results after 0-0.2 s instead of 1-5 s: nobody should wait for a check
        config = MpesaSandboxConfig(result_delay_s=(0.0, 0.2))
        app = create_app(config)
        state: MpesaState = app.state.mpesa
        url = stack.enter_context(serve_in_thread(app))
        source = "the built-in emulator"
        plan.facts.append(
            Fact(
                "mpesa",
                Verdict.NOTE,
                f"mpesa: started the built-in emulator on {url} (its default sandbox credentials)",
            )
        )
        update = {
            "consumer_key": SecretStr(config.consumer_key),
            "consumer_secret": SecretStr(config.consumer_secret),
            "shortcode": config.shortcode,
            "shortcode_type": "paybill",
            "till_number": config.till_number,
            "passkey": SecretStr(config.passkey),
            "initiator_name": config.initiator,
            "initiator_password": SecretStr(config.initiator_password),
            "certificate": state.keys.certificate_pem,
        }
    mpesa = configured.model_copy(update={**update, "base_url": url})
    plan.settings = plan.settings.model_copy(update={"mpesa": mpesa})
    waiter = InMemoryResultWaiter()
    token = secrets.token_hex(16)  # hex never spells a word Daraja refuses in URLs
    receiver = stack.enter_context(serve_in_thread(result_receiver(waiter, token)))
    plan.facts.append(
        Fact(
            "mpesa", Verdict.NOTE, f"mpesa: results come back to a loopback receiver on {receiver}"
        )
    )
    plan.targets.append(
        ProviderTarget(
            "mpesa",
            base_url=url,
            url_source=source,
            callback_base_url=f"{receiver}{MPESA_CALLBACK_PREFIX}/{token}",
            results=waiter,
        )
    )


#: what the emulators' published sandbox credentials fill in of an M-Pesa section
MPESA_CREDENTIALS = {
    "consumer_key", "consumer_secret", "shortcode", "passkey", "initiator_name",
    "initiator_password", "certificate",
}  # fmt: skip


def _fetch_certificate(plan: CheckPlan, url: str) -> str | None:
    """The emulator's certificate (``GET /sandbox/certificate``) for the SecurityCredential."""
    where = f"{url.rstrip('/')}/sandbox/certificate"
    try:
        response = httpx.get(where, timeout=5.0)
    except httpx.HTTPError as exc:
        problem = type(exc).__name__
    else:
        if response.status_code == 200 and "BEGIN CERTIFICATE" in response.text:
            return response.text
        problem = f"HTTP {response.status_code}"
    plan.facts.append(
        Fact(
            "mpesa",
            Verdict.NOTE,
            f"mpesa: could not fetch the emulator's certificate from {where} ({problem}) — "
            "set MPESA_CERTIFICATE to check the balance",
        )
    )
    return None


def result_receiver(results: ResultWaiter, token: str) -> Starlette:
    """A loopback ASGI app taking Daraja's result callbacks at
    ``/hooks/{token}/{sub-path}`` and handing them to ``results``."""

    async def receive(request: Request) -> Response:
        presented = str(request.path_params["token"]).encode()
        found = answer_route("mpesa", str(request.path_params["rest"]))
        if not hmac.compare_digest(presented, token.encode()) or found is None:
            return Response(status_code=404)
        kind, tag = found
        try:
            hand_over_result("mpesa", kind, tag, await request.body(), results)
        except CallbackRejected:
            return Response(status_code=400)
        return JSONResponse({})

    return Starlette(
        routes=[Route(MPESA_CALLBACK_PREFIX + "/{token}/{rest:path}", receive, methods=["POST"])]
    )
