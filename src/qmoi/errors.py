"""The root of every error QMOI raises on purpose.

    QmoiError                      anything QMOI means to raise; carries a stable ``code``
    ├── ConfigError                settings that cannot be used (qmoi.config)
    ├── DomainError                a rule of the money model was broken (qmoi.domain.errors)
    │   ├── InvalidAmount          not integer minor units, a float, negative where not allowed
    │   ├── CurrencyMismatch       two currencies mixed in one sum or entry
    │   ├── UnbalancedEntry        a journal entry whose postings do not sum to zero
    │   ├── DuplicateReference     a provider reference booked a second time
    │   ├── InsufficientFunds      a posting would take an account below zero
    │   ├── UnknownStream          a revenue stream key we do not have
    │   └── IllegalTransition      a state machine asked to move where it cannot
    ├── StoreError                 the database refused or is unreachable (qmoi.db)
    │   └── SchemaOutOfDate        migrations have not been applied
    ├── AuditError                 the audit trail is broken or cannot be signed
    └── ProviderError              a provider call failed (qmoi.providers.base)

Entry points translate these into HTTP answers or CLI exit codes; nothing else does.
"""

from __future__ import annotations

from qmoi.domain.errors import QmoiError as QmoiError  # the domain imports nothing above it


class ConfigError(QmoiError):
    """The configuration cannot be used; the message names the variable and the fix."""

    code = "config_error"


class StoreError(QmoiError):
    """The database refused an operation or could not be reached."""

    code = "store_error"


class SchemaOutOfDate(StoreError):
    """The database schema is older than the code; run ``qmoi db upgrade``."""

    code = "schema_out_of_date"


class AuditError(QmoiError):
    """The audit trail is broken, or a record could not be signed."""

    code = "audit_error"
