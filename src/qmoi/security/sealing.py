"""Sealing files with QMOI's secret key (:mod:`qmoi.security.secret_key`): AES-256-GCM
(authenticated — a wrong key or a changed byte is refused, never half-read).

A sealed file is ``MAGIC``, one JSON header line (readable without the key, and
authenticated as associated data), a 12-byte nonce, then the ciphertext."""

from __future__ import annotations

import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qmoi.security.secret_key import key_id

MAGIC = b"QMOI-SEALED-1\n"


class Unsealable(Exception):
    """Wrong key, a changed byte, or not a sealed file at all."""


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
