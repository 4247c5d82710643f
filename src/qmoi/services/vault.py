"""The credential vault: provider secrets kept sealed in the database, so that neither
the database file nor the logs hold them in clear (:mod:`qmoi.security.vault`).

A secret in the environment, ``.env`` or the config file wins over the vault's; the
vault fills in only what those leave unset, before the configuration is checked, so a
vault value is checked like any other. Values are set from a prompt or stdin, never
the command line (which shell history and process lists would keep).

Rotation re-seals every value under a new secret key in one transaction. With a key
file, QMOI makes the new key itself (see :mod:`qmoi.security.secret_key` for how that
survives a crash); with ``QMOI_SECRET_KEY``, the owner gives the new value, and sets it
in the environment before the next start."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from qmoi.config import SECRET_VARIABLES, RawValues, build_settings, references, store_location
from qmoi.errors import ConfigError
from qmoi.security.secret_key import (
    MIN_TEXT_LENGTH,
    begin_rotation,
    finish_rotation,
    from_text,
    key_from,
    key_id,
    pending_key,
)
from qmoi.security.vault import Keyring, Sealed, VaultLocked
from qmoi.services.ports import SealedSecrets, UnitOfWorkFactory
from qmoi.services.records import StoredSecret

#: every secret setting but the key that opens the vault
VAULT_NAMES = tuple(sorted(SECRET_VARIABLES - {"QMOI_SECRET_KEY"}))
MAX_VALUE_LENGTH = 8192  # a PEM certificate is not a secret; nothing secret is longer


@dataclass(frozen=True)
class VaultKey:
    """Where QMOI's secret key comes from: ``QMOI_SECRET_KEY`` or the key file."""

    secret_key: SecretStr | None
    key_file: Path
    sandbox: bool = False  # only the sandbox makes a key file when there is none

    @classmethod
    def of(cls, raw: RawValues) -> VaultKey:
        where = store_location(raw)
        return cls(where.secret_key, where.key_file, where.sandbox)

    def keyring(self, *, create: bool = False) -> Keyring:
        """The current key, and the next one while a key-file rotation is unfinished."""
        current = key_from(self.secret_key, self.key_file, may_create=create and self.sandbox)
        pending = pending_key(self.key_file) if self.secret_key is None else None
        return Keyring(current, pending) if pending is not None else Keyring(current)


@dataclass(frozen=True)
class VaultEntry:
    name: str
    key_id: str
    updated_at: datetime


def complete(raw: RawValues, sealed: SealedSecrets) -> RawValues:
    """``raw`` with the vault's secrets added where no other source set them; ``sealed``
    reads them from the store before the settings exist (bootstrap hands it in)."""
    key = VaultKey.of(raw)
    wanted = references(raw.accounts) - set(raw.referenced)
    stored = [
        s
        for s in sealed(store_location(raw).database_url)
        if (s.name in VAULT_NAMES and s.name not in raw.values) or s.name in wanted
    ]
    if not stored:
        return raw
    try:
        keyring = key.keyring()
    except ConfigError as exc:
        why = (
            "there is no key to open it — set QMOI_SECRET_KEY (or put back var/secret.key) "
            "to the key it was sealed with"
            if key.secret_key is None and not key.key_file.exists()
            else exc.message
        )
        return _with(raw, {}, [f"{s.name}: is in the vault, but {why}" for s in stored])
    values: dict[str, str] = {}
    problems: list[str] = []
    for secret in stored:
        try:
            values[secret.name] = keyring.open(_sealed(secret))
        except VaultLocked as exc:
            problems.append(
                f"{secret.name}: the vault's value cannot be opened: {exc} — set "
                "QMOI_SECRET_KEY (or var/secret.key) to the key it was sealed with, or "
                "set the secret again with `qmoi secrets set`"
            )
    return _with(raw, values, problems)


def _sealed(stored: StoredSecret) -> Sealed:
    return Sealed(stored.name, stored.key_id, stored.sealed)


def _with(raw: RawValues, values: dict[str, str], problems: list[str]) -> RawValues:
    """``raw`` with the vault's values: settings by their names, and the values the
    accounts' credentials refer to."""
    named = references(raw.accounts)
    settings = {k: v for k, v in values.items() if k in VAULT_NAMES and k not in raw.values}
    referenced = {k: v for k, v in values.items() if k in named}
    return replace(
        raw,
        values={**raw.values, **settings},
        referenced={**referenced, **raw.referenced},
        from_vault=frozenset(values),
        vault_problems=tuple(problems),
    )


