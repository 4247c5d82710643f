"""The chaos run's report: the headline figures, and everything else in ``details``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Report:
    seed: int
    backend: str
    started_at: str
    attempted: int
    succeeded: int
    booked: int
    lost: int
    double_booked: int
    transfers: int
    double_paid: int
    orphan_disbursements: int
    #: forged callbacks the attacker sent (exact replays apart, in the details)
    forged_sent: int
    #: forged callbacks QMOI acted on: inbox rows with the attacker's marker that were
    #: applied as a fact (``processed``) or handed to a waiting query (``answer``)
    forged_effective: int
    #: callbacks QMOI parked after repeated errors (inbox status ``failed``)
    parked_callbacks: int
    kills: int
    faults_by_type: dict[str, int]
    db_restarts: int
    max_resolution_lag_s: float
    invariants_ok: bool
    passed: bool
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
