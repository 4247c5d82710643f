"""Running a whole QMOI (``qmoi start``'s runtime: both emulators, API, worker) inside
a test's event loop, over real HTTP on 127.0.0.1, and reading the ground truth back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from qmoi import logs
from qmoi.cli.runtime import Runtime, assemble, serve
from qmoi.config import RawValues, Settings, build_settings
from qmoi_sandbox.common.server import free_port


def sandbox_settings(tmp_path: Path, database_url: str | None = None, **values: str) -> Settings:
    raw = {
        "QMOI_VAR_DIR": str(tmp_path / "var"),
        "QMOI_LOG_DIR": str(tmp_path / "logs"),
        "QMOI_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'qmoi.db'}",
        **values,
    }
    settings, report = build_settings(RawValues(raw))
    assert settings is not None, report.problems
    return settings


@dataclass
class Running:
    runtime: Runtime
    base_url: str
    api: httpx.AsyncClient

    @property
    def services(self) -> Any:
        return self.runtime.services

    async def emulator(self, provider: str, method: str, path: str, **kw: Any) -> Any:
        async with httpx.AsyncClient(
            base_url=self.runtime.emulators[provider], timeout=30
        ) as client:
            answer = await client.request(method, path, **kw)
            answer.raise_for_status()
            return answer.json()


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    speed: float = 600.0,
    seed: int = 7,
    start: datetime | None = None,
    simulate: bool = True,
) -> AsyncIterator[Running]:
    logs.configure(settings.log_dir, console=False)
    port = free_port()
    async with assemble(
        settings,
        host="127.0.0.1",
        port=port,
        speed=speed,
        start=start,
        seed=seed,
        simulate=simulate,
    ) as runtime:
        task = asyncio.create_task(
            serve(runtime, host="127.0.0.1", port=port, run_api=True, run_worker=True)
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {runtime.master_key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
            for _ in range(200):
                try:
                    if (await api.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            try:
                yield Running(runtime, base, api)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def open_work(running: Running) -> tuple[int, int, int]:
    """(open collections, open transfers, unprocessed callbacks)."""
    from sqlalchemy import func, select

    from qmoi.db import tables as t

    with running.services.uows(read_only=True) as uow:
        session = uow.session
        collections = session.scalar(
            select(func.count())
            .select_from(t.collections)
            .where(t.collections.c.state.in_(["requested", "pending", "unknown"]))
        )
        transfers = session.scalar(
            select(func.count())
            .select_from(t.transfers)
            .where(t.transfers.c.state.in_(["reserved", "submitted", "unknown"]))
        )
        inbox = session.scalar(
            select(func.count()).select_from(t.inbox).where(t.inbox.c.status == "received")
        )
    return int(collections or 0), int(transfers or 0), int(inbox or 0)


async def drain(running: Running, timeout_s: float = 90.0) -> None:
    """Wait until nothing is open — every collection and transfer final, inbox empty —
    and the auto-transfer planner has nothing left to plan."""
    from qmoi.services.transfers import plan_auto_transfers

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    services = running.services
    while True:
        running.runtime.worker.wake()
        if open_work(running) == (0, 0, 0):
            planned = [
                await asyncio.to_thread(plan_auto_transfers, services, provider)
                for provider in services.policy.providers
            ]
            if not any(planned):
                return
        if loop.time() > deadline:
            raise AssertionError(f"work still open after {timeout_s}s: {open_work(running)}")
        await asyncio.sleep(0.25)
