"""Safaricom M-Pesa through Daraja: the connector and its parts.

``client`` (the :class:`MpesaConnector`), ``wire`` (Daraja's field names and payloads),
``translate`` (code tables, amounts, times), ``callbacks`` (callback routes, parsing,
checks, C2B decisions) and ``crypto`` (STK password, SecurityCredential). Daraja's field
names never leave this package. Importing it does nothing but define names.
"""

from __future__ import annotations

from qmoi.providers.mpesa.callbacks import CALLBACK_ROUTES
from qmoi.providers.mpesa.client import MpesaConnector

__all__ = ["CALLBACK_ROUTES", "MpesaConnector"]
