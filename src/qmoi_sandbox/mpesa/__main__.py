"""Run the Daraja emulator alone: ``python -m qmoi_sandbox.mpesa --port PORT``.

Every option can also come from an environment variable named after it,
``QMOI_SANDBOX_MPESA_<OPTION>`` (``--consumer-key`` → ``QMOI_SANDBOX_MPESA_CONSUMER_KEY``);
a command-line flag wins over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import uvicorn

from qmoi_sandbox.mpesa.app import create_app
from qmoi_sandbox.mpesa.config import MpesaSandboxConfig

ENV_PREFIX = "QMOI_SANDBOX_MPESA_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_name(option: str) -> str:
    return ENV_PREFIX + option.lstrip("-").replace("-", "_").upper()


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _aware_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("--start needs a timezone, e.g. 2026-01-01T06:00:00+03:00")
    return moment


def build_parser(environ: dict[str, str] | None = None) -> argparse.ArgumentParser:
    env = dict(os.environ if environ is None else environ)
    defaults = MpesaSandboxConfig()
    parser = argparse.ArgumentParser(
        prog="python -m qmoi_sandbox.mpesa",
        description="Safaricom Daraja (M-Pesa) emulator for the QMOI sandbox.",
    )

    def option(name: str, kind: Callable[[str], Any], default: Any, help_text: str) -> None:
        raw = env.get(_env_name(name))
        value = default if raw is None else kind(raw)
        parser.add_argument(
            name, type=kind, default=value, help=f"{help_text} (env {_env_name(name)})"
        )

    def flag(name: str, default: bool, help_text: str) -> None:
        raw = env.get(_env_name(name))
        value = default if raw is None else _boolean(raw)
        parser.add_argument(
            name,
            action=argparse.BooleanOptionalAction,
            default=value,
            help=f"{help_text} (env {_env_name(name)})",
        )

    option("--host", str, "127.0.0.1", "interface to listen on")
    option("--port", int, None, "port to listen on (required)")
    option("--seed", int, None, "seed for customers, ids and faults")
    option("--speed", float, defaults.speed, "simulated seconds per real second")
    option("--start", _aware_datetime, None, "simulated start time (ISO 8601 with zone)")
    option("--consumer-key", str, defaults.consumer_key, "OAuth consumer key")
    option("--consumer-secret", str, defaults.consumer_secret, "OAuth consumer secret")
    option("--shortcode", str, defaults.shortcode, "paybill shortcode")
    option("--passkey", str, defaults.passkey, "Lipa na M-Pesa Online passkey")
    option("--till-number", str, None, "till (Buy Goods) number; default: the shortcode")
    option("--initiator", str, defaults.initiator, "initiator (API operator) name")
    option("--initiator-password", str, defaults.initiator_password, "initiator password")
    option(
        "--opening-balance-minor",
        int,
        defaults.opening_balance_minor,
        "opening float in cents of KES",
    )
    option("--approve-rate", float, defaults.default_approve_rate, "approve rate of customers")
    option("--callback-attempts", int, defaults.callback_max_attempts, "tries per callback")
    option("--b2c-fee-minor", int, defaults.b2c_fee_minor, "charge per B2C payout, cents")
    flag("--c2b-validation", defaults.c2b_validation, "call the C2B Validation URL")
    flag("--c2b-register-once", defaults.c2b_register_once, "refuse re-registering C2B URLs")
    flag(
        "--token-invalidates-previous",
        defaults.token_invalidates_previous,
        "a new OAuth token revokes the older ones",
    )
    flag("--url-rules", defaults.enforce_url_rules, "refuse callback URLs with mpesa, sql, …")
    option("--log-level", str, "info", "uvicorn log level")
    return parser


def config_from_args(args: argparse.Namespace) -> MpesaSandboxConfig:
    return MpesaSandboxConfig(
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        shortcode=args.shortcode,
        passkey=args.passkey,
        till_number=args.till_number,
        initiator=args.initiator,
        initiator_password=args.initiator_password,
        seed=args.seed,
        speed=args.speed,
        start=args.start,
        opening_balance_minor=args.opening_balance_minor,
        default_approve_rate=args.approve_rate,
        callback_max_attempts=args.callback_attempts,
        b2c_fee_minor=args.b2c_fee_minor,
        c2b_validation=args.c2b_validation,
        c2b_register_once=args.c2b_register_once,
        token_invalidates_previous=args.token_invalidates_previous,
        enforce_url_rules=args.url_rules,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error(f"--port is required (or {_env_name('--port')})")
    app = create_app(config_from_args(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
