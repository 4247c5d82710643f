"""The harness's side of the attacker: starting its process, reading its journal, and
finding its marker in what QMOI stored."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qmoi_chaos.attack.spec import Spec

#: finds the marker in a stored body, JSON or not
MARKER_RE = re.compile(r"chaos_forged\W{1,6}(\d+)")


@contextlib.contextmanager
def attacking(spec: Spec, root: Path) -> Iterator[Path]:
    """The attacker process for the length of the block; yields its log's path. It is
    asked to stop (SIGTERM) when the block ends, and killed if it has not within 20 s."""
    spec_file = root / "attacker.json"
    spec_file.write_text(json.dumps(asdict(spec)))
    console = (root / "logs" / "attacker.txt").open("ab")
    popen = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "qmoi_chaos.attack", str(spec_file)],
        stdout=console,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    console.close()
    try:
        yield Path(spec.log_file)
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=10)


@dataclass
class AttackLog:
    """What the attacker's journal says it sent."""

    by_kind: Counter[str] = field(default_factory=Counter)
    markers: dict[str, str] = field(default_factory=dict)  # marker → kind
    paths: dict[str, str] = field(default_factory=dict)  # marker → route posted to
    answers: Counter[str] = field(default_factory=Counter)  # HTTP status or error → count
    forged_sent: int = 0
    replays_sent: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def read_log(path: Path) -> AttackLog:
    found = AttackLog()
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if "summary" in record:
            found.summary = record["summary"]
        elif "kind" in record:
            found.by_kind[record["kind"]] += 1
            if record.get("marker") is None:
                found.replays_sent += 1
            else:
                found.forged_sent += 1
                found.markers[str(record["marker"])] = record["kind"]
                found.paths[str(record["marker"])] = str(record.get("path"))
        elif "status" in record or "error" in record:
            found.answers[str(record.get("status") or record.get("error"))] += 1
    return found


#: inbox statuses that say QMOI acted on a callback as a fact, or handed it to a query
EFFECTIVE = ("processed", "answer")


def marker_of(body: str) -> str | None:
    match = MARKER_RE.search(body)
    return match.group(1) if match else None
