"""The baseline: ``python -m bench.baseline --port P`` (database from ``QMOI_DATABASE_URL``).

One route at the callback's path that stores the raw body as one row and answers
``{"ok": true}``: the least a callback receiver can do. It is served the way ``qmoi
api`` serves QMOI — uvicorn's ``Config``/``Server`` with the same options inside
``asyncio.run``, the blocking database work in ``asyncio.to_thread``, an engine from
QMOI's own ``create_db_engine`` with the same pool size and settings — so the ratio of
the two rates is the cost of what QMOI does beyond that insert (framework, hash check,
parsing, inbox, double entry, audit record, revenue totals).

``BENCH_BASELINE=bare`` (the default) is a bare ASGI callable; ``fastapi`` puts the same
route in FastAPI, as QMOI's routes are, to leave the framework out of the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, MetaData, Table, Text, create_engine, insert
from sqlalchemy.engine import Engine

from bench.payloads import CALLBACK_PATH
from qmoi.db.engine import create_db_engine, parse_url
from qmoi.db.tables import Id, UTCDateTime

metadata = MetaData()
received = Table(
    "bench_baseline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
)


OK = b'{"ok":true}'


def create_table(url: str) -> None:
    """Create the baseline's one table (the bench calls this before serving)."""
    engine = create_engine(parse_url(url))
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def storer(engine: Engine) -> Any:
    """The one insert, in its own transaction."""

    def store(body: str) -> None:
        with engine.begin() as conn:
            conn.execute(insert(received).values(received_at=datetime.now(UTC), body=body))

    return store


def create_bare_app(engine: Engine) -> Any:
    """The route as a bare ASGI callable: no framework between uvicorn and the insert."""
    store = storer(engine)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST" and scope["path"] == CALLBACK_PATH:
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            await asyncio.to_thread(store, b"".join(chunks).decode("utf-8", "replace"))
            status, body = 200, OK
        elif scope["path"] == "/healthz":
            status, body = 200, OK
        else:
            status, body = 404, b'{"error":"not found"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def create_app(engine: Engine) -> FastAPI:
    """The route in FastAPI."""
    app = FastAPI(title="QMOI bench baseline")
    store = storer(engine)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(CALLBACK_PATH)
    async def callback(request: Request) -> JSONResponse:
        body = await request.body()
        await asyncio.to_thread(store, body.decode("utf-8", "replace"))
        return JSONResponse({"ok": True})

    return app


async def serve(port: int) -> None:
    import uvicorn

    engine = create_db_engine(os.environ["QMOI_DATABASE_URL"], pool_size=10)
    bare = os.environ.get("BENCH_BASELINE", "bare") == "bare"
    app = create_bare_app(engine) if bare else create_app(engine)
    try:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        await uvicorn.Server(config).serve()
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
