"""The connectors, split by job, still present facades that implement the provider
protocol (with the capability protocols M-Pesa's services rely on); module size is
checked for all of src/ in tests/unit/test_repository_layout.py."""

from __future__ import annotations

from qmoi.providers.airtel import AirtelConnector
from qmoi.providers.base import DirectPayments, PaymentProvider, Statements, ValidatesDirectPayments
from qmoi.providers.mpesa import MpesaConnector


def test_facades_implement_the_provider_protocol() -> None:
    for connector in (AirtelConnector, MpesaConnector):
        methods = _methods(PaymentProvider)
        missing = [m for m in methods if not callable(getattr(connector, m, None))]
        assert missing == [], connector.__name__
    for protocol in (PaymentProvider, Statements, DirectPayments, ValidatesDirectPayments):
        methods = _methods(protocol)
        assert all(callable(getattr(MpesaConnector, m, None)) for m in methods), protocol


def _methods(protocol: type) -> list[str]:
    return [
        name for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]  # fmt: skip
