"""How the CLI talks back: one line per problem, exit codes, no tracebacks.

Exit codes: 0 done; 1 the request could not be done (bad configuration, broken audit
chain, refused operation); 2 the command line itself was wrong; 70 an internal error
(details in the log, never a traceback on screen).
"""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

OK, FAILED, USAGE, INTERNAL = 0, 1, 2, 70

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Print ``message`` (one line per problem) to stderr and exit with ``code``."""
    for line in message.splitlines() or [message]:
        err.print(line, markup=False)
    sys.exit(code)
