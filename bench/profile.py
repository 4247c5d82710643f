"""Where the API processes spend their time: ``BENCH_PROFILE=1`` records each measured
``qmoi api`` process with py-spy (raw folded stacks, one sample per thread every 10 ms;
idle threads left out) and this module sums the stacks up per function.

Folded stacks are ``frame;frame;…;leaf COUNT`` lines, outermost frame first; with ``-F``
each frame is ``function (file:first line)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def available() -> bool:
    return Path(PY_SPY).exists()


def record(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` until it exits (the bench stops it after the measured phase)."""
    with output.with_suffix(".pyspy.log").open("wb") as log:
        return subprocess.Popen(
            [PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--function"]
            + (["--gil"] if os.environ.get("BENCH_PROFILE") == "gil" else [])
            + ["--rate", "100", "--output", str(output), "--nonblocking"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _short(frame: str) -> str:
    """``name (path/to/module.py)`` → ``name (module.py)``; QMOI's paths kept from qmoi/."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "src/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def summarise(folded: Path, top: int = 25) -> dict[str, object]:
    """Per function: share of samples in which it is on the stack (inclusive) and at the
    top of it (self), biggest first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}
