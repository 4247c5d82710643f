"""Logging: structlog, human-readable on the console, JSON lines in ``logs/``.

Files: ``logs/qmoi.log`` (everything at INFO and above), ``logs/airtel_revenue.log``
(Airtel events), and ``logs/airtel_debug.log`` (Airtel debug detail, only when
``DEBUG_AIRTEL=true``). Every event passes through :func:`redact` first: values under
secret-sounding keys are replaced, registered secret values are scrubbed from any text,
and phone numbers are masked to their last three digits.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

_SECRET_KEY = re.compile(
    r"(secret|password|passkey|\bpin\b|^pin$|_pin$|token|authorization|credential|x-key|"
    r"x-signature|api_key|master_key|private|signature|cookie)",
    re.IGNORECASE,
)
_MSISDN_KEY = re.compile(r"(msisdn|phone|partyb|partya|mobile)", re.IGNORECASE)
_MSISDN_TEXT = re.compile(r"(?<!\d)(?:\+?254|0)?([17]\d{5})(\d{3})(?!\d)")
REDACTED = "***"

_registered: set[str] = set()


def register_secret(value: str | SecretStr | None) -> None:
    """Scrub this exact value from every later log line (credentials, keys, PINs)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value and len(value) >= 4:
        _registered.add(value)


def mask_msisdn(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"…{digits[-3:]}" if len(digits) >= 7 else value


def _scrub_text(text: str) -> str:
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _MSISDN_TEXT.sub(lambda m: f"…{m.group(2)}", text)


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return REDACTED
    if _SECRET_KEY.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, MutableMapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, str):
        if _MSISDN_KEY.search(key):
            return mask_msisdn(value)
        return _scrub_text(value)
    return value


def scrub_exception(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A formatted traceback may quote a secret or a phone number: scrub it too."""
    if isinstance(event.get("exception"), str):
        event["exception"] = _scrub_text(event["exception"])
    return event


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no secret and no full phone number leaves the process."""
    for key in list(event.keys()):
        event[key] = _redact_value(key, event[key])
    return event


class _AirtelOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("qmoi.providers.airtel"):
            return True
        msg = record.msg
        return isinstance(msg, dict) and msg.get("provider") == "airtel"


def _private_file(path: Path) -> None:
    """Create ``path`` owner-only if it is missing (a FileHandler would make it 0644
    under a common umask); an existing file keeps its mode."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def configure(
    log_dir: Path | None,
    *,
    debug: bool = False,
    debug_airtel: bool = False,
    console: bool = True,
    secrets: Iterable[str | SecretStr | None] = (),
) -> None:
    """Set up structlog and the stdlib handlers once per process."""
    for secret in secrets:
        register_secret(secret)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)

    def formatter(renderer: Any, *extra: Any) -> structlog.stdlib.ProcessorFormatter:
        return structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *extra,
                renderer,
            ],
        )

    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG if debug else logging.INFO)
        stream.setFormatter(formatter(structlog.dev.ConsoleRenderer(colors=False)))
        root.addHandler(stream)
    if log_dir is not None:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # logs name customers
        json_renderer = structlog.processors.JSONRenderer()
        with_traceback = structlog.processors.format_exc_info
        files = [
            ("qmoi.log", logging.DEBUG if debug else logging.INFO, None),
            ("airtel_revenue.log", logging.INFO, _AirtelOnly()),
        ]
        if debug_airtel:
            files.append(("airtel_debug.log", logging.DEBUG, _AirtelOnly()))
        for name, level, log_filter in files:
            _private_file(log_dir / name)
            handler = logging.FileHandler(log_dir / name, encoding="utf-8")
            handler.setLevel(level)
            handler.setFormatter(formatter(json_renderer, with_traceback, scrub_exception))
            if log_filter is not None:
                handler.addFilter(log_filter)
            root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
