"""QMOI's secret key: the one key that seals backups and the credential vault.

It comes from ``QMOI_SECRET_KEY`` (through HKDF, so any long random string will do) or,
without it, from ``var/secret.key`` (32 random bytes, base64, mode 0600), which only the
sandbox creates on first use. Each purpose (the vault) gets its own key derived from
it, so a value sealed for one purpose never opens as another.

Rotating a key file is crash-safe: the new key is written to ``secret.key.next`` before
anything is re-sealed, the old one is kept under ``retired-keys/`` (older backups need
it), and only then does ``secret.key.next`` replace ``secret.key`` in one rename.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from qmoi.errors import ConfigError

KEY_FILE = "secret.key"
MIN_TEXT_LENGTH = 32


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"qmoi", info=info).derive(material)


def from_text(text: str) -> bytes:
    """The key given as text (``QMOI_SECRET_KEY``)."""
    return _hkdf(text.encode(), b"qmoi sealing key")


def derive(key: bytes, purpose: str) -> bytes:
    return _hkdf(key, f"qmoi {purpose} key".encode())


def key_id(key: bytes) -> str:
    """A short, public name of a key: shows which key sealed something, reveals nothing."""
    return hashlib.sha256(b"qmoi key id\0" + key).hexdigest()[:12]


def read_key_file(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{path}: is not a QMOI key file (32 bytes, base64)")
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` (mode 0600, never overwriting) holding ``key``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode())
        handle.flush()
        os.fsync(handle.fileno())


def key_from(secret: SecretStr | None, key_file: Path, *, may_create: bool) -> bytes:
    if secret is not None:
        return from_text(secret.get_secret_value())
    if key_file.exists():
        return read_key_file(key_file)
    if not may_create:
        raise ConfigError(
            "QMOI_SECRET_KEY: is required outside the sandbox to seal backups and the "
            "vault — set a long random value, e.g. `openssl rand -hex 32`, and keep it "
            "apart from the database and the backups"
        )
    key = secrets.token_bytes(32)
    write_key_file(key_file, key)
    return key


def pending_file(key_file: Path) -> Path:
    """Where a rotation keeps the next key until everything is sealed with it."""
    return key_file.with_name(key_file.name + ".next")


def retired_file(key_file: Path, old_id: str) -> Path:
    return key_file.parent / "retired-keys" / f"{old_id}.key"


def pending_key(key_file: Path) -> bytes | None:
    """The next key of an unfinished rotation, if one was begun."""
    path = pending_file(key_file)
    return read_key_file(path) if path.exists() else None


def begin_rotation(key_file: Path) -> bytes:
    """The next key: the one an interrupted rotation began with, or a new one."""
    pending = pending_key(key_file)
    if pending is not None:
        return pending
    key = secrets.token_bytes(32)
    write_key_file(pending_file(key_file), key)
    return key


def finish_rotation(key_file: Path) -> None:
    """Keep the old key for older backups, then make the next key current (one rename)."""
    old = read_key_file(key_file)
    retired = retired_file(key_file, key_id(old))
    if not retired.exists():
        retired.parent.mkdir(mode=0o700, exist_ok=True)
        write_key_file(retired, old)
    os.replace(pending_file(key_file), key_file)


def retired_keys(key_file: Path) -> list[bytes]:
    folder = key_file.parent / "retired-keys"
    return [read_key_file(p) for p in sorted(folder.glob("*.key"))] if folder.is_dir() else []
