"""Sealing files with QMOI's secret key: AES-256-GCM (authenticated — a wrong key or a
changed byte is refused, never half-read). The key comes from ``QMOI_SECRET_KEY``
(through HKDF, so any long random string will do) or, in the sandbox, from
``var/secret.key`` (32 random bytes, created on first use with mode 0600).

A sealed file is ``MAGIC``, one JSON header line (readable without the key, and
authenticated as associated data), a 12-byte nonce, then the ciphertext."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from qmoi.errors import ConfigError

MAGIC = b"QMOI-SEALED-1\n"


class Unsealable(Exception):
    """Wrong key, a changed byte, or not a sealed file at all."""


def key_from(secret: SecretStr | None, key_file: Path, *, may_create: bool) -> bytes:
    if secret is not None:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"qmoi", info=b"qmoi sealing key"
        ).derive(secret.get_secret_value().encode())
    if key_file.exists():
        key = base64.b64decode(key_file.read_text().strip())
        if len(key) != 32:
            raise ConfigError(f"{key_file}: is not a QMOI key file (32 bytes, base64)")
        return key
    if not may_create:
        raise ConfigError(
            "QMOI_SECRET_KEY: is required outside the sandbox to seal backups — set a long "
            "random value, e.g. `openssl rand -hex 32`, and keep it apart from the backups"
        )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"qmoi key id\0" + key).hexdigest()[:12]


def seal(key: bytes, header: dict[str, Any], data: bytes) -> bytes:
    head = json.dumps({**header, "key_id": key_id(key)}, sort_keys=True).encode() + b"\n"
    nonce = secrets.token_bytes(12)
    return MAGIC + head + nonce + AESGCM(key).encrypt(nonce, data, MAGIC + head)


def header_of(sealed: bytes) -> dict[str, Any]:
    if not sealed.startswith(MAGIC):
        raise Unsealable("this is not a QMOI backup")
    line, _, _ = sealed[len(MAGIC) :].partition(b"\n")
    try:
        header: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise Unsealable("the backup's header is damaged") from exc
    return header


def unseal(key: bytes, sealed: bytes) -> tuple[dict[str, Any], bytes]:
    header = header_of(sealed)
    head_end = len(MAGIC) + sealed[len(MAGIC) :].index(b"\n") + 1
    nonce, body = sealed[head_end : head_end + 12], sealed[head_end + 12 :]
    try:
        data = AESGCM(key).decrypt(nonce, body, sealed[:head_end])
    except InvalidTag:
        why = (
            "it was sealed with another key"
            if header.get("key_id") != key_id(key)
            else "it was changed after it was made"
        )
        raise Unsealable(f"the backup cannot be opened: {why}") from None
    return header, data
