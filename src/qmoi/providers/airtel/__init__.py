"""Airtel Money (Airtel Africa Open API) connector, per ``docs/providers/airtel.md``
(section marks § in this package are that document's).

``client`` holds :class:`AirtelConnector`, a facade over one module per job:
``collections`` (USSD push, refund), ``payouts`` (disbursements), ``queries``
(enquiries), ``account`` (balance, KYC). Under them: ``session`` (HTTP client, token,
retries, one exchange), ``auth`` (the token cache), ``keys`` (the RSA encryption key),
``answers`` (reading answers), ``checks`` (refusals before sending), ``wire`` Airtel's
field names and shapes, ``translate`` the status and code tables, ``callbacks`` callback
parsing and verification, ``crypto`` PIN encryption, message signing and the callback
hash, ``capabilities`` how Airtel differs. Nothing outside this package sees Airtel's
field names.
"""

from __future__ import annotations

from qmoi.providers.airtel.client import AirtelConnector, resolve_base_url

__all__ = ["AirtelConnector", "resolve_base_url"]
