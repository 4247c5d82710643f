"""The end-to-end helpers now live in the installed package :mod:`qmoi_chaos.processes`
(the chaos run uses them too); re-exported here for the tests that import them."""

from __future__ import annotations

from qmoi_chaos.processes import (
    QMOI,
    Emulators,
    Process,
    Processes,
    Qmoi,
    clean_environment,
    emulators,
    wait_ready,
    wait_until,
)

__all__ = [
    "QMOI",
    "Emulators",
    "Process",
    "Processes",
    "Qmoi",
    "clean_environment",
    "emulators",
    "wait_ready",
    "wait_until",
]
