"""Airtel's RSA encryption key: the configured one, or §4.1's, fetched and cached.

The key encrypts the disbursement PIN and signs v2 bodies. A fetched key is kept until
its stated validity (read conservatively, as its time zone is unconfirmed) and at most a
day, and forgotten when a payout is refused for a wrong PIN: a rotated key reads as one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import rsa

from qmoi.providers.airtel import crypto, wire
from qmoi.providers.airtel.answers import account_envelope, read_data
from qmoi.providers.base import NotSent, ProviderError, ProviderName

if TYPE_CHECKING:
    from qmoi.providers.airtel.session import AirtelSession

PROVIDER: ProviderName = "airtel"

#: §4.1 ``valid_upto`` is ``DD-MM-YYYY HH:MM:SS`` in an unconfirmed time zone: read it as
#: UTC minus the largest footprint offset (UTC+4), and refetch at least daily anyway.
KEY_ZONE_MARGIN = timedelta(hours=4, minutes=30)
KEY_MAX_CACHE = timedelta(hours=24)
KEY_CACHE_WITHOUT_EXPIRY = timedelta(hours=1)


@dataclass(slots=True)
class _CachedKey:
    key: rsa.RSAPublicKey
    until: datetime | None  # None: configured, never expires


class EncryptionKeys:
    """The one key a session encrypts and signs with; one fetch at a time."""

    def __init__(self, session: AirtelSession, configured: rsa.RSAPublicKey | None) -> None:
        self._session = session
        self._key = _CachedKey(configured, None) if configured is not None else None
        self._lock = asyncio.Lock()

    def _usable(self) -> rsa.RSAPublicKey | None:
        cached = self._key
        if cached is not None and (cached.until is None or self._session.now() < cached.until):
            return cached.key
        return None

    async def get(self, operation: str, reference: str | None) -> rsa.RSAPublicKey:
        """The configured key, or §4.1's, fetched and cached until its validity."""
        key = self._usable()
        if key is not None:
            return key
        async with self._lock:
            key = self._usable()
            if key is not None:
                return key
            try:
                fetched = await self._session.retrying(self._fetch_once)
            except ProviderError as exc:
                raise NotSent(
                    PROVIDER, operation,
                    f"no encryption key, request not sent: {exc.detail}",
                    provider_code=exc.provider_code, reference=reference,
                ) from exc  # fmt: skip
            self._key = fetched
            return fetched.key

    def forget_fetched(self) -> None:
        """Drop a fetched key (never the configured one), so the next call refetches."""
        if self._key is not None and self._key.until is not None:
            self._key = None

    async def _fetch_once(self) -> _CachedKey:
        operation = "encryption_key"
        session = self._session
        answer = await session.exchange(operation, "GET", wire.ENCRYPTION_KEYS_PATH, write=False)
        envelope = account_envelope(answer, operation)
        data = read_data(wire.KeyData, envelope.data, operation, envelope)
        try:
            key = crypto.load_public_key(data.key)
        except crypto.InvalidPublicKey as exc:
            raise ProviderError(PROVIDER, operation, f"unusable key: {exc}") from None
        fetched_at = session.now()
        until = fetched_at + KEY_CACHE_WITHOUT_EXPIRY
        if data.valid_upto:
            try:
                stated = datetime.strptime(data.valid_upto.strip(), "%d-%m-%Y %H:%M:%S").replace(
                    tzinfo=UTC
                )
                until = min(stated - KEY_ZONE_MARGIN, fetched_at + KEY_MAX_CACHE)
            except ValueError:
                pass
        session.log.info("airtel.key.fetched", key_id=data.key_id, valid_upto=data.valid_upto)
        return _CachedKey(key, until)
