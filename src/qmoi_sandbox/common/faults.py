"""Fault injection settings shared by both emulators' control APIs.

Rates are probabilities in [0, 1] drawn from a seeded generator, so a run with the same
seed and the same request order injects the same faults. Durations are simulated
seconds (scaled by the emulator's clock speed).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """What the emulator does wrong, and how often."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=60_000, description="added to every API answer")
    error_rate: float = Field(0.0, ge=0, le=1, description="5xx before doing anything")
    timeout_after_accept_rate: float = Field(
        0.0, ge=0, le=1, description="request executed, answer withheld past the client timeout"
    )
    timeout_hold_s: float = Field(
        30.0, ge=0, le=600, description="real seconds a withheld answer is held before a 504"
    )
    lost_callback_rate: float = Field(0.0, ge=0, le=1)
    duplicate_callback_rate: float = Field(0.0, ge=0, le=1)
    late_callback_rate: float = Field(0.0, ge=0, le=1)
    late_callback_delay_s: float = Field(600.0, ge=0, description="simulated delay of a late one")
    out_of_order_callback_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="a callback is held back a random while, so later ones overtake it",
    )
    out_of_order_max_delay_s: float = Field(
        60.0, ge=0, description="simulated upper bound of that random hold"
    )
    early_token_expiry_rate: float = Field(
        0.0, ge=0, le=1, description="a token is refused as expired before its lifetime"
    )
    enquiry_pending_s: float = Field(
        0.0, ge=0, description="enquiries keep answering in-progress this long after the end"
    )
    ambiguous_enquiry_rate: float = Field(
        0.0, ge=0, le=1, description="an enquiry answers with an ambiguous/unknown status"
    )


class FaultInjector:
    """Holds the current faults and a seeded generator; counts what it injected."""

    def __init__(self, seed: int | None = None, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self._random = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def update(self, changes: dict[str, Any]) -> Faults:
        merged = self.faults.model_dump() | changes
        self.faults = type(self.faults).model_validate(merged)
        return self.faults

    def clear(self) -> None:
        self.faults = type(self.faults)()

    def reset(self, seed: int | None) -> None:
        """No faults, no counts, and the generator back at ``seed`` (a sandbox reset)."""
        self.clear()
        self.injected.clear()
        with self._lock:
            self._random.seed(seed)

    def uniform(self, low: float, high: float) -> float:
        """A draw from the seeded generator (how long an out-of-order callback waits)."""
        with self._lock:
            return self._random.uniform(low, high)

    def roll(self, name: str) -> bool:
        """True when the fault called ``name`` (a ``*_rate`` field minus the suffix) fires."""
        rate = float(getattr(self.faults, f"{name}_rate"))
        if rate <= 0:
            return False
        with self._lock:
            hit = self._random.random() < rate
        if hit:
            self.injected[name] += 1
        return hit
