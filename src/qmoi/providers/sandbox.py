"""The sandbox emulators' control API, as QMOI's sandbox mode uses it: creating the
simulated customers of the traffic model. Only ever pointed at QMOI's own emulators on
loopback; live mode never builds one."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxControl:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def create_customers(self, count: int, approve_rate: float, label: str) -> list[str]:
        """New simulated customers who approve with ``approve_rate``; their numbers."""
        answer = await self._client.post(
            "/sandbox/customers",
            json={"count": count, "approve_rate": approve_rate, "label": label},
        )
        answer.raise_for_status()
        numbers: list[str] = answer.json()["msisdns"]
        return numbers

    async def get(self, path: str) -> Any:
        answer = await self._client.get(path)
        answer.raise_for_status()
        return answer.json()

    async def aclose(self) -> None:
        await self._client.aclose()
