"""QMOI: collect mobile-money payments, book them in a double-entry ledger, track daily
targets and pay the owner, exactly once."""

__version__ = "0.1.0"
