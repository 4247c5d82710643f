"""Emulator of Safaricom's Daraja (M-Pesa) API, for QMOI's sandbox and tests.

See :mod:`qmoi_sandbox.mpesa.app` for what is modelled and the defaults.
"""

from __future__ import annotations

from qmoi_sandbox.mpesa.app import create_app
from qmoi_sandbox.mpesa.config import SANDBOX_PASSKEY, MpesaSandboxConfig
from qmoi_sandbox.mpesa.state import MpesaState

__all__ = ["SANDBOX_PASSKEY", "MpesaSandboxConfig", "MpesaState", "create_app"]
