"""Request dependencies: who is calling — the master key or an API key as a Bearer
token (constant-time compares; not checked at all from an address the throttle has
blocked), or a signed-in dashboard session — what role that is, and whether the route
allows it; and the services of this process.

Every route declares the roles it admits with one of :data:`ReadDep`, :data:`OperateDep`,
:data:`OwnerDep` or :data:`AuditDep` (``allowed_roles`` on the dependency says which)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qmoi.api import sessions
from qmoi.api.errors import ApiError
from qmoi.api.throttle import AuthThrottle
from qmoi.services.context import Services
from qmoi.services.keys import ROLES, key_role, still_valid


@dataclass(frozen=True)
class Caller:
    actor: str  # "owner" (master key), "key:{id}", or "dashboard:{id}"
    role: str  # owner | operator | viewer | auditor


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


#: the API key as a Bearer token; declared so the OpenAPI spec says how to authenticate
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="the master key or an API key from `qmoi keys create`",
)


def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Caller:
    master: str | None = request.app.state.master_key
    svc: Services | None = request.app.state.services
    if not request.headers.get("authorization") and master is not None:
        session = dashboard_session(request, master, svc)
        if session is not None:
            return session
    if bearer is None:  # no header, another scheme, or no token after "Bearer"
        raise ApiError(401, "unauthorized", "send your API key as 'Authorization: Bearer <key>'")
    throttle: AuthThrottle = request.app.state.throttle
    source = client_address(request)
    wait = throttle.admit(source)
    if wait is not None:
        raise too_many_attempts(wait)
    token = bearer.credentials
    if master is not None and hmac.compare_digest(token.encode(), master.encode()):
        throttle.succeeded(source)
        return Caller(actor="owner", role="owner")
    found = key_role(svc.uows, token) if svc is not None else None
    if found is not None:
        throttle.succeeded(source)
        return Caller(actor=f"key:{found[0]}", role=found[1])
    throttle.failed(source)
    raise ApiError(401, "unauthorized", "that API key is not valid")


def client_address(request: Request) -> str:
    """Where a request came from, as the throttle counts it."""
    return request.client.host if request.client else "unknown"


def too_many_attempts(wait: int) -> ApiError:
    return ApiError(
        429,
        "too_many_attempts",
        f"too many failed attempts with an API key from your address; try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def dashboard_session(request: Request, master: str, svc: Services | None) -> Caller | None:
    """A signed-in browser: its cookie (its key not revoked), and for anything but
    reading, the header a cross-site form cannot send."""
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    session = sessions.verify(master, cookie)
    if session is None:
        return None
    key_id, role = session
    if key_id != "master" and (svc is None or not still_valid(svc.uows, key_id, role)):
        return None
    if request.method not in ("GET", "HEAD") and request.headers.get(sessions.CSRF_HEADER) != "1":
        raise ApiError(
            403, "forbidden", "send the X-QMOI-Dashboard: 1 header with dashboard requests"
        )
    return Caller(actor=f"dashboard:{key_id}", role=role)


def allow(*roles: str) -> Any:
    """A dependency admitting only ``roles`` (403 ``forbidden`` for the others)."""

    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"a {who.role} key may not do this; it takes one of: {', '.join(roles)}",
            )
        return who

    checker: Callable[..., Caller] = check
    checker.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(checker)


ReadDep = Annotated[Caller, allow(*ROLES)]
OperateDep = Annotated[Caller, allow("owner", "operator")]
OwnerDep = Annotated[Caller, allow("owner")]
AuditDep = Annotated[Caller, allow("owner", "auditor")]
ServicesDep = Annotated[Services, Depends(services)]
