"""Decoding Daraja's JSON and reading its fields, strictly.

Tolerant of unknown fields and of numbers sent as JSON numbers or numeric strings (§3,
§13.14); strict about everything read: a wrong type, a missing identifier, an over-long
string or a body that is not a JSON object raises :class:`WireError` with a stable
``reason``. Fractions are ``Decimal`` (never ``float``); ``NaN``/``Infinity``, huge
integers and deep nesting are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qmoi.providers.mpesa.wire.constants import MAX_BODY_BYTES, MAX_ID_LENGTH, MAX_TEXT_LENGTH


class WireError(ValueError):
    """A body that is not Daraja's shape; ``reason`` is stable and machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_json(body: bytes | str, *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """A JSON object with fractions as ``Decimal``; :class:`WireError` for anything else."""
    if len(body) > limit:
        raise WireError("too_large", f"body of {len(body)} bytes exceeds {limit}")
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise WireError("malformed_json", f"body is not valid JSON ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise WireError("not_an_object", f"body is a JSON {type(data).__name__}, not an object")
    return data


# --------------------------------------------------------------------------------------
# field readers
# --------------------------------------------------------------------------------------

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_DIGITS = re.compile(r"^\d{1,30}$")


def code_text(value: object, name: str) -> str:
    """A result/response code as text: Daraja sends ``0``, ``"0"``, ``"R000002"`` (§3)."""
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise WireError("invalid_field", f"{name} is not a whole number")
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if not text or len(text) > MAX_ID_LENGTH or not _PRINTABLE.match(text):
        raise WireError("invalid_field", f"{name} is empty, too long or not printable")
    return text


def value_of(data: Mapping[str, Any], name: str, *, required: bool) -> Any:
    if name not in data or data[name] is None:
        if required:
            raise WireError("missing_field", f"{name} is missing")
        return None
    return data[name]


def optional_id(data: Mapping[str, Any], name: str) -> str | None:
    """An id field: a non-empty printable string (numbers accepted as their digits)."""
    value = value_of(data, name, required=False)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    result = value.strip()
    if not result:
        return None
    if len(result) > MAX_ID_LENGTH or not _PRINTABLE.match(result):
        raise WireError("invalid_field", f"{name} is too long or not printable")
    return result


def required_id(data: Mapping[str, Any], name: str) -> str:
    """Like :func:`optional_id`, but absence or emptiness is an error."""
    result = optional_id(data, name)
    if result is None:
        raise WireError("missing_field", f"{name} is missing or empty")
    return result


def text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """A free-text field (descriptions, names); numbers are accepted as their text."""
    value = value_of(data, name, required=required)
    if value is None:
        return None
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise WireError("invalid_field", f"{name} is longer than {MAX_TEXT_LENGTH} characters")
    return value


def scalar(value: object, name: str) -> str | int | Decimal | None:
    """A parameter value as Daraja sends it (string, integer or decimal); None if absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise WireError("invalid_field", f"{name} is too long")
        return value
    if isinstance(value, int | Decimal):
        return value
    raise WireError("invalid_field", f"{name} has type {type(value).__name__}")


def digits(value: object, name: str) -> str:
    """A numeric identity (MSISDN, shortcode, compact timestamp) as its digits."""
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int):
        result = str(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        result = str(int(value))
    elif isinstance(value, str):
        result = value.strip()
    else:
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if not _DIGITS.match(result):
        raise WireError("invalid_field", f"{name} is not a number of at most 30 digits")
    return result


def object_of(data: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = value_of(data, name, required=required)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError("invalid_field", f"{name} is a {type(value).__name__}, not an object")
    return value


def list_of_objects(value: object, name: str, limit: int = 100) -> list[Mapping[str, Any]]:
    """Daraja lists sometimes collapse to one object when they hold one element. A
    result's parameter lists are short; more than ``limit`` entries is not an answer."""
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WireError("invalid_field", f"{name} is not a list of objects")
    if len(items) > limit:
        raise WireError("invalid_field", f"{name} has more than {limit} entries")
    return items


def named_values(
    items: list[Mapping[str, Any]], name_key: str, value_key: str, where: str
) -> dict[str, str | int | Decimal | None]:
    values: dict[str, str | int | Decimal | None] = {}
    for item in items:
        name = required_id(item, name_key)
        if name in values:
            raise WireError("invalid_field", f"{where} names {name} twice")
        values[name] = scalar(item.get(value_key), f"{where}.{name}")
    return values
