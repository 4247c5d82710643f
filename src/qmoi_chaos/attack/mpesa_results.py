"""M-Pesa query results (status, balance, reversal) under invented conversation ids,
exact replays and altered copies of genuine callbacks, and garbage."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from qmoi_chaos.attack.mpesa import B2C_FAILURES, STK_FAILURES, MpesaForgeries
from qmoi_chaos.attack.spec import (
    MARKER,
    OPEN_TRANSFER,
    SHORTCODE,
    SUCCESS_DESC,
    Forgery,
    major,
    minor,
    stk_items,
)

MPESA_SUBPATHS = (
    "/stk",
    "/c2b/confirmation",
    "/c2b/validation",
    "/b2c/result",
    "/b2c/timeout",
    "/status/result",
    "/balance/result",
    "/reversal/result",
)


class MpesaResultForgeries(MpesaForgeries):
    """The remaining M-Pesa kinds of :data:`~qmoi_chaos.attack.spec.KINDS`."""

    def _status_params(self, state: str) -> tuple[str, dict[str, Any]]:
        """A Transaction Status answer about a real payment or chunk: (receipt, params)."""
        paid = self._pick(self.intel.receipts)
        receipt, amount = (paid[0], paid[1]) if paid else (self._receipt(), self._amount())
        chunk = self._pick(self._b2c_targets(("pending", "succeeded"), OPEN_TRANSFER))
        return receipt, {
            "DebitPartyName": f"{SHORTCODE} - QMOI",
            "CreditPartyName": "254700000000 - Jane Wanjiru",
            "OriginatorConversationID": chunk[0] if chunk else self._originator(),
            "InitiatedTime": self._daraja_time(),
            "DebitAccountType": "Utility Account",
            "DebitPartyCharges": "",
            "TransactionReason": "",
            "ReasonType": "Business Payment to Customer via API",
            "TransactionStatus": state,
            "FinalisedTime": self._daraja_time(),
            "Amount": float(Decimal(amount) / 100),
            "ConversationID": chunk[1] if chunk and chunk[1] else self._conversation(),
            "ReceiptNo": receipt,
        }

    def _balance_params(self) -> dict[str, Any]:
        big = major(self.rng.randint(10**8, 10**11))
        balance = "&".join(
            [
                "Working Account|KES|0.00|0.00|0.00|0.00",
                f"Utility Account|KES|{big}|{big}|0.00|0.00",
                "Charges Paid Account|KES|0.00|0.00|0.00|0.00",
            ]
        )
        return {"AccountBalance": balance, "BOCompletedTime": self._daraja_time()}

    def _reversal_params(self) -> dict[str, Any]:
        paid = self._pick(self.intel.receipts)
        original, amount = (paid[0], paid[1]) if paid else (self._receipt(), self._amount())
        return {
            "DebitAccountBalance": "Utility Account|KES|1000.00|1000.00|0.00|0.00",
            "Amount": float(Decimal(amount) / 100),
            "TransCompletedTime": self._daraja_time(),
            "OriginalTransactionID": original,
            "Charge": 0.0,
            "CreditPartyPublicName": "254700000000 - Jane Wanjiru",
            "DebitPartyPublicName": f"{SHORTCODE} - QMOI",
        }

    def _invented_result(
        self, kind: str, sub: str, receipt: str, params: dict[str, Any]
    ) -> Forgery:
        conversation, originator = self._conversation(), self._originator()
        body = self._result(0, SUCCESS_DESC, originator, conversation, receipt, params)
        return self._mpesa(kind, sub, body)

    def mpesa_status_invented(self, kind: str) -> Forgery | None:
        receipt, params = self._status_params(self.rng.choice(["Completed", "Failed", "Completed"]))
        return self._invented_result(kind, "/status/result", receipt, params)

    def mpesa_balance_invented(self, kind: str) -> Forgery | None:
        return self._invented_result(
            kind, "/balance/result", self._receipt(), self._balance_params()
        )

    def mpesa_reversal_invented(self, kind: str) -> Forgery | None:
        return self._invented_result(
            kind, "/reversal/result", self._receipt(), self._reversal_params()
        )

    def mpesa_replay(self, kind: str) -> Forgery | None:
        genuine = self._genuine("mpesa")
        if genuine is None:
            return None
        return Forgery(kind, genuine[0], json.dumps(genuine[1]).encode(), None)

    def mpesa_altered(self, kind: str) -> Forgery | None:
        genuine = self._genuine("mpesa")
        if genuine is None:
            return None
        path, original = genuine
        body = copy.deepcopy(original)
        stk = (body.get("Body") or {}).get("stkCallback")
        result = body.get("Result")
        if isinstance(stk, dict):
            self._alter_stk(stk)
        elif isinstance(result, dict):
            self._alter_result(result, path)
        else:
            return None
        body[MARKER] = self._mark()
        return Forgery(kind, path, json.dumps(body).encode(), body[MARKER])

    def _alter_stk(self, stk: dict[str, Any]) -> None:
        items = stk_items(stk)
        if stk.get("ResultCode") == 0 and self.rng.random() < 0.5:
            amount = minor(items.get("Amount") or 0) + self.rng.randint(1, 500) * 100
            items["Amount"] = float(Decimal(amount) / 100)
            stk["CallbackMetadata"] = {"Item": [{"Name": k, "Value": v} for k, v in items.items()]}
        elif stk.get("ResultCode") == 0:
            stk |= {"ResultCode": 1032, "ResultDesc": STK_FAILURES[1032]}
            stk.pop("CallbackMetadata", None)
        else:
            customer = self._pick(self.intel.customers["mpesa"])
            amount = customer[1] if customer else self._amount()
            paid = self._paid_items(amount, customer[0] if customer else None)
            stk |= {"ResultCode": 0, "ResultDesc": SUCCESS_DESC}
            stk["CallbackMetadata"] = {"Item": [{"Name": k, "Value": v} for k, v in paid.items()]}

    def _alter_result(self, result: dict[str, Any], path: str) -> None:
        """A result turned round: a status answer's verdict flipped, an amount or balance
        changed, a success made a failure, a failure made a success of its own kind. The
        answer to one of QMOI's queries is known by its URL only (a proxy's log), not by
        its body: its conversation ids are the attacker's own."""
        if any(part in path for part in ("/status/", "/balance/", "/reversal/")):
            result |= {
                "ConversationID": self._conversation(),
                "OriginatorConversationID": self._originator(),
            }
        params = (result.get("ResultParameters") or {}).get("ResultParameter") or []
        by_key = {p.get("Key"): p for p in params if isinstance(p, dict)}
        if "TransactionStatus" in by_key:
            shown = by_key["TransactionStatus"].get("Value")
            by_key["TransactionStatus"]["Value"] = "Failed" if shown == "Completed" else "Completed"
            return
        if "AccountBalance" in by_key:
            by_key["AccountBalance"]["Value"] = self._balance_params()["AccountBalance"]
            return
        amount_key = next((k for k in ("TransactionAmount", "Amount") if k in by_key), None)
        if str(result.get("ResultCode")) == "0" and amount_key and self.rng.random() < 0.5:
            value = by_key[amount_key].get("Value") or 0
            by_key[amount_key]["Value"] = float(Decimal(str(value)) + self.rng.randint(1, 5000))
            return
        if str(result.get("ResultCode")) == "0":
            result |= {"ResultCode": 1, "ResultDesc": B2C_FAILURES["1"]}
            result.pop("ResultParameters", None)
            return
        receipt = self._receipt()
        if "/status/" in path:
            receipt, made = self._status_params("Completed")
        elif "/balance/" in path:
            made = self._balance_params()
        elif "/reversal/" in path:
            made = self._reversal_params()
        else:
            made = self._b2c_params(self._amount(), receipt, None)
        result |= {"ResultCode": 0, "ResultDesc": SUCCESS_DESC, "TransactionID": receipt}
        result["ResultParameters"] = {
            "ResultParameter": [{"Key": k, "Value": v} for k, v in made.items()]
        }

    def mpesa_garbage(self, kind: str) -> Forgery | None:
        mark = self._mark()
        sub = self.rng.choice(MPESA_SUBPATHS)
        target = self._pick(self._stk_targets())
        checkout = target[0] if target else self._checkout()
        choice = self.rng.randrange(6)
        if choice == 0:
            raw = f'{{"Body": {{"stkCallback": {{"CheckoutRequestID": "{checkout}" {MARKER}={mark}'
            data = raw.encode()
        elif choice == 1:
            data = f"{MARKER}={mark}&ResultCode=0&Amount=1000".encode()
        elif choice == 2:  # an amount far beyond any real one
            data = (
                f'{{"Body": {{"stkCallback": {{"MerchantRequestID": "1-2-3", "CheckoutRequestID": '
                f'"{checkout}", "ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": '
                f'{{"Item": [{{"Name": "Amount", "Value": {"9" * 400}}}, {{"Name": '
                f'"MpesaReceiptNumber", "Value": "{self._receipt()}"}}]}}}}}}, '
                f'"{MARKER}": "{mark}"}}'
            ).encode()
            sub = "/stk"
        elif choice == 3:
            body: Any = {
                "Body": {"stkCallback": {"CheckoutRequestID": 5, "ResultCode": "zero"}},
                "Result": {"ResultCode": [], "ConversationID": {"x": 1}},
                "TransID": None,
                "TransAmount": "1e400",
                MARKER: mark,
            }
            data = json.dumps(body).encode()
        elif choice == 4:
            data = json.dumps([MARKER, mark]).encode()
        else:
            body = self._c2b(self._receipt(), 100, None)
            body |= {"TransAmount": "-250.005", MARKER: mark}
            data = json.dumps(body).encode()
            sub = "/c2b/confirmation"
        return Forgery(kind, f"/hooks/{self.spec.mpesa_token}{sub}", data, mark)
