"""Dashboard sessions: after signing in with a key, the browser holds a signed,
expiring cookie — never the key itself — and sends it back HttpOnly and SameSite=Strict.

The cookie is ``{key_id}.{role}.{expires}.{mac}`` where ``mac`` is HMAC-SHA256 over the
first three parts under a key derived from the master key, so changing the master key
signs everyone out, and revoking the key (``key_id``; ``master`` for the master key)
ends its sessions. Requests that change anything must also carry the ``X-QMOI-Dashboard``
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


def issue(master: str, role: str, key_id: str = "master", now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + LIFETIME_S)
    body = f"{key_id}.{role}.{expires}"
    mac = hmac.new(_key(master), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(master: str, cookie: str, now: float | None = None) -> tuple[str, str] | None:
    """The session's (key id, role), or None when the cookie is forged, altered or
    expired."""
    parts = cookie.split(".")
    if len(parts) != 4:
        return None
    key_id, role, expires, mac = parts
    if not (key_id and role and expires.isdigit()):
        return None
    body = f"{key_id}.{role}.{expires}"
    expected = hmac.new(_key(master), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    return key_id, role
