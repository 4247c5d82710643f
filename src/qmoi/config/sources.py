"""Where raw values come from, highest first: environment variables, a ``.env`` file,
and an optional JSON config file (``{"airtel": {"clientId": …}, "mpesa": {…}}``, see
``docs/configuration.md``). Every value is read as text; parsing comes after.

The file's ``accounts`` list is kept as given (each account an object, parsed by
:mod:`~qmoi.config.accounts`); the names its ``credentials`` refer to are looked up in
the environment and ``.env`` here, and in the credential vault by the bootstrap."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from qmoi.config.catalogue import VARIABLES
from qmoi.errors import ConfigError


def camel_to_upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def json_file_values(path: Path) -> dict[str, str]:
    """Flatten the JSON file's sections into variable names (``airtel.clientId`` →
    ``AIRTEL_CLIENT_ID``). Top-level keys may also be variable names themselves."""
    return _flatten(_json_file(path))


def _json_file(path: Path) -> dict[str, Any]:
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
    return data


def _accounts(data: dict[str, Any]) -> tuple[dict[str, Any], ...] | None:
    """The file's ``accounts`` list as given; None when it has none."""
    accounts = data.get("accounts")
    if accounts is None:
        return None
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        raise ConfigError(
            "QMOI_CONFIG_FILE: accounts must be a list of objects, one per account — see "
            "docs/accounts.md"
        )
    return tuple(accounts)


#: how a credential reference names its value: an environment variable's name
REFERENCE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


def references(accounts: tuple[dict[str, Any], ...] | None) -> set[str]:
    """The names the accounts' ``credentials`` refer to (well-formed ones only)."""
    names: set[str] = set()
    for account in accounts or ():
        credentials = account.get("credentials")
        if isinstance(credentials, dict):
            names.update(
                v for v in credentials.values() if isinstance(v, str) and REFERENCE.fullmatch(v)
            )
    return names


def _flatten(data: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        if key == "accounts":
            continue
        if isinstance(value, dict):
            prefix = {"airtel": "AIRTEL", "mpesa": "MPESA", "qmoi": "QMOI"}.get(key.lower())
            if prefix is None:
                raise ConfigError(
                    f"QMOI_CONFIG_FILE: unknown section {key!r} — use airtel, mpesa or qmoi"
                )
            for inner, inner_value in value.items():
                flat[f"{prefix}_{camel_to_upper_snake(inner)}"] = json_text(inner_value)
        else:
            flat[key.upper()] = json_text(value)
    return flat


def json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(json_text(v) for v in value)
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
    #: the config file's ``accounts`` list as given; None: no list (the legacy two)
    accounts: tuple[dict[str, Any], ...] | None = None
    #: the values of the names the accounts' credentials refer to, where found
    referenced: dict[str, str] = field(default_factory=dict)
    #: secrets taken from the credential vault (where no other source gave them), and
    #: what was wrong with the vault's values, as ``VARIABLE: what — fix`` lines
    from_vault: frozenset[str] = frozenset()
    vault_problems: tuple[str, ...] = ()


def read_raw(env_file: Path | None = Path(".env"), config_file: Path | None = None) -> RawValues:
    """Read every variable as text: environment, then ``.env``, then the JSON file."""
    if config_file is None and os.environ.get("QMOI_CONFIG_FILE"):
        config_file = Path(os.environ["QMOI_CONFIG_FILE"])
    data = _json_file(config_file) if config_file is not None else {}
    from_file, accounts = _flatten(data), _accounts(data)
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
    return RawValues(
        values,
        sorted(k for k in from_file if k not in VARIABLES),
        accounts=accounts,
        referenced=_referenced(references(accounts), env_path),
    )


def _referenced(names: set[str], env_path: Path | None) -> dict[str, str]:
    """The referenced names' values: the environment over ``.env``."""
    if not names:
        return {}
    from_dotenv = dotenv_values(env_path) if env_path is not None else {}
    found: dict[str, str] = {}
    for name in names:
        value = os.environ.get(name, from_dotenv.get(name))
        if value is not None:
            found[name] = value
    return found
