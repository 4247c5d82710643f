"""Files QMOI creates are its user's alone: ``var/`` holds the database (customers' phone
numbers), keys and state, ``logs/`` what happened to whom. Every command runs under
:data:`UMASK` (files 0600, directories 0700; set by the root command); what an older
version left readable by others is tightened by :func:`make_private` when QMOI starts,
and said in one log line.

Only ``QMOI_VAR_DIR`` and ``QMOI_LOG_DIR`` themselves, what lies directly in them, and a
SQLite database with its side files are touched — not whole trees, in case one of those
settings names a directory that is not QMOI's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

from qmoi.config import Settings

log = structlog.get_logger("qmoi.files")

#: group and others get nothing
UMASK = 0o077
#: what SQLite writes beside a database file
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private(settings: Settings) -> list[Path]:
    """Take group and other permissions from QMOI's directories, their files and the
    SQLite database; returns what was tightened."""
    candidates: list[Path] = []
    for directory in (settings.var_dir, settings.log_dir):
        if directory.is_dir() and not directory.is_symlink():
            candidates += [directory, *sorted(directory.iterdir())]
    database = sqlite_file(settings.database_url)
    if database is not None:
        candidates += [database, *(Path(f"{database}{side}") for side in SQLITE_SIDE_FILES)]
    tightened = [path for path in dict.fromkeys(candidates) if _tighten(path)]
    if tightened:
        log.warning(
            "files.made_private",
            paths=[os.path.abspath(path) for path in tightened],
            why="readable by other users (left by an older QMOI); now owner-only",
        )
    return tightened


def sqlite_file(database_url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL; ``None`` for other databases and memory."""
    scheme, _, rest = database_url.partition(":///")
    if not scheme.startswith("sqlite") or not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0]).expanduser()


def _tighten(path: Path) -> bool:
    try:
        found = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(found.st_mode) or not found.st_mode & 0o077:
        return False  # a link's target is not ours to judge; already private
    try:
        os.chmod(path, stat.S_IMODE(found.st_mode) & ~0o077)
    except OSError as exc:  # another user's file: say so, do not stop QMOI
        log.warning("files.not_private", path=str(path), error=str(exc))
        return False
    return True
