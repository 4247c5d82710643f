"""Errors raised when a rule of the money model is broken. Raising one writes nothing."""

from __future__ import annotations


class QmoiError(Exception):
    """Anything QMOI raises on purpose; ``code`` is stable and machine-readable. Defined
    here, with the domain's errors, because the domain imports nothing outside itself;
    :mod:`qmoi.errors` holds the rest of the tree."""

    code = "qmoi_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DomainError(QmoiError):
    """A rule of the money model was broken."""

    code = "domain_error"


class InvalidAmount(DomainError):
    """An amount that is not whole minor units, is a float, or is negative where not allowed."""

    code = "invalid_amount"


class UnknownCurrency(InvalidAmount):
    """A code that is not an ISO 4217 currency with minor units: its decimals, and so
    every amount in it, would be a guess."""


class CurrencyMismatch(DomainError):
    """Two currencies were mixed in one sum, comparison or journal entry."""

    code = "currency_mismatch"


class UnbalancedEntry(DomainError):
    """A journal entry whose postings do not sum to zero in each currency."""

    code = "unbalanced_entry"


class DuplicateReference(DomainError):
    """A provider reference (or other unique booking reference) was booked a second time."""

    code = "duplicate_reference"

    def __init__(self, reference: str) -> None:
        super().__init__(f"reference {reference!r} is already booked")
        self.reference = reference


class InsufficientFunds(DomainError):
    """A posting would take an account that may not go negative below zero."""

    code = "insufficient_funds"

    def __init__(self, account: str, available_minor: int, needed_minor: int) -> None:
        super().__init__(
            f"{account} has {available_minor} minor units available, {needed_minor} needed"
        )
        self.account = account
        self.available_minor = available_minor
        self.needed_minor = needed_minor


class UnknownStream(DomainError):
    """A revenue stream key that QMOI does not have."""

    code = "unknown_stream"


class IllegalTransition(DomainError):
    """A state machine was asked to move from a state where that move is not allowed."""

    code = "illegal_transition"

    def __init__(self, machine: str, current: str, target: str) -> None:
        super().__init__(f"{machine} cannot go from {current} to {target}")
        self.machine = machine
        self.current = current
        self.target = target
