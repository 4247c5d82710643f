"""How Airtel Money differs from the plain case (see :class:`~qmoi.providers.base.Capabilities`).

It takes any amount its currency can express, and answers every call in its own
response: nothing comes back later by callback but the transaction callbacks. A push
sent again under the same transaction id cannot charge twice — Airtel refuses the
duplicate id.
"""

from __future__ import annotations

from qmoi.providers.base import Capabilities

CAPABILITIES = Capabilities(
    label="Airtel Money",
    idempotent_collect=True,
    credential_settings="AIRTEL_CLIENT_ID and AIRTEL_CLIENT_SECRET",
)
