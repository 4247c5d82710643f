"""Request dependencies: who is calling (Bearer key, constant-time compare) and the
services of this process."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

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
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "send your API key as 'Authorization: Bearer <key>'")
    master: str | None = request.app.state.master_key
    if master is not None and hmac.compare_digest(token.encode(), master.encode()):
        return Caller(actor="owner", role="owner")
    raise ApiError(401, "unauthorized", "that API key is not valid")


CallerDep = Annotated[Caller, Depends(caller)]
ServicesDep = Annotated[Services, Depends(services)]
