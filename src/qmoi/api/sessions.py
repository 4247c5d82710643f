"""Dashboard sessions: after signing in with a key, the browser holds a signed,
expiring cookie — never the key itself — and sends it back HttpOnly and SameSite=Strict.

The cookie is ``{role}.{expires}.{mac}`` where ``mac`` is HMAC-SHA256 over the first two
parts under a key derived from the master key, so changing the master key signs
everyone out. Requests that change anything must also carry the ``X-QMOI-Dashboard``
header, which a cross-site form cannot add (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import time

COOKIE = "qmoi_session"
CSRF_HEADER = "x-qmoi-dashboard"
LIFETIME_S = 12 * 3600


def _key(master: str) -> bytes:
    return hashlib.sha256(b"qmoi dashboard session\0" + master.encode()).digest()


def issue(master: str, role: str, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + LIFETIME_S)
    body = f"{role}.{expires}"
    mac = hmac.new(_key(master), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(master: str, cookie: str, now: float | None = None) -> str | None:
    """The session's role, or None when the cookie is forged, altered or expired."""
    role, _, rest = cookie.partition(".")
    expires, _, mac = rest.partition(".")
    if not (role and expires.isdigit() and mac):
        return None
    expected = hmac.new(_key(master), f"{role}.{expires}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    return role
