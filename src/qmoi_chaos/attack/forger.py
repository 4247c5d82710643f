"""The forgery builder: every provider's kinds together, one drawn at random."""

from __future__ import annotations

from qmoi_chaos.attack.airtel import AirtelForgeries
from qmoi_chaos.attack.mpesa_results import MpesaResultForgeries
from qmoi_chaos.attack.spec import KINDS, Forgery


class Forger(AirtelForgeries, MpesaResultForgeries):
    """Builds one forgery of a kind from what is known; a kind's builder is the method
    named after it (``mpesa.b2c.timeout`` → ``mpesa_b2c_timeout``) and returns None when
    nothing fits yet."""

    def forge(self) -> Forgery:
        """One forgery of a kind drawn at random among those that can be built now
        (garbage always can)."""
        for kind in self.rng.sample(KINDS, len(KINDS)):
            build = getattr(self, kind.replace(".", "_"))
            forgery: Forgery | None = build(kind)
            if forgery is not None:
                if forgery.marker is not None:
                    self.count += 1
                return forgery
        raise AssertionError("garbage can always be built")  # pragma: no cover
