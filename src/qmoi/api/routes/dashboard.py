"""The owner's web dashboard at ``/``: a sign-in form, then one page for each enabled
provider and combined, filled from the JSON API and kept live by server-sent events.

Signing in exchanges the key (typed into a form, never in a URL) for a signed, expiring,
HttpOnly SameSite=Strict cookie (:mod:`qmoi.api.sessions`). ``/dashboard/events`` sends
``changed`` whenever a payment is booked, a transfer moves or the owner is notified; the
page then fetches the figures again and updates in place.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from qmoi.api import sessions
from qmoi.api.deps import ReadDep, ServicesDep, client_address, dashboard_session
from qmoi.api.throttle import AuthThrottle
from qmoi.services import dashboard
from qmoi.services.context import Services
from qmoi.services.keys import key_role

router = APIRouter(tags=["dashboard"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")

#: how often the event stream looks for a change, and sends a keep-alive comment
CHECK_S = 0.5
KEEPALIVE_S = 15.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _role(request: Request, svc: Services) -> str | None:
    master: str | None = request.app.state.master_key
    if master is None:
        return None
    session = dashboard_session(request, master, svc)
    return session.role if session is not None else None


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    answer = templates.TemplateResponse(request, name, context, status_code=status)
    answer.headers.update(SECURITY_HEADERS)
    return answer


@router.get("/", response_class=HTMLResponse)
def home(request: Request, svc: ServicesDep) -> Response:
    role = _role(request, svc)
    if role is None:
        return _page(request, "login.html")
    return _page(
        request,
        "dashboard.html",
        role=role,
        sandbox=svc.policy.sandbox,
        providers=dashboard.providers(svc),
        groups=dashboard.by_currency(svc),
    )


@router.post("/login")
async def login(request: Request, svc: ServicesDep) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    master: str | None = request.app.state.master_key
    throttle: AuthThrottle = request.app.state.throttle
    source = client_address(request)
    wait = throttle.admit(source)
    if wait is not None:
        answer = _page(
            request,
            "login.html",
            status=429,
            error=f"Too many failed sign-ins from your address — try again in {wait} s.",
        )
        answer.headers["Retry-After"] = str(wait)
        return answer
    found: tuple[str, str] | None = None
    if master is not None and key:
        if hmac.compare_digest(key.encode(), master.encode()):
            found = ("master", "owner")
        else:
            found = await asyncio.to_thread(key_role, svc.uows, key)
    if master is None or found is None:
        throttle.failed(source)
        return _page(
            request, "login.html", status=401, error="That key is not valid — check it and retry."
        )
    throttle.succeeded(source)
    key_id, role = found
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(
        sessions.COOKIE,
        sessions.issue(master, role, key_id),
        max_age=sessions.LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@router.post("/logout")
def logout() -> Response:
    answer = RedirectResponse("/", status_code=303)
    answer.delete_cookie(sessions.COOKIE, httponly=True, samesite="strict")
    return answer


@router.get("/dashboard/data")
async def data(_: ReadDep, svc: ServicesDep) -> dict[str, Any]:
    return await asyncio.to_thread(dashboard.board, svc)


@router.get("/dashboard/events")
async def events(request: Request, _: ReadDep, svc: ServicesDep) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        seen = await asyncio.to_thread(dashboard.version, svc)
        yield "retry: 2000\n\n"
        quiet = 0.0
        while not await request.is_disconnected():
            await asyncio.sleep(CHECK_S)
            now = await asyncio.to_thread(dashboard.version, svc)
            if now != seen:
                seen, quiet = now, 0.0
                yield f"event: changed\ndata: {now}\n\n"
            else:
                quiet += CHECK_S
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
