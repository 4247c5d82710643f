"""Emulator of the Airtel Africa Money Open API (collections, disbursements, KYC, account).

Written from Airtel's published Open API documentation (what QMOI relies on is in
``docs/providers/airtel.md``), independently of QMOI's Airtel connector.
``create_app(AirtelSandboxConfig(...))`` builds the ASGI app;
``python -m qmoi_sandbox.airtel --port PORT`` serves it. Defaults are listed in
:mod:`qmoi_sandbox.airtel.app`.
"""

from __future__ import annotations

from qmoi_sandbox.airtel.app import create_app
from qmoi_sandbox.airtel.state import AirtelSandboxConfig

__all__ = ["AirtelSandboxConfig", "create_app"]
