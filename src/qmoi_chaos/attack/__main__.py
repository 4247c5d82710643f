"""``python -m qmoi_chaos.attack SPEC_JSON``: the attacker process."""

from __future__ import annotations

import sys

from qmoi_chaos.attack.sender import main

main(sys.argv[1:])
