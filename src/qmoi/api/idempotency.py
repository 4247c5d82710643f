"""``Idempotency-Key`` on money-moving routes: the same key with the same body gets the
same answer, replayed (``Idempotent-Replayed: true``); the same key with another body is
a 409 ``idempotency_conflict``; a key whose first request is still running is a 409
``idempotency_in_progress``. Keys are stored per route and provider."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse

from qmoi.api.errors import ApiError, respond
from qmoi.errors import QmoiError
from qmoi.services.context import Services

MAX_KEY = 200


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def idempotent(
    services: Services,
    scope: str,
    key: str | None,
    body: Any,
    handle: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    if key is None:
        status, answer = await _run(handle)
        return JSONResponse(answer, status_code=status)
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ApiError(
            422,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_KEY} printable characters",
        )
    digest = request_hash(body)
    with services.uows() as uow:
        earlier = uow.idempotency.reserve(scope, key, digest, uow.now)
        uow.commit()
    if earlier is not None:
        if earlier.request_hash != digest:
            raise ApiError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request; use a "
                "new key for a new request",
            )
        if earlier.status_code is None:
            raise ApiError(
                409,
                "idempotency_in_progress",
                "the first request with this Idempotency-Key is still running; retry in a moment",
            )
        return JSONResponse(
            json.loads(earlier.body or "null"),
            status_code=earlier.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        status, answer = await _run(handle)
    except BaseException:
        with services.uows() as uow:  # nothing was decided: the key may be used again
            uow.idempotency.release(scope, key)
            uow.commit()
        raise
    if status < 500:
        with services.uows() as uow:
            uow.idempotency.complete(scope, key, status, json.dumps(answer))
            uow.commit()
    else:
        with services.uows() as uow:
            uow.idempotency.release(scope, key)
            uow.commit()
    return JSONResponse(answer, status_code=status)


async def _run(handle: Callable[[], Awaitable[tuple[int, Any]]]) -> tuple[int, Any]:
    """Run the handler; an error it raises on purpose becomes a stored answer too."""
    try:
        return await handle()
    except (ApiError, QmoiError) as exc:
        response = respond(exc)
        return response.status_code, json.loads(bytes(response.body))