def check_name(name: str, raw: RawValues | None = None) -> None:
    """A secret setting's name, or a name an account's credentials refer to."""
    if name in VAULT_NAMES or (raw is not None and name in references(raw.accounts)):
        return
    raise ConfigError(
        f"{name!r} is not a secret the vault keeps — use one of {', '.join(VAULT_NAMES)}, "
        "or a name an account's credentials refer to in the config file"
    )


def check_value(raw: RawValues, name: str, value: str) -> None:
    """Refuse a name the vault does not keep, or a value the configuration would refuse
    (a 5-digit PIN, say) — before anything is stored. Messages never hold the value."""
    check_name(name, raw)
    if name not in VAULT_NAMES:  # a referenced credential: checked where it is used
        if not value.strip():
            raise ConfigError(f"{name}: the value is empty — give the secret at the prompt")
        return
    if not value.strip():
        raise ConfigError(f"{name}: the value is empty — give the secret at the prompt or on stdin")
    if len(value) > MAX_VALUE_LENGTH or "\n" in value.strip():
        raise ConfigError(f"{name}: give the secret as one line of at most {MAX_VALUE_LENGTH}")
    _, report = build_settings(RawValues({**raw.values, name: value.strip()}))
    mine = [p for p in report.problems if p.startswith(f"{name}:")]
    if mine:
        raise ConfigError("\n".join(mine))


def set_secret(uows: UnitOfWorkFactory, key: VaultKey, name: str, value: str) -> str:
    """Seal and store ``value`` under ``name``; returns the sealing key's id."""
    keyring = key.keyring(create=True)
    with uows() as uow:
        sealed = keyring.seal(name, value.strip())
        uow.vault.put(name, sealed.key_id, sealed.blob, uow.now)
        uow.audit.append("cli", "vault.secret_set", {"name": name}, uow.now)
        uow.commit()
    return keyring.current_id


def unset_secret(uows: UnitOfWorkFactory, name: str) -> bool:
    with uows() as uow:
        done = uow.vault.remove(name)
        if done:
            uow.audit.append("cli", "vault.secret_unset", {"name": name}, uow.now)
        uow.commit()
    return done


def entries(uows: UnitOfWorkFactory) -> list[VaultEntry]:
    with uows(read_only=True) as uow:
        return [VaultEntry(s.name, s.key_id, s.updated_at) for s in uow.vault.all()]


def rotate(uows: UnitOfWorkFactory, key: VaultKey, new_text: SecretStr | None) -> tuple[int, str]:
    """Re-seal every secret under a new key: ``new_text`` when QMOI_SECRET_KEY is used,
    a new key file otherwise. Returns (count, new key id). All or nothing."""
    if key.secret_key is not None:
        if new_text is None or len(new_text.get_secret_value()) < MIN_TEXT_LENGTH:
            raise ConfigError(
                f"QMOI_SECRET_KEY: the new key must be at least {MIN_TEXT_LENGTH} characters "
                "— e.g. `openssl rand -hex 32`"
            )
        old = key.keyring()
        new = from_text(new_text.get_secret_value())
        if key_id(new) == old.current_id:
            raise ConfigError("QMOI_SECRET_KEY: the new key is the current one — give a new one")
    elif new_text is not None:
        raise ConfigError(
            "QMOI_SECRET_KEY: is not set, so the key file is rotated and QMOI makes the new "
            "key itself — give no new key"
        )
    else:
        old = key.keyring(create=True)
        new = begin_rotation(key.key_file)
    sealer = Keyring(new)
    with uows() as uow:
        stored = uow.vault.all(for_update=True)
        for secret in stored:
            try:
                value = old.open(_sealed(secret))
            except VaultLocked as exc:
                raise ConfigError(
                    f"{secret.name}: cannot be re-sealed: {exc} — nothing was changed"
                ) from None
            sealed = sealer.seal(secret.name, value)
            uow.vault.put(secret.name, sealed.key_id, sealed.blob, uow.now)
        uow.audit.append(
            "cli",
            "vault.rotated",
            {"from": old.current_id, "to": sealer.current_id, "count": len(stored)},
            uow.now,
        )
        uow.commit()
    if key.secret_key is None:
        finish_rotation(key.key_file)
    return len(stored), sealer.current_id
