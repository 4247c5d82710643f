"""How M-Pesa (Daraja) differs from the plain case (see :class:`~qmoi.providers.base.Capabilities`).

Daraja moves whole shillings only. An STK push carries no id of ours, so one sent again
could charge the customer twice: it is never re-sent blind. The B2C result names no
fee (Transaction Status does), and balance, status and reversal answers are posted
later to a callback URL. Customers can also pay the till or paybill unprompted, and
Daraja asks us first (C2B validation): the connector implements
:class:`~qmoi.providers.base.ValidatesDirectPayments` and
:class:`~qmoi.providers.base.DirectPayments` for that.
"""

from __future__ import annotations

from qmoi.providers.base import Capabilities

CAPABILITIES = Capabilities(
    label="M-Pesa",
    whole_units="shillings",
    idempotent_collect=False,
    fee_by_enquiry=True,
    results_by_callback=True,
    credential_settings="MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET",
    operator_settings="MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD and MPESA_CERTIFICATE",
)
