"""Callback authenticity (§13.1–13.2): Daraja does not sign callbacks, so QMOI checks
the source address against an allow-list and the secret path token in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from pydantic import SecretStr

#: Safaricom's callback source addresses (§13.2; pesafy and mpesakit agree).
SAFARICOM_CALLBACK_SOURCES: tuple[str, ...] = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
)
#: Listed by mpesakit only (§13.2, unconfirmed); add them knowingly.
SAFARICOM_CALLBACK_SOURCES_UNCONFIRMED: tuple[str, ...] = ("196.201.212.128", "196.201.212.132")


# --------------------------------------------------------------------------------------
# authenticity checks (§13.1–13.2)
# --------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks; ``ValueError`` naming the first bad entry."""
    networks: list[Network] = []
    for entry in entries:
        cleaned = entry.strip()
        if not cleaned:
            continue
        try:
            networks.append(ipaddress.ip_network(cleaned, strict=False))
        except ValueError:
            raise ValueError(f"{cleaned!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def source_allowed(address: str | None, allowlist: Iterable[str | Network]) -> bool:
    """Whether a callback's source address is allowed.

    An empty allow-list allows every source (the check is off: configure
    ``MPESA_CALLBACK_ALLOWLIST`` in production). A missing or unreadable address is
    refused. IPv4-mapped IPv6 addresses are compared as IPv4. Behind a proxy, pass the
    client address from the one trusted ``X-Forwarded-For`` hop, never the header as is.
    """
    networks: list[Network] = []
    for entry in allowlist:
        networks.extend(parse_allowlist([entry]) if isinstance(entry, str) else [entry])
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def token_matches(presented: str | None, expected: SecretStr | str | None) -> bool:
    """Constant-time comparison of the path token; no configured token matches nothing."""
    secret = expected.get_secret_value() if isinstance(expected, SecretStr) else expected
    if not secret or presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), secret.encode("utf-8"))
