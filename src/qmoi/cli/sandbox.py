"""``qmoi sandbox airtel|mpesa --port PORT``: run one provider emulator on its own.

Every emulator flag (``--seed``, ``--speed``, ``--callback-url`` …) is passed through;
``qmoi sandbox airtel -- --help`` lists them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Emulator(StrEnum):
    AIRTEL = "airtel"
    MPESA = "mpesa"


def sandbox(
    ctx: typer.Context,
    provider: Annotated[Emulator, typer.Argument(help="which emulator")],
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 9100,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Serve the Airtel or Daraja emulator (simulated money) on a loopback port."""
    argv = ["--port", str(port), "--host", host, *ctx.args]
    if provider is Emulator.AIRTEL:
        from qmoi_sandbox.airtel.__main__ import main as run_airtel

        run_airtel(argv)
    else:
        from qmoi_sandbox.mpesa.__main__ import main as run_mpesa

        run_mpesa(argv)
