"""``python -m qmoi_sandbox.airtel --port PORT``: serve the Airtel emulator with uvicorn.

Every option can also come from a ``QMOI_SANDBOX_AIRTEL_<OPTION>`` environment variable
(``--callback-url`` → ``QMOI_SANDBOX_AIRTEL_CALLBACK_URL``; flags take 1/true/yes/on);
the command line wins. ``--public-key-out FILE`` writes the PEM public key the merchant
encrypts the PIN and ``x-key`` with (it is also served at ``GET /sandbox/public-key``).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import uvicorn

from qmoi_sandbox.airtel.app import create_app
from qmoi_sandbox.airtel.state import CURRENCIES, AirtelSandboxConfig

ENV_PREFIX = "QMOI_SANDBOX_AIRTEL_"
_TRUE = {"1", "true", "yes", "on"}

log = logging.getLogger("qmoi_sandbox.airtel")


@dataclass(frozen=True)
class Launch:
    config: AirtelSandboxConfig
    host: str
    port: int
    public_key_out: Path | None
    log_level: str


def _delay(text: str) -> tuple[float, float]:
    parts = [float(p) for p in text.split(",")]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("expected SECONDS or LOW,HIGH")
    return parts[0], parts[1]


def _countries(text: str) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in text.split(",") if c.strip())


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a timezone, e.g. 2026-01-01T08:00:00+03:00")
    return moment


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qmoi_sandbox.airtel",
        description="Airtel Money Open API emulator (simulated money only).",
    )
    defaults = AirtelSandboxConfig()

    def option(name: str, default: object = None, **kwargs: object) -> None:
        env_name = ENV_PREFIX + name.lstrip("-").replace("-", "_").upper()
        value = env.get(env_name, default)
        parser.add_argument(name, default=value, **kwargs)  # type: ignore[arg-type]

    def flag(name: str, help_text: str) -> None:
        env_name = ENV_PREFIX + name.lstrip("-").replace("-", "_").upper()
        on = env.get(env_name, "").strip().lower() in _TRUE
        parser.add_argument(name, action="store_true", default=on, help=help_text)

    option("--host", "127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    option("--port", None, type=int, help="port to listen on (required)")
    option("--seed", None, type=int, help="seed for reproducible customers and faults")
    option("--speed", str(defaults.speed), type=float, help="simulated seconds per real second")
    option("--start", None, type=_when, help="simulated start time, ISO 8601 with zone")
    option("--callback-url", None, help="where collection callbacks are POSTed")
    option("--client-id", defaults.client_id)
    option("--client-secret", defaults.client_secret)
    option("--pin", defaults.pin, help="disbursement PIN")
    option("--country", defaults.country, help="X-Country of the merchant app")
    option("--currency", None, help="X-Currency of the merchant app (default: the country's)")
    option(
        "--countries",
        "",
        type=_countries,
        help="further countries served, comma-separated (e.g. UG,TZ), each in its currency",
    )
    option("--opening-balance-minor", str(defaults.opening_balance_minor), type=int)
    option("--customer-delay", "5,30", type=_delay, help="LOW,HIGH simulated seconds")
    option("--prompt-timeout", str(defaults.prompt_timeout_s), type=float)
    option("--approve-rate", str(defaults.default_approve_rate), type=float)
    option("--callback-key", defaults.callback_key, help="callback private key for the hash")
    option("--hash-scope", defaults.hash_scope, choices=("outer", "inner"))
    option("--token-ttl", str(defaults.token_ttl_s), type=int, help="token lifetime, seconds")
    option("--fee-minor", str(defaults.disbursement_fee_minor), type=int)
    option("--max-transaction-minor", None, type=int)
    option("--merchant-name", defaults.merchant_name)
    option("--private-key-file", None, type=Path, help="PEM RSA key instead of a fresh one")
    option("--public-key-out", None, type=Path, help="write the PEM public key here")
    option("--log-level", "info")
    flag("--signing", "require x-signature/x-key on v2 collection and disbursement calls")
    flag("--callback-auth", "add the HMAC-SHA256 hash to callbacks")
    flag("--disbursement-callbacks", "also send callbacks for disbursements")
    return parser


def parse(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Launch:
    environ = os.environ if env is None else env
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error(f"--port (or {ENV_PREFIX}PORT) is required")
    private_key = args.private_key_file.read_bytes() if args.private_key_file else None
    try:
        config = AirtelSandboxConfig(
            client_id=args.client_id,
            client_secret=args.client_secret,
            pin=args.pin,
            country=args.country,
            currency=args.currency or CURRENCIES.get(args.country, AirtelSandboxConfig.currency),
            countries=args.countries,
            seed=args.seed,
            speed=args.speed,
            start=args.start,
            opening_balance_minor=args.opening_balance_minor,
            customer_delay_s=args.customer_delay,
            prompt_timeout_s=args.prompt_timeout,
            default_approve_rate=args.approve_rate,
            callback_url=args.callback_url,
            callback_auth=args.callback_auth,
            callback_key=args.callback_key,
            hash_scope=args.hash_scope,
            signing_required=args.signing,
            token_ttl_s=args.token_ttl,
            disbursement_fee_minor=args.fee_minor,
            disbursement_callbacks=args.disbursement_callbacks,
            max_transaction_minor=args.max_transaction_minor,
            merchant_name=args.merchant_name,
            private_key_pem=private_key,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return Launch(config, args.host, args.port, args.public_key_out, args.log_level)


def main(argv: Sequence[str] | None = None) -> None:
    launch = parse(argv)
    logging.basicConfig(level=launch.log_level.upper())
    app = create_app(launch.config)
    if launch.public_key_out is not None:
        launch.public_key_out.write_text(app.state.sandbox.keys.public_pem())
    log.info("Airtel sandbox on http://%s:%d (simulated money)", launch.host, launch.port)
    uvicorn.run(app, host=launch.host, port=launch.port, log_level=launch.log_level)


if __name__ == "__main__":
    main()
