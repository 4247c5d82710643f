"""The credential vault's cipher: each provider secret sealed on its own with AES-256-GCM
under a key derived from QMOI's secret key. The secret's name is authenticated with it,
so a sealed value moved to another name (say, a PIN swapped for a passkey) is refused.

A keyring holds the current key and, during a rotation, the next one; each sealed
value names the key id that sealed it, so a value is opened with the right key and an
error can say which key is missing without revealing anything."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qmoi.security.secret_key import derive, key_id

NONCE_BYTES = 12


class VaultLocked(Exception):
    """A sealed secret this keyring cannot open (another key, or changed bytes)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    name: str
    key_id: str  # of QMOI's secret key, not of the derived vault key
    blob: bytes  # nonce + ciphertext + tag


def _aad(name: str) -> bytes:
    return b"qmoi vault 1\0" + name.encode()


class Keyring:
    """Seals with the first key; opens with whichever key sealed the value."""

    def __init__(self, *keys: bytes) -> None:
        if not keys:
            raise ValueError("a keyring needs a key")
        self._ciphers = {key_id(k): AESGCM(derive(k, "vault")) for k in keys}
        self.current_id = key_id(keys[0])

    def seal(self, name: str, value: str) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = self._ciphers[self.current_id].encrypt(nonce, value.encode(), _aad(name))
        return Sealed(name, self.current_id, nonce + body)

    def open(self, sealed: Sealed) -> str:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise VaultLocked(
                f"it was sealed with secret key {sealed.key_id}, and the key given is "
                f"{self.current_id}"
            )
        nonce, body = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return cipher.decrypt(nonce, body, _aad(sealed.name)).decode()
        except (InvalidTag, UnicodeDecodeError):
            raise VaultLocked("its sealed bytes were changed") from None
