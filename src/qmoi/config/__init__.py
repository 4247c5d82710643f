"""QMOI's settings: read, corrected where safe, checked, and grouped per provider.

Values come from (highest first) environment variables, a ``.env`` file, and an optional
JSON config file (:mod:`~qmoi.config.sources`). Every raw value is read as text, then
each is parsed by its own function so that a problem is reported as ``VARIABLE: what is
wrong — how to fix it`` (:mod:`~qmoi.config.reader`). Safe corrections (local phone
formats, stray spaces, trailing slashes, driver names in database URLs) are applied and
reported; risky choices are warned about. Secrets are ``SecretStr`` and are never part
of a message. Every variable is listed in :mod:`~qmoi.config.catalogue`, from which
``docs/configuration.md`` is generated (``python -m qmoi.config.docs``).
"""

from qmoi.config.build import build_settings, load_settings
from qmoi.config.catalogue import (
    CATALOGUE,
    SANDBOX_OWNER_AIRTEL,
    SANDBOX_OWNER_MPESA,
    VARIABLES,
    Setting,
)
from qmoi.config.database import redact_database_url
from qmoi.config.models import (
    AccountSettings,
    AirtelSettings,
    Environment,
    MpesaSettings,
    NotifySettings,
    Settings,
    TargetMode,
    TargetSettings,
    TransferSettings,
)
from qmoi.config.reader import Report
from qmoi.config.secret_names import SECRET_VARIABLES, secret_values
from qmoi.config.sources import RawValues, json_file_values, read_raw, references
from qmoi.config.store import StoreLocation, store_location
from qmoi.config.targets import MPESA_PAYOUT_SHILLINGS

__all__ = [
    "AccountSettings",
    "CATALOGUE",
    "MPESA_PAYOUT_SHILLINGS",
    "SANDBOX_OWNER_AIRTEL",
    "SANDBOX_OWNER_MPESA",
    "SECRET_VARIABLES",
    "VARIABLES",
    "AirtelSettings",
    "Environment",
    "MpesaSettings",
    "NotifySettings",
    "RawValues",
    "Report",
    "Setting",
    "Settings",
    "StoreLocation",
    "TargetMode",
    "TargetSettings",
    "TransferSettings",
    "build_settings",
    "json_file_values",
    "load_settings",
    "read_raw",
    "redact_database_url",
    "references",
    "secret_values",
    "store_location",
]
