"""``qmoi sandbox airtel|mpesa --port PORT``: run one provider emulator on its own.

Every emulator flag (``--seed``, ``--speed``, ``--callback-url`` …) is passed through;
``qmoi sandbox --help`` lists them, read from the emulators' own parsers.
"""

from __future__ import annotations

import argparse
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperCommand

from qmoi.cli.render import out


class Emulator(StrEnum):
    AIRTEL = "airtel"
    MPESA = "mpesa"


def sandbox(
    ctx: typer.Context,
    provider: Annotated[Emulator, typer.Argument(help="which emulator")],
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 9100,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Serve the Airtel or Daraja emulator (simulated money) on a loopback port.

    Every other flag goes to the emulator; each emulator's flags are listed below."""
    argv = ["--port", str(port), "--host", host, *ctx.args]
    if provider is Emulator.AIRTEL:
        from qmoi_sandbox.airtel.__main__ import main as run_airtel

        run_airtel(argv)
    else:
        from qmoi_sandbox.mpesa.__main__ import main as run_mpesa

        run_mpesa(argv)


class WithEmulatorFlags(TyperCommand):
    """``qmoi sandbox --help``, followed by each emulator's flags (the emulators load
    only when the help is asked for)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        super().format_help(ctx, formatter)
        for title, parser in emulator_parsers().items():
            out.print(flags_panel(title, parser), soft_wrap=False)


def emulator_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each emulator's command-line parser, with its built-in defaults (no environment)."""
    from qmoi_sandbox.airtel.__main__ import build_parser as airtel_parser
    from qmoi_sandbox.mpesa.__main__ import build_parser as mpesa_parser

    return {
        "Airtel emulator flags (qmoi sandbox airtel …)": airtel_parser({}),
        "Daraja emulator flags (qmoi sandbox mpesa …)": mpesa_parser({}),
    }


def flags_panel(title: str, parser: argparse.ArgumentParser) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(style="yellow", no_wrap=True)
    table.add_column(ratio=1)
    for action in parser._actions:  # argparse has no public list of its options
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        table.add_row(escape(_flag_name(action)), _flag_value(action), escape(action.help or ""))
    return Panel(table, title=title, title_align="left", border_style="dim")


def _flag_name(action: argparse.Action) -> str:
    if isinstance(action, argparse.BooleanOptionalAction):
        return action.option_strings[0].replace("--", "--[no-]", 1)
    return ", ".join(action.option_strings)


def _flag_value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices:
        return "|".join(map(str, action.choices))
    names: dict[object, str] = {int: "INT", float: "NUMBER", Path: "PATH"}
    return names.get(action.type, "TEXT")
