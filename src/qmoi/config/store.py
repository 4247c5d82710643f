"""Where the database and its keys are, read apart from the rest of the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from qmoi.config.database import database_url
from qmoi.config.models import Environment
from qmoi.config.providers import environment_of
from qmoi.config.reader import Reader, Report
from qmoi.config.sources import RawValues


@dataclass(frozen=True)
class StoreLocation:
    """Where the database and its keys are, read on their own: the credential vault is
    opened before the rest is checked (it may complete the rest), and ``qmoi secrets``
    must work while the rest is still incomplete."""

    database_url: str
    var_dir: Path
    secret_key: SecretStr | None
    signing_key_file: Path
    sandbox: bool

    @property
    def key_file(self) -> Path:
        return self.var_dir / "secret.key"


def store_location(raw: RawValues) -> StoreLocation:
    """Problems with these values are left to :func:`qmoi.config.build.build_settings` to report."""
    reader = Reader(raw, Report())
    var_dir = Path(reader.text("QMOI_VAR_DIR") or "var")
    signing_key = reader.text("QMOI_SIGNING_KEY_FILE")
    environments = [
        environment_of(reader, f"{p}_ENVIRONMENT", any(reader.text(c) for c in credentials))
        for p, credentials in (
            ("AIRTEL", ("AIRTEL_CLIENT_ID", "AIRTEL_CLIENT_SECRET")),
            ("MPESA", ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET")),
        )
    ]
    return StoreLocation(
        database_url=database_url(reader, var_dir),
        var_dir=var_dir,
        secret_key=reader.secret("QMOI_SECRET_KEY"),
        signing_key_file=Path(signing_key) if signing_key else var_dir / "signing.key",
        sandbox=all(e is Environment.SANDBOX for e in environments),
    )
