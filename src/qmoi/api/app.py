"""``create_app(container)``: the FastAPI application over a built container.

Every error leaves as JSON ``{"error": {"code", "message"}}``: a stable machine code and
a sentence a person understands; never a stack trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from qmoi import __version__
from qmoi.api.errors import ApiError, error_body, respond
from qmoi.api.limits import BodyLimit
from qmoi.api.routes import accounts, audit, callbacks, dashboard, prometheus, reconcile, revenue
from qmoi.api.throttle import AuthThrottle
from qmoi.bootstrap import Container, database_health
from qmoi.errors import QmoiError
from qmoi.services.intake import Intake

log = structlog.get_logger("qmoi.api")


def create_app(container: Container, *, throttle: AuthThrottle | None = None) -> FastAPI:
    """The API over a built container (its ``services`` must be wired for the revenue
    routes; health routes work without). ``throttle``: one with another clock (tests)."""
    app = FastAPI(
        title="QMOI",
        version=__version__,
        description="Collect Airtel Money and M-Pesa payments, track targets, pay the owner.",
    )
    app.state.container = container
    app.state.services = container.services
    app.state.throttle = throttle if throttle is not None else AuthThrottle()
    app.add_middleware(BodyLimit)
    if container.services is not None:
        app.state.intake = Intake(container.services.uows)
    master = container.settings.master_key
    app.state.master_key = master.get_secret_value() if master is not None else None
    app.include_router(revenue.router)
    app.include_router(accounts.router)
    app.include_router(callbacks.router)
    app.include_router(prometheus.router)
    app.include_router(dashboard.router)
    app.include_router(audit.router)
    app.include_router(reconcile.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8 JSON)
            return JSONResponse(
                error_body("invalid_request", "body: not readable as JSON (send UTF-8 JSON)"),
                status_code=422,
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        ]
        code = (
            "invalid_amount"
            if any("amount" in p.split(":")[0] for p in problems)
            else "invalid_request"
        )
        return JSONResponse(
            error_body(code, "; ".join(problems) or "the request is malformed"),
            status_code=422,
        )

    @app.exception_handler(QmoiError)
    async def qmoi_error(_: Request, exc: QmoiError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal_error", error=type(exc).__name__)
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side; it has been logged"),
            status_code=500,
        )

    @app.get("/healthz", tags=["health"], summary="liveness")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="readiness: database reachable and migrated",
        responses={503: {"description": "not ready: the database is unreachable or not migrated"}},
    )
    def readyz() -> JSONResponse:
        checks = {"database": database_health(container.engine)}
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
