"""What every forgery builder needs: the shared clock, provider-looking ids, the marker,
and the real or predictable transfer references."""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qmoi_chaos.attack.intel import Intel
from qmoi_chaos.attack.spec import AIRTEL_PATH, MARKER, NAIROBI, Forgery, Spec, minor

RECEIPT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CHUNK_ID = re.compile(r"^QMOI-(AT|MP)-(\d{8})-(\d{4})$")


class Kit:
    """The helpers the per-provider builders share; one forgery builder is all of them
    together (:class:`~qmoi_chaos.attack.forger.Forger`)."""

    def __init__(self, spec: Spec, intel: Intel, rng: random.Random) -> None:
        self.spec = spec
        self.intel = intel
        self.rng = rng
        clock = json.loads(Path(spec.clock_file).read_text())
        self._start = datetime.fromisoformat(clock["start"])
        self._speed = float(clock["speed"])
        self._origin = float(clock["origin"])
        self.count = 0  # forged bodies (with a marker) built so far

    # --- helpers --------------------------------------------------------------------

    def now(self) -> datetime:
        """The shared simulated clock, in Nairobi (dates in bodies look current)."""
        moved = (time.time() - self._origin) * self._speed
        return (self._start + timedelta(seconds=moved)).astimezone(NAIROBI)

    def _pick(self, items: list[Any] | deque[Any]) -> Any:
        return self.rng.choice(list(items)) if items else None

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _receipt(self) -> str:
        now = self.now()
        head = chr(ord("A") + (now.year - 2006) % 26) + chr(ord("A") + now.month - 1)
        return head + "".join(self.rng.choice(RECEIPT_CHARS) for _ in range(8))

    def _money_id(self) -> str:
        now = self.now()
        return f"MP{now:%y%m%d}.{now:%H%M}.A{self.rng.randint(60_000, 99_999):05d}"

    def _conversation(self) -> str:
        return f"AG_{self.now():%Y%m%d}_{self._hex(20)}"

    def _originator(self) -> str:
        return f"{self.rng.randint(1000, 99999)}-{self.rng.randint(10**7, 10**9)}-1"

    def _checkout(self) -> str:
        digits = "".join(self.rng.choice("0123456789") for _ in range(11))
        return f"ws_CO_{self.now():%d%m%Y%H%M%S}{digits}"

    def _daraja_time(self) -> int:
        return int(f"{self.now():%Y%m%d%H%M%S}")

    def _amount(self) -> int:
        return self.rng.randint(50, 1500) * 100

    def _mark(self) -> str:
        return str(self.count + 1)

    def _airtel(self, kind: str, body: dict[str, Any], *, genuine_hash: bool = False) -> Forgery:
        """An Airtel forgery; when QMOI checks hashes, ours is missing or wrong."""
        if self.spec.airtel_hash and not genuine_hash:
            body.pop("hash", None)
            if self.rng.random() < 0.5:
                body["hash"] = base64.b64encode(self.rng.randbytes(32)).decode()
        body[MARKER] = self._mark()
        return Forgery(kind, AIRTEL_PATH, json.dumps(body).encode(), body[MARKER])

    def _mpesa(self, kind: str, sub: str, body: dict[str, Any]) -> Forgery:
        body[MARKER] = self._mark()
        path = f"/hooks/{self.spec.mpesa_token}{sub}"
        return Forgery(kind, path, json.dumps(body).encode(), body[MARKER])

    def _chunks(self, provider: str, states: tuple[str, ...]) -> list[tuple[str, int]]:
        """(our reference, amount) of real transfers in ``states``, from both sources."""
        found = [
            (str(x["id"]), minor(x["amount"]))
            for x in self.intel.transfers.get(provider, [])
            if x["status"] in states
        ]
        emulated = {"succeeded": "succeeded", "failed": "failed", "submitted": "pending"}
        wanted = {emulated[s] for s in states if s in emulated}
        for txn in self.intel.payouts.get(provider, []):
            if txn["status"] in wanted:
                reference = txn["id"] if provider == "airtel" else txn["reference"]
                found.append((str(reference), int(txn["amount_minor"])))
        return found

    def _predicted(self, provider: str) -> tuple[str, int] | None:
        """The id the next chunk of the day will have: they are dated and numbered."""
        code = "AT" if provider == "airtel" else "MP"
        day = f"{self.now():%Y%m%d}"
        sequences = [0]
        amounts = []
        for reference, amount in self._chunks(
            provider, ("reserved", "submitted", "unknown", "succeeded", "failed")
        ):
            match = CHUNK_ID.match(reference)
            if match and match.group(1) == code:
                amounts.append(amount)
                if match.group(2) == day:
                    sequences.append(int(match.group(3)))
        if not amounts:
            return None
        sequence = max(sequences) + self.rng.randint(1, 3)
        return f"QMOI-{code}-{day}-{sequence:04d}", self.rng.choice(amounts)

    def _genuine(self, provider: str) -> tuple[str, dict[str, Any]] | None:
        found: tuple[str, dict[str, Any]] | None = self._pick(self.intel.genuine.get(provider, []))
        return found
