"""API keys and roles. A key is ``qk_{id}_{secret}``: the id finds the stored row, the
secret is compared by its SHA-256 digest (constant time). Keys are random and long, so a
fast hash is enough; the secret is printed once and never stored.

Roles: ``owner`` does everything, including moving money; ``operator`` starts
collections and reads; ``viewer`` reads; ``auditor`` reads and reads the audit trail.
The master key is an owner."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from qmoi.errors import ConfigError
from qmoi.services.ports import UnitOfWorkFactory
from qmoi.services.records import StoredKey

ROLES = ("owner", "operator", "viewer", "auditor")
KEY_FORMAT = re.compile(r"^qk_([0-9a-f]{8})_([A-Za-z0-9_-]{32,64})$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    name: str
    role: str
    secret: str  # the whole key, shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(uows: UnitOfWorkFactory, role: str, name: str) -> NewKey:
    if role not in ROLES:
        raise ConfigError(f"--role: {role!r} is not a role — use one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 64:
        raise ConfigError("--name: give a name of 1 to 64 characters, e.g. --name accounting")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    with uows() as uow:
        uow.keys.add(StoredKey(key_id, name, role, _digest(secret), uow.now, None))
        uow.audit.append(
            "cli", "keys.created", {"key_id": key_id, "role": role, "name": name}, uow.now
        )
        uow.commit()
    return NewKey(key_id, name, role, f"qk_{key_id}_{secret}")


def revoke_key(uows: UnitOfWorkFactory, key_id: str) -> bool:
    with uows() as uow:
        done = uow.keys.revoke(key_id, uow.now)
        if done:
            uow.audit.append("cli", "keys.revoked", {"key_id": key_id}, uow.now)
        uow.commit()
    return done


def list_keys(uows: UnitOfWorkFactory) -> list[StoredKey]:
    with uows(read_only=True) as uow:
        return uow.keys.all()


def key_role(uows: UnitOfWorkFactory, presented: str) -> tuple[str, str] | None:
    """(key id, role) of a valid, unrevoked key; None for anything else."""
    match = KEY_FORMAT.match(presented)
    if match is None:
        return None
    key_id, secret = match.groups()
    with uows(read_only=True) as uow:
        stored = uow.keys.get(key_id)
    if stored is None or stored.revoked_at is not None:
        return None
    if not hmac.compare_digest(_digest(secret), stored.digest):
        return None
    return stored.key_id, stored.role


def still_valid(uows: UnitOfWorkFactory, key_id: str, role: str) -> bool:
    """A dashboard session made with this key may go on (not revoked, same role)."""
    with uows(read_only=True) as uow:
        stored = uow.keys.get(key_id)
    return stored is not None and stored.revoked_at is None and stored.role == role
