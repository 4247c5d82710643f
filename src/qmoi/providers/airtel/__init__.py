"""Airtel Money (Airtel Africa Open API) connector, per ``docs/providers/airtel-money.md``.

``client`` holds :class:`AirtelConnector`; ``wire`` Airtel's field names and shapes;
``translate`` the status and code tables; ``callbacks`` callback parsing and
verification; ``crypto`` PIN encryption, message signing and the callback hash; ``auth``
the token cache. Nothing outside this package sees Airtel's field names.
"""

from __future__ import annotations

from qmoi.providers.airtel.client import AirtelConnector, resolve_base_url

__all__ = ["AirtelConnector", "resolve_base_url"]
