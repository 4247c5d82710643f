"""Safaricom M-Pesa through Daraja, per ``docs/providers/mpesa.md`` (section marks § in
this package are that document's).

``client`` holds :class:`MpesaConnector`, a facade over one module per job:
``collections`` (STK push, reversal), ``payouts`` (B2C), ``queries`` (STK query,
Transaction Status, confirmation), ``statement`` (Pull Transactions), ``account``
(balance), ``c2b`` (URL registration, validation answers). Under them: ``session``
(HTTP client, token, retries, configuration), ``answers`` (reading answers, errors),
``initiator`` (requests answered by callback), ``wire`` (Daraja's field names and
payloads), ``translate`` and ``amounts`` (code tables, amounts, times), ``callbacks``
(parsing and checks) with ``routes`` (where callbacks are mounted, the ResultWaiter
hand-over), ``sources`` (source and token checks) and ``decisions`` (C2B validation),
``crypto`` (STK password, SecurityCredential) and ``capabilities``. Daraja's field names
never leave this package. Importing it does nothing but define names.
"""

from __future__ import annotations

from qmoi.providers.mpesa.callbacks import CALLBACK_ROUTES
from qmoi.providers.mpesa.client import MpesaConnector

__all__ = ["CALLBACK_ROUTES", "MpesaConnector"]
