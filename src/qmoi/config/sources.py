"""Where raw values come from, highest first: environment variables, a ``.env`` file,
and an optional JSON config file (``{"airtel": {"clientId": …}, "mpesa": {…}}``, see
``docs/configuration.md``). Every value is read as text; parsing comes after."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from qmoi.config.catalogue import VARIABLES
from qmoi.errors import ConfigError


def _camel_to_upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def json_file_values(path: Path) -> dict[str, str]:
    """Flatten the JSON file's sections into variable names (``airtel.clientId`` →
    ``AIRTEL_CLIENT_ID``). Top-level keys may also be variable names themselves."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"QMOI_CONFIG_FILE: {path} does not exist — create it or unset the variable"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"QMOI_CONFIG_FILE: {path} is not valid JSON ({exc}) — fix the file's syntax"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"QMOI_CONFIG_FILE: {path} must hold a JSON object — see docs/configuration.md"
        )
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            prefix = {"airtel": "AIRTEL", "mpesa": "MPESA", "qmoi": "QMOI"}.get(key.lower())
            if prefix is None:
                raise ConfigError(
                    f"QMOI_CONFIG_FILE: unknown section {key!r} — use airtel, mpesa or qmoi"
                )
            for inner, inner_value in value.items():
                flat[f"{prefix}_{_camel_to_upper_snake(inner)}"] = _json_text(inner_value)
        else:
            flat[key.upper()] = _json_text(value)
    return flat


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_json_text(v) for v in value)
    return str(value)


@cache
def _raw_settings_class() -> type[BaseSettings]:
    """A settings class with one optional text field per variable (built once)."""
    fields: dict[str, Any] = {name.lower(): (str | None, None) for name in VARIABLES}
    raw: type[BaseSettings] = create_model("RawSettings", __base__=BaseSettings, **fields)
    raw.model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, env_file_encoding="utf-8"
    )
    return raw


@dataclass(frozen=True)
class RawValues:
    """Variables as text, as found (environment over ``.env`` over the JSON file)."""

    values: dict[str, str]
    unknown_in_file: list[str] = field(default_factory=list)
    #: secrets taken from the credential vault (where no other source gave them), and
    #: what was wrong with the vault's values, as ``VARIABLE: what — fix`` lines
    from_vault: frozenset[str] = frozenset()
    vault_problems: tuple[str, ...] = ()


def read_raw(env_file: Path | None = Path(".env"), config_file: Path | None = None) -> RawValues:
    """Read every variable as text: environment, then ``.env``, then the JSON file."""
    if config_file is None and os.environ.get("QMOI_CONFIG_FILE"):
        config_file = Path(os.environ["QMOI_CONFIG_FILE"])
    from_file = json_file_values(config_file) if config_file is not None else {}
    env_path = env_file if env_file is not None and env_file.is_file() else None
    try:
        loaded = _raw_settings_class()(_env_file=env_path)
    except UnicodeDecodeError as exc:
        raise ConfigError(f".env: {env_file} is not UTF-8 text — re-save it as UTF-8") from exc
    values = {k: v for k, v in from_file.items() if k in VARIABLES}
    for name in VARIABLES:
        text = getattr(loaded, name.lower())
        if text is not None:
            values[name] = text
    return RawValues(values, sorted(k for k in from_file if k not in VARIABLES))
