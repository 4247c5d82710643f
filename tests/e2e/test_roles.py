"""Roles over real HTTP: every route of the API × every role, allowed or refused as the
route declares; API keys made, used, revoked; a viewer key cannot move money by any
route. (Repeated failed authentication: tests/e2e/test_auth_throttle.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from qmoi.api.app import create_app
from qmoi.services.keys import ROLES, create_key, revoke_key
from tests.e2e.runtime_support import Running, running, sandbox_settings

pytestmark = [pytest.mark.slow]

ALL = set(ROLES)
#: (method, path) → the roles that may call it. A route missing here fails the test.
DECLARED: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/qmoi/revenue/{provider}/generate"): {"owner", "operator"},
    ("POST", "/api/qmoi/revenue/{provider}/transfer"): {"owner"},
    ("GET", "/api/qmoi/revenue/{provider}/balance"): ALL,
    ("GET", "/api/qmoi/revenue/{provider}/transactions"): ALL,
    ("GET", "/api/qmoi/revenue/metrics"): ALL,
    ("GET", "/api/qmoi/accounts"): ALL,
    ("POST", "/api/qmoi/accounts/{account}/generate"): {"owner", "operator"},
    ("POST", "/api/qmoi/accounts/{account}/transfer"): {"owner"},
    ("GET", "/api/qmoi/accounts/{account}/balance"): ALL,
    ("GET", "/api/qmoi/accounts/{account}/transactions"): ALL,
    ("GET", "/api/qmoi/accounts/{account}/metrics"): ALL,
    ("GET", "/api/qmoi/audit"): {"owner", "auditor"},
    ("POST", "/api/qmoi/reconcile"): {"owner"},
    ("GET", "/metrics"): ALL,
    ("GET", "/dashboard/data"): ALL,
    ("GET", "/dashboard/events"): ALL,
}
#: routes with their own authentication (provider callbacks, health, sign-in, pages)
OWN_AUTH = ("/api/airtel/", "/api/mpesa/", "/hooks/", "/healthz", "/readyz", "/login", "/logout")


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as r:
        yield r


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """API routes, including those of included routers (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def routes_needing_a_role(run: Running) -> dict[tuple[str, str], frozenset[str]]:
    """Every API route and the roles its dependency admits, read from the app."""
    app = create_app(run.runtime.container)
    found: dict[tuple[str, str], frozenset[str]] = {}
    for route in api_routes(app.routes):
        if route.path.startswith(OWN_AUTH):
            continue
        if route.path in ("/", "/docs", "/openapi.json", "/redoc"):
            continue
        roles = [
            d.call.allowed_roles  # type: ignore[union-attr]
            for d in route.dependant.dependencies
            if hasattr(d.call, "allowed_roles")
        ]
        for method in route.methods:
            found[(method, route.path)] = roles[0] if roles else frozenset()
    return found


async def test_every_route_declares_its_roles_as_the_table_says(run: Running) -> None:
    declared = routes_needing_a_role(run)
    assert set(declared) == set(DECLARED), "a route without a declared role, or a stale row"
    for route, roles in declared.items():
        assert roles == DECLARED[route], route


async def call(client: httpx.AsyncClient, method: str, path: str, key: str) -> int:
    url = path.replace("{provider}", "airtel")
    headers = {"Authorization": f"Bearer {key}"}
    if path.endswith("/events"):
        async with client.stream(method, url, headers=headers) as answer:
            return answer.status_code
    body = {"requests": "not a list"} if path.endswith("/generate") else {"amount": "bad"}
    if method == "POST":
        return (await client.post(url, json=body, headers=headers)).status_code
    return (await client.get(url, headers=headers)).status_code


async def test_every_route_by_every_role(run: Running) -> None:
    keys = {role: create_key(run.services.uows, role, f"test {role}").secret for role in ROLES}
    async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as client:
        for index, ((method, path), allowed) in enumerate(DECLARED.items()):
            for role, key in keys.items():
                status = await call(client, method, path, key)
                if role in allowed:
                    assert status not in (401, 403), (method, path, role, status)
                else:
                    assert status == 403, (method, path, role, status)
            # each wrong key from an address of its own: one address sending them all
            # would be blocked by the failed-key throttle after five
            stranger = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + index}")
            async with httpx.AsyncClient(
                base_url=run.base_url, transport=stranger, timeout=30
            ) as other:
                assert await call(other, method, path, "qk_00000000_" + "x" * 43) == 401


async def test_a_viewer_key_cannot_move_money_and_a_revoked_key_is_refused(run: Running) -> None:
    viewer = create_key(run.services.uows, "viewer", "phone")
    async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {viewer.secret}"}
        for provider in ("airtel", "mpesa"):
            refused = await client.post(
                f"/api/qmoi/revenue/{provider}/transfer", json={"amount": 10}, headers=headers
            )
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "forbidden"
        assert (await client.get("/api/qmoi/revenue/metrics", headers=headers)).status_code == 200
        assert revoke_key(run.services.uows, viewer.key_id)
        gone = await client.get("/api/qmoi/revenue/metrics", headers=headers)
        assert gone.status_code == 401
