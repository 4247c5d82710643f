"""QMOI and both emulators tell the same simulated time: each emulator copies QMOI's
clock (start, speed and the wall-clock second it started). Given only QMOI's start, the
M-Pesa emulator ran behind by the Airtel emulator's set-up time times the speed (half an
hour at ×3600), so its payments fell outside the windows QMOI read its statement in."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.e2e.runtime_support import running, sandbox_settings

SPEED = 3600.0
#: rounding only: the emulators copy QMOI's clock (start, speed, origin), so the time
#: they answer lies between QMOI's readings before and after the request
SLACK = timedelta(seconds=1)


async def test_the_emulators_clocks_agree_with_qmois(tmp_path: Path) -> None:
    async with running(sandbox_settings(tmp_path), speed=SPEED, simulate=False) as run:
        for provider in ("airtel", "mpesa"):
            before = run.services.clock.now()
            theirs = datetime.fromisoformat(
                (await run.emulator(provider, "GET", "/sandbox/clock"))["now"]
            )
            after = run.services.clock.now()
            assert before - SLACK <= theirs <= after + SLACK, (provider, before, theirs, after)
