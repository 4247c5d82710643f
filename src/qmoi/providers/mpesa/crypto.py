"""The two secrets Daraja asks for on the wire: the STK ``Password`` and the initiator
``SecurityCredential``.

Follows ``docs/providers/mpesa.md``:

* §5 — ``Password = base64(BusinessShortCode + Passkey + Timestamp)`` as one ASCII
  string, the timestamp ``YYYYMMDDHHmmss`` in Africa/Nairobi time;
* §4 — ``SecurityCredential = base64(RSA-PKCS#1 v1.5(utf-8 password))`` with the public
  key in Safaricom's X.509 certificate (sandbox and production certificates differ; the
  certificate is configuration). The password is encrypted as-is: not base64-encoded
  first, no timestamp appended (both seen in SDKs, both assumed wrong by the doc).

This module must never log, print, cache or return anything but the encoded output, and
never accept an OAEP or any other padding.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from qmoi.providers.mpesa.translate import nairobi_timestamp


class CredentialError(ValueError):
    """The certificate or password cannot produce a SecurityCredential."""


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """``base64(shortcode + passkey + timestamp)`` (§5)."""
    if not re.fullmatch(r"\d{14}", timestamp):
        raise ValueError("timestamp must be YYYYMMDDHHmmss")
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode("ascii")).decode("ascii")


def stk_timestamp(now: datetime) -> str:
    """The ``Timestamp`` field: ``now`` (aware) in Nairobi time, ``YYYYMMDDHHmmss``."""
    return nairobi_timestamp(now)


def load_public_key(certificate: str) -> rsa.RSAPublicKey:
    """The RSA key of an X.509 certificate given as PEM text or base64 DER; a bare PEM
    public key is accepted too."""
    material = certificate.strip()
    key: object
    try:
        if "-----BEGIN CERTIFICATE-----" in material:
            key = x509.load_pem_x509_certificate(material.encode("ascii")).public_key()
        elif "-----BEGIN PUBLIC KEY-----" in material:
            key = load_pem_public_key(material.encode("ascii"))
        else:
            der = base64.b64decode("".join(material.split()), validate=True)
            try:
                key = x509.load_der_x509_certificate(der).public_key()
            except ValueError:
                key = load_der_public_key(der)
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise CredentialError(
            "the M-Pesa certificate is not a readable X.509 certificate (PEM or base64 DER)"
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise CredentialError("the M-Pesa certificate does not hold an RSA key")
    return key


def security_credential(password: str, certificate: str) -> str:
    """``SecurityCredential`` for ``password`` (§4). Randomised: two calls differ."""
    if not password:
        raise CredentialError("the initiator password is empty")
    key = load_public_key(certificate)
    try:
        ciphertext = key.encrypt(password.encode("utf-8"), padding.PKCS1v15())
    except ValueError as exc:  # the password is longer than the key allows
        raise CredentialError("the initiator password is too long for the certificate") from exc
    return base64.b64encode(ciphertext).decode("ascii")
