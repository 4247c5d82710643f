"""Request dependencies: who is calling (Bearer key, constant-time compare) and the
services of this process."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from qmoi.api import sessions
from qmoi.api.errors import ApiError
from qmoi.services.context import Services


@dataclass(frozen=True)
class Caller:
    actor: str  # key id or "owner"
    role: str  # owner (more roles come with API keys)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def caller(request: Request) -> Caller:
    master: str | None = request.app.state.master_key
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and master is not None:
        session = _dashboard_session(request, master)
        if session is not None:
            return session
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send your API key as 'Authorization: Bearer <key>'")
    if master is not None and hmac.compare_digest(token.encode(), master.encode()):
        return Caller(actor="owner", role="owner")
    raise ApiError(401, "unauthorized", "that API key is not valid")


def _dashboard_session(request: Request, master: str) -> Caller | None:
    """A signed-in browser: its cookie, and for anything but reading, the header a
    cross-site form cannot send."""
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    role = sessions.verify(master, cookie)
    if role is None:
        return None
    if request.method not in ("GET", "HEAD") and request.headers.get(sessions.CSRF_HEADER) != "1":
        raise ApiError(
            403, "forbidden", "send the X-QMOI-Dashboard: 1 header with dashboard requests"
        )
    return Caller(actor="dashboard", role=role)


CallerDep = Annotated[Caller, Depends(caller)]
ServicesDep = Annotated[Services, Depends(services)]
