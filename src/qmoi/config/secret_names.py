"""Which settings are secrets, found from the models' ``SecretStr`` fields so the list
cannot drift from them. A field's variable is its section's prefix and its name
(``Settings.airtel.pin`` → ``AIRTEL_PIN``, ``Settings.master_key`` → ``QMOI_MASTER_KEY``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from pydantic import BaseModel, SecretStr

from qmoi.config.models import Settings

#: the variable prefix of each section (the top level's is ``QMOI_``)
PREFIXES = {"airtel": "AIRTEL_", "mpesa": "MPESA_", "notify": "QMOI_NOTIFY_"}


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _secret_fields() -> Iterator[tuple[tuple[str, ...], str]]:
    """(attribute path from :class:`Settings`, variable name) of every secret."""
    for name, info in Settings.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for inner, inner_info in section.model_fields.items():
                if _is_secret(inner_info.annotation):
                    yield (name, inner), f"{PREFIXES[name]}{inner.upper()}"
        elif _is_secret(section):
            yield (name,), f"QMOI_{name.upper()}"


SECRET_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = tuple(_secret_fields())
SECRET_VARIABLES = frozenset(name for _, name in SECRET_FIELDS)


def secret_values(settings: Settings) -> list[SecretStr | None]:
    """Every secret's value, for the log redactor."""
    values: list[SecretStr | None] = []
    for path, _ in SECRET_FIELDS:
        value: object = settings
        for attribute in path:
            value = getattr(value, attribute)
        values.append(value if isinstance(value, SecretStr) else None)
    return values
