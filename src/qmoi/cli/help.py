"""How ``qmoi … --help`` reads: flags without a value placeholder, prose that Rich wraps
to the terminal (docstrings are wrapped for the source, not for the screen), and usage
errors that point to the subcommand's own help."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import typer


def tidy(command: Any, name: str = "qmoi") -> None:
    """Prepare every command of the tree under ``command`` for ``--help``, once."""
    ctx = typer.Context(command, info_name=name)
    command.help = reflow(command.help)
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False):
            param.metavar = ""  # a flag takes no value: no <bool> beside it
    for sub_name, sub in getattr(command, "commands", {}).items():
        tidy(sub, sub_name)


def reflow(text: str | None) -> str | None:
    """Each paragraph on one line, for Rich to wrap; a paragraph starting with ``\\b``
    (Click's "keep my line breaks") stays as written."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )


def usage_problem(exc: Exception, root: Any, argv: Sequence[str]) -> str:
    """One line: what was wrong with the command line, and the help that says how."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or " ".join(named_path(root, argv))
    return f"{' '.join(message.split()).rstrip('.')} — try '{path} --help'"


def named_path(root: Any, argv: Sequence[str], name: str = "qmoi") -> list[str]:
    """The commands ``argv`` names, from the root down (the parser does not always say
    which command a problem is in)."""
    path, command, args = [name], root, list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            break
        if arg.startswith("-"):
            takes_value = any(
                arg in (*p.opts, *getattr(p, "secondary_opts", ()))
                and not getattr(p, "is_flag", False)
                for p in command.params
            )
            if takes_value and "=" not in arg and args:
                args.pop(0)
            continue
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        command = sub
    return path
