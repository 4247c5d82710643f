"""What a chaos run is asked to do: its size, its faults and its fixed figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROVIDERS = ("airtel", "mpesa")
STREAMS = (
    "mobile_services",
    "digital_payments",
    "airtime_sales",
    "data_packages",
    "utility_payments",
)
OPENING_MINOR = 100_000_000  # both emulators' opening float
#: the simulated week starts on a Monday at midnight in Nairobi
SIM_START = datetime.fromisoformat("2026-12-07T00:00:00+03:00")
AMOUNT_KES = (50, 1500)  # what a customer is asked to pay, whole shillings
APPROVE_RATE = 0.85
CUSTOMERS = 400  # per provider
CALLBACK_KEY = "chaos-callback-key-0123456789abcdef"  # noqa: S105 - emulator's sandbox key


@dataclass
class Faults:
    """Emulator fault rates (probabilities) for the traffic phase; durations simulated
    seconds unless named ``_real_s``."""

    error_rate: float = 0.03
    timeout_after_accept_rate: float = 0.02
    timeout_hold_real_s: float = 1.5
    lost_callback_rate: float = 0.05
    duplicate_callback_rate: float = 0.05
    late_callback_rate: float = 0.03
    late_callback_delay_s: float = 900.0
    out_of_order_callback_rate: float = 0.05
    out_of_order_max_delay_s: float = 300.0
    early_token_expiry_rate: float = 0.02
    #: enquiries still answer "in progress" this long (real seconds) after the end: in
    #: real time, as a worker's enquiry comes a real moment after the end
    enquiry_pending_real_s: float = 0.5
    ambiguous_enquiry_rate: float = 0.03
    queue_timeout_rate: float = 0.02  # M-Pesa only
    #: windows in which the float is held, so payouts are refused for want of funds
    float_holds: int = 3
    float_hold_real_s: float = 3.0

    def settings(self, provider: str, speed: float) -> dict[str, Any]:
        found = {
            "error_rate": self.error_rate,
            "timeout_after_accept_rate": self.timeout_after_accept_rate,
            "timeout_hold_s": self.timeout_hold_real_s,
            "lost_callback_rate": self.lost_callback_rate,
            "duplicate_callback_rate": self.duplicate_callback_rate,
            "late_callback_rate": self.late_callback_rate,
            "late_callback_delay_s": self.late_callback_delay_s,
            "out_of_order_callback_rate": self.out_of_order_callback_rate,
            "out_of_order_max_delay_s": self.out_of_order_max_delay_s,
            "early_token_expiry_rate": self.early_token_expiry_rate,
            "enquiry_pending_s": self.enquiry_pending_real_s * speed,
            "ambiguous_enquiry_rate": self.ambiguous_enquiry_rate,
        }
        if provider == "mpesa":
            found["queue_timeout_rate"] = self.queue_timeout_rate
        return found


@dataclass
class ChaosConfig:
    seed: int = 1
    attempts: int = 10_000
    #: auto-transfers aimed at: the chunk is sized from the expected revenue
    transfers: int = 500
    days: float = 7.0
    #: payment requests per real second: with ``days`` this sets the clock's speed
    rate: float = 40.0
    batch: int = 10
    apis: int = 2
    workers: int = 2
    kills: int = 8
    db_restarts: int = 1
    sqlite: bool = False
    #: an existing empty PostgreSQL database instead of a private server (which is what
    #: a database restart needs: none is done then)
    database_url: str | None = None
    faults: Faults = field(default_factory=Faults)
    report: Path = Path("chaos/report.json")
    work_dir: Path | None = None
    keep: bool = False
    drain_timeout_s: float = 300.0
    #: quiet real seconds (nothing open, nothing moving) that end the drain
    settle_s: float = 8.0
    #: move the schedules of open items to now once the drain begins instead of waiting
    #: out the claim leases of killed processes (a minute of real time or more); only
    #: schedules move, never states — for short runs such as the CI test
    expire_leases: bool = False
    #: the adversary: forged, replayed and altered callbacks during the traffic
    attacker: bool = True
    #: forgeries per real second (Poisson arrivals)
    attack_rate: float = 4.0
    #: Airtel callback authentication: the emulator hashes its callbacks and QMOI requires
    #: and checks the hash. Off, no hash at all: every Airtel callback is only a hint
    airtel_hash: bool = False
    log: Callable[[str], None] = print

    @property
    def traffic_s(self) -> float:
        return self.attempts / self.rate

    @property
    def speed(self) -> float:
        return self.days * 86_400 / self.traffic_s

    @property
    def chunk_minor(self) -> int:
        """Sized so that the expected revenue yields about ``transfers`` chunks, whole KES."""
        mean_minor = sum(AMOUNT_KES) / 2 * 100
        per_provider = self.attempts / len(PROVIDERS) * APPROVE_RATE * mean_minor
        chunks = max(1.0, self.transfers / len(PROVIDERS) * 1.15)
        return max(100_00, int(per_provider / chunks) // 100 * 100)
