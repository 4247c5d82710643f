"""What the load generator sends: Airtel success callbacks, hashed as Airtel hashes them.

Written from the provider document (§6: ``{"transaction": {id, message, status_code,
airtel_money_id}, "hash": base64(HMAC-SHA256(callback key, compact JSON of the outer
body))}``), not with QMOI's own code, so the bench cannot agree with a bug in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

CALLBACK_PATH = "/api/airtel/callback"
#: the amount every seeded collection asks for, in minor units (KES 100.00)
AMOUNT_MINOR = 10_000


def account_of(index: int, accounts: int) -> str:
    """The account collection ``index`` belongs to: one of ``accounts`` Airtel accounts
    (``bench-000``…), or the legacy ``airtel`` when there are none."""
    return f"bench-{index % accounts:03d}" if accounts else "airtel"


def callback_path(index: int, accounts: int) -> str:
    """Where its callback goes: the account's own URL, or the original one."""
    return f"{CALLBACK_PATH}/{account_of(index, accounts)}" if accounts else CALLBACK_PATH


def accounts_config(accounts: int) -> dict[str, object]:
    """A QMOI config file with ``accounts`` Airtel accounts in Kenya, the first default;
    each inherits the Airtel variables (base URL, callback secret) the bench sets."""
    return {
        "accounts": [
            {"id": account_of(i, accounts), "provider": "airtel", "default": i == 0}
            for i in range(accounts)
        ]
    }


def reference(index: int) -> str:
    """Our id of seeded collection ``index`` (what Airtel echoes as ``transaction.id``)."""
    return f"QC-bench{index:016d}"


def money_id(index: int) -> str:
    """Airtel's receipt for it."""
    return f"MP260101.1200.B{index:08d}"


def airtel_success(index: int, secret: str) -> bytes:
    transaction = {
        "id": reference(index),
        "message": f"Paid KES {AMOUNT_MINOR // 100}",
        "status_code": "TS",
        "airtel_money_id": money_id(index),
    }
    signed = json.dumps({"transaction": transaction}, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    body = {"transaction": transaction, "hash": base64.b64encode(digest).decode()}
    return json.dumps(body, separators=(",", ":")).encode()
