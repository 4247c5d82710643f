"""One provider emulator in a process of its own: ``python -m qmoi_chaos.emulator
airtel|mpesa PORT CONFIG_JSON``.

The chaos run starts both emulators as separate processes (not threads of the harness)
so that their work does not share a GIL with the harness, the balancer or each other,
and so that every knob of the emulator's config (customer delays, result delays, token
lifetime…) can be set — the command-line front ends expose only some of them. The JSON
holds :class:`AirtelSandboxConfig` / :class:`MpesaSandboxConfig` fields; ``start`` is an
ISO 8601 time, ranges are two-element lists.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from qmoi_sandbox.airtel import AirtelSandboxConfig
from qmoi_sandbox.airtel import create_app as airtel_app
from qmoi_sandbox.mpesa import MpesaSandboxConfig
from qmoi_sandbox.mpesa import create_app as mpesa_app


def build(provider: str, fields: dict[str, Any]) -> Any:
    """The emulator app. ``origin`` (wall-clock epoch seconds at which the shared clock
    stood at ``start``) is turned into this moment's simulated time, so that the emulator
    tells the same time as QMOI's processes however long this process took to start."""
    values = dict(fields)
    origin = values.pop("origin", None)
    if values.get("start"):
        start = datetime.fromisoformat(values["start"])
        if origin is not None:
            start += timedelta(seconds=(time.time() - float(origin)) * float(values["speed"]))
        values["start"] = start
    for name in ("customer_delay_s", "result_delay_s"):
        if name in values:
            values[name] = tuple(values[name])
    if provider == "airtel":
        return airtel_app(AirtelSandboxConfig(**values))
    if provider == "mpesa":
        return mpesa_app(MpesaSandboxConfig(**values))
    raise SystemExit(f"unknown provider {provider!r}: airtel or mpesa")


def main(argv: list[str]) -> None:
    provider, port, config = argv
    app = build(provider, json.loads(Path(config).read_text()))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        lifespan="on",
        access_log=False,
        backlog=1024,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
