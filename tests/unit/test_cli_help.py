"""``qmoi … --help`` for every command reads cleanly: no ``<bool>`` beside a flag, no
literal backticks, prose Rich wraps (no hand-made line breaks), the emulators' flags
under ``qmoi sandbox``, and a usage error that names the subcommand's own help."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from qmoi.cli.main import command, run
from qmoi_sandbox.airtel.__main__ import build_parser as airtel_parser
from qmoi_sandbox.mpesa.__main__ import build_parser as mpesa_parser


def commands(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    for name, sub in getattr(node, "commands", {}).items():
        yield from commands(sub, (*path, name))


TREE = list(commands(command()))
PATHS = [path for path, _ in TREE]


def qmoi(*args: str, width: int = 100) -> tuple[int, str, str]:
    """Run ``qmoi`` in this process, as the console script does: (exit code, out, err)."""
    runner = CliRunner()
    umask = os.umask(0o022)  # the root command sets its own; give the test process its own back
    os.umask(umask)
    code: int | str | None = 0
    with runner.isolation(env={"COLUMNS": str(width)}) as (out, err, _):
        try:
            run(list(args))
        except SystemExit as exc:
            code = exc.code
        finally:
            os.umask(umask)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return int(code or 0), stdout, stderr


def test_the_tree_holds_every_command() -> None:
    assert {(), ("revenue", "status"), ("transfer",), ("sandbox",), ("secrets", "set")} <= set(
        PATHS
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "qmoi")
def test_help_shows_no_bool_placeholder_and_no_backtick(path: tuple[str, ...]) -> None:
    code, out, err = qmoi(*path, "--help")
    assert code == 0, err
    assert "Usage: qmoi" in out
    assert "<bool>" not in out
    assert "`" not in out
    assert "--help" in out


@pytest.mark.parametrize(("path", "node"), TREE, ids=[" ".join(p) or "qmoi" for p in PATHS])
def test_help_prose_is_one_line_per_paragraph_for_rich_to_wrap(
    path: tuple[str, ...], node: Any
) -> None:
    for paragraph in (node.help or "").split("\n\n"):
        assert paragraph.startswith("\b") or "\n" not in paragraph, (path, paragraph)


def test_prose_fills_a_wide_terminal_instead_of_breaking_where_the_source_did() -> None:
    _, out, _ = qmoi("start", "--help", width=200)
    assert (
        "Run QMOI in one process: API, worker and scheduler; in the sandbox also the "
        "enabled providers' emulators and the simulated customers." in out
    )


def test_sandbox_help_lists_every_flag_of_both_emulators() -> None:
    code, out, err = qmoi("sandbox", "--help", width=140)
    assert code == 0, err
    for parser in (airtel_parser({}), mpesa_parser({})):
        for action in parser._actions:
            names = action.option_strings
            if not names or "--help" in names:
                continue
            negated = f"--no-{names[0][2:]}" in names
            assert (f"--[no-]{names[0][2:]}" if negated else names[0]) in out, names


def _required(node: Any) -> bool:
    return any(getattr(p, "required", False) for p in getattr(node, "params", []))


REQUIRING = [path for path, node in TREE if path and _required(node)]


def test_some_commands_require_an_option_or_argument() -> None:
    assert ("transfer",) in REQUIRING
    assert ("keys", "create") in REQUIRING


@pytest.mark.parametrize("path", [("revenue", "start"), ("transfer", "--amount", "5")])
def test_a_command_on_one_account_without_one_named_points_to_its_help(
    path: tuple[str, ...],
) -> None:
    code, _, err = qmoi(*path)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "'--provider' / '--account': say which account" in line
    assert line.endswith(
        f"try 'qmoi {path[0]}{' ' + path[1] if path[0] == 'revenue' else ''} --help'"
    )


@pytest.mark.parametrize("path", REQUIRING, ids=" ".join)
def test_a_missing_option_points_to_the_subcommands_help(path: tuple[str, ...]) -> None:
    code, _, err = qmoi(*path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"try 'qmoi {' '.join(path)} --help'" in lines[0]


def test_an_option_without_its_value_points_to_the_subcommands_help() -> None:
    code, _, err = qmoi("--env-file", ".env", "revenue", "start", "--provider")
    assert code == 2
    assert err.strip() == (
        "Option '--provider' requires an argument — try 'qmoi revenue start --help'"
    )


def test_an_unknown_command_points_to_the_groups_help() -> None:
    code, _, err = qmoi("revenue", "frobnicate")
    assert code == 2
    assert err.strip() == "No such command 'frobnicate' — try 'qmoi revenue --help'"
