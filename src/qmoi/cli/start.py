"""``qmoi start``: the embedded default — one process, SQLite under ``var/``, migrations
applied, the API on ``--port``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from qmoi.api.app import create_app
from qmoi.cli.context import CliContext
from qmoi.cli.render import out
from qmoi.config import redact_database_url
from qmoi.db.engine import is_sqlite
from qmoi.db.migrate import require_current, upgrade


def start(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the API", min=1, max=65535)] = 8000,
    debug: Annotated[bool, typer.Option(help="debug logging")] = False,
) -> None:
    """Run QMOI in one process (SQLite migrations applied automatically)."""
    cli: CliContext = ctx.obj
    settings = cli.settings()
    container = cli.container()
    if is_sqlite(container.engine):
        before, after = upgrade(container.engine)
        if before != after:
            out.print(f"database migrated to {after}", markup=False)
    else:
        require_current(container.engine)
    mode = "sandbox" if settings.sandbox else "live"
    out.print(
        f"QMOI ({mode}) on http://{host}:{port} — database "
        f"{redact_database_url(settings.database_url)}; Ctrl-C stops it",
        markup=False,
    )
    uvicorn.run(
        create_app(container),
        host=host,
        port=port,
        log_level="debug" if debug or settings.debug else "warning",
    )
