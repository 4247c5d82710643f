"""What every channel takes and how it says it failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for the owner, as channels send it."""

    id: int
    kind: str  # target_reached, transfer_completed, transfer_failed, …
    provider: str | None
    text: str
    payload: dict[str, Any]
    created_at: datetime

    @property
    def subject(self) -> str:
        where = f" ({self.provider})" if self.provider else ""
        return f"QMOI: {self.kind.replace('_', ' ')}{where}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "provider": self.provider,
            "message": self.text,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }


class DeliveryFailed(Exception):
    """A channel could not deliver; ``permanent`` when retrying cannot help (a refused
    address, bad credentials)."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise :class:`DeliveryFailed`."""
        ...
