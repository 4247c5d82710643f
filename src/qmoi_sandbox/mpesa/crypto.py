"""The emulator's own keys, and the two credential checks Daraja performs.

* ``SecurityCredential``: the initiator's plain password, RSA-encrypted with
  PKCS#1 v1.5 padding under the public key of Safaricom's X.509 certificate, then
  base64-encoded. Safaricom's private key is not ours to have, so the emulator makes
  its own RSA key pair and a self-signed certificate at start-up and publishes the
  certificate at ``GET /sandbox/certificate``; a connector configured with that
  certificate path produces credentials this module decrypts and compares.
* STK ``Password``: ``base64(BusinessShortCode + Passkey + Timestamp)``.

Nothing here is secret: the key lives only as long as the emulator process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


class EmulatorKeys:
    """An RSA key pair and a self-signed certificate for SecurityCredential."""

    def __init__(self, *, key_bits: int = 2048, common_name: str = "QMOI Sandbox") -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "QMOI Daraja emulator"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} M-Pesa API (sandbox)"),
            ]
        )
        # The certificate's validity is real (wall-clock) time: a TLS-style check by a
        # client must pass whatever the simulated clock says.
        now = datetime.now(UTC)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self._private, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> str:
        return self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def decrypt_credential(self, credential: str) -> str | None:
        """The plain password inside a SecurityCredential, or None when it isn't one.

        With OpenSSL's implicit rejection a wrong ciphertext may decrypt to random
        bytes instead of failing; those never equal the password, which is what counts.
        """
        try:
            ciphertext = base64.b64decode(credential, validate=True)
            plain = self._private.decrypt(ciphertext, padding.PKCS1v15())
            return plain.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """``base64(shortcode + passkey + timestamp)`` as Daraja expects in STK requests."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def check_stk_password(password: str, shortcode: str, passkey: str, timestamp: str) -> bool:
    expected = stk_password(shortcode, passkey, timestamp)
    return hmac.compare_digest(password.encode(), expected.encode())
