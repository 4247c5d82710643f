"""The vault's cipher without I/O: what is sealed opens only under its own name and key,
and a changed byte is refused."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.security.secret_key import from_text, key_id
from qmoi.security.vault import Keyring, Sealed, VaultLocked

KEY, OTHER = secrets.token_bytes(32), secrets.token_bytes(32)


@given(name=st.sampled_from(["AIRTEL_PIN", "MPESA_PASSKEY"]), value=st.text(min_size=1))
def test_a_sealed_value_opens_to_itself_and_does_not_hold_it_in_clear(
    name: str, value: str
) -> None:
    sealed = Keyring(KEY).seal(name, value)
    assert sealed.key_id == key_id(KEY)
    assert Keyring(KEY).open(sealed) == value
    if len(value.encode()) >= 4:
        assert value.encode() not in sealed.blob


def test_the_same_value_seals_differently_each_time() -> None:
    ring = Keyring(KEY)
    assert ring.seal("AIRTEL_PIN", "1234").blob != ring.seal("AIRTEL_PIN", "1234").blob


def test_a_value_moved_to_another_name_is_refused() -> None:
    sealed = Keyring(KEY).seal("AIRTEL_PIN", "1234")
    with pytest.raises(VaultLocked, match="changed"):
        Keyring(KEY).open(Sealed("MPESA_PASSKEY", sealed.key_id, sealed.blob))


def test_another_key_is_named_in_the_refusal_and_a_changed_byte_is_caught() -> None:
    sealed = Keyring(KEY).seal("MPESA_PASSKEY", "passkey")
    with pytest.raises(VaultLocked, match=f"sealed with secret key {key_id(KEY)}"):
        Keyring(OTHER).open(sealed)
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    with pytest.raises(VaultLocked, match="changed"):
        Keyring(KEY).open(Sealed(sealed.name, sealed.key_id, bytes(flipped)))


def test_a_keyring_with_the_next_key_opens_both_and_seals_with_the_first() -> None:
    old = Keyring(KEY).seal("AIRTEL_PIN", "1234")
    both = Keyring(OTHER, KEY)
    assert both.open(old) == "1234"
    assert both.seal("AIRTEL_PIN", "1234").key_id == key_id(OTHER)


def test_a_text_key_is_stretched_to_32_bytes_and_is_stable() -> None:
    assert len(from_text("a" * 40)) == 32
    assert from_text("a" * 40) == from_text("a" * 40) != from_text("b" * 40)
