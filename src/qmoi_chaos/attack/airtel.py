"""Airtel forgeries: collection and transfer callbacks, invented and predicted ids,
replays, altered copies and garbage, all posted to Airtel's one callback path."""

from __future__ import annotations

import copy
import json
from typing import Any

from qmoi_chaos.attack.kit import RECEIPT_CHARS, Kit
from qmoi_chaos.attack.spec import AIRTEL_PATH, MARKER, OPEN_TRANSFER, Forgery, major, minor

AIRTEL_FAILURES = (
    "Refused - the subscriber declined the payment",
    "Transaction Timed Out - the subscriber did not answer",
    "Not enough balance in the subscriber's wallet",
    "Incorrect PIN entered by the subscriber",
)


class AirtelForgeries(Kit):
    """One method per Airtel kind of :data:`~qmoi_chaos.attack.spec.KINDS`."""

    def _airtel_targets(self) -> list[tuple[str, int, str | None]]:
        """Real open Airtel collections: (QC id, amount, msisdn if known)."""
        found: list[tuple[str, int, str | None]] = [
            (str(c["id"]), minor(c["amount"]), None)
            for c in self.intel.open_collections.get("airtel", [])
        ]
        found += [
            (str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.pending.get("airtel", [])
            if t["kind"] == "collection"
        ]
        return found

    def airtel_collection_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._airtel_targets())
        if target is None:
            return None
        transaction = {
            "id": target[0],
            "message": self.rng.choice(AIRTEL_FAILURES),
            "status_code": "TF",
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_collection_success(self, kind: str) -> Forgery | None:
        target = self._pick(self._airtel_targets())
        if target is None:
            return None
        reference, amount, msisdn = target
        money_id = self._money_id()
        transaction: dict[str, Any] = {
            "id": reference,
            "message": f"Paid KES {major(amount)} to QMOI, Trans ID {money_id}.",
            "status_code": "TS",
            "airtel_money_id": money_id,
        }
        if msisdn and self.rng.random() < 0.5:
            transaction |= {"msisdn": msisdn, "amount": major(amount)}
        return self._airtel(kind, {"transaction": transaction})

    def airtel_invented_success(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["airtel"])
        if customer is None:
            return None
        msisdn, amount = customer
        money_id = self._money_id()
        transaction = {
            "id": f"QC-{self._hex(24)}",
            "message": f"Paid KES {major(amount)} to QMOI, Trans ID {money_id}.",
            "status_code": "TS",
            "airtel_money_id": money_id,
            # local or international, as a variant might write it
            "msisdn": msisdn[3:] if self.rng.random() < 0.5 else msisdn,
            "amount": self.rng.choice([major(amount), amount // 100]),
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_transfer_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._chunks("airtel", ("succeeded", *OPEN_TRANSFER)))
        if target is None:
            return None
        message = (
            f"Insufficient funds. Bal KES {self.rng.randint(0, 999)}.00"
            if self.rng.random() < 0.7
            else "Transaction failed"
        )
        transaction = {"id": target[0], "message": message, "status_code": "TF"}
        return self._airtel(kind, {"transaction": transaction})

    def _airtel_paid(self, kind: str, target: tuple[str, int] | None) -> Forgery | None:
        if target is None:
            return None
        reference, amount = target
        suffix = "".join(self.rng.choice(RECEIPT_CHARS) for _ in range(10))
        transaction = {
            "id": reference,
            "message": f"You have sent KES {major(amount)} to the owner. TID: {self._money_id()}",
            "status_code": "TS",
            "airtel_money_id": f"disbursement-{suffix}-{reference}",
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_transfer_success(self, kind: str) -> Forgery | None:
        return self._airtel_paid(
            kind, self._pick(self._chunks("airtel", ("failed", *OPEN_TRANSFER)))
        )

    def airtel_transfer_predicted(self, kind: str) -> Forgery | None:
        return self._airtel_paid(kind, self._predicted("airtel"))

    def airtel_replay(self, kind: str) -> Forgery | None:
        genuine = self._genuine("airtel")
        if genuine is None:
            return None
        return Forgery(kind, AIRTEL_PATH, json.dumps(genuine[1]).encode(), None)

    def airtel_altered(self, kind: str) -> Forgery | None:
        genuine = self._genuine("airtel")
        if genuine is None:
            return None
        body = copy.deepcopy(genuine[1])
        transaction = body.get("transaction")
        if not isinstance(transaction, dict):
            return None
        if self.rng.random() < 0.3:
            transaction["amount"] = major(self._amount())  # the amount "changed"
        elif transaction.get("status_code") == "TS":
            transaction |= {"status_code": "TF", "message": self.rng.choice(AIRTEL_FAILURES)}
            transaction.pop("airtel_money_id", None)
        else:
            money_id = self._money_id()
            transaction |= {"status_code": "TS", "airtel_money_id": money_id}
            transaction["message"] = f"Paid to QMOI, Trans ID {money_id}."
        # the genuine hash, now over another body, or none
        keep = "hash" in body and self.rng.random() < 0.7
        if not keep:
            body.pop("hash", None)
        return self._airtel(kind, body, genuine_hash=keep)

    def airtel_garbage(self, kind: str) -> Forgery | None:
        mark = self._mark()
        real = self._pick(self._airtel_targets())
        reference = real[0] if real else f"QC-{self._hex(24)}"
        choice = self.rng.randrange(6)
        if choice == 0:
            text = f'{{"transaction": {{"id": "{reference}", "status_code": "TS"  {MARKER}="{mark}"'
            raw = text.encode()
        elif choice == 1:
            raw = b"\xff\xfe\x00" + f"{MARKER}={mark};".encode() + bytes(self.rng.randbytes(40))
        elif choice == 2:  # a number too long to be an amount
            raw = (
                f'{{"transaction": {{"id": "{reference}", "status_code": "TS", '
                f'"airtel_money_id": "{self._money_id()}", "amount": {"9" * 400}}}, '
                f'"{MARKER}": "{mark}"}}'
            ).encode()
        elif choice == 3:
            body: Any = {"transaction": {"id": 123456, "status_code": True}, MARKER: mark}
            raw = json.dumps(body).encode()
        elif choice == 4:
            raw = json.dumps([MARKER, mark, {"transaction": {"id": reference}}]).encode()
        else:
            body = {
                "transaction": {"id": reference, "status_code": "TS", "amount": "-1e400"},
                MARKER: mark,
            }
            raw = json.dumps(body).encode()
        return Forgery(kind, AIRTEL_PATH, raw, mark)
