"""M-Pesa payment forgeries: STK callbacks, B2C results and queue timeouts, C2B
validations and confirmations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qmoi_chaos.attack.kit import Kit
from qmoi_chaos.attack.spec import OPEN_TRANSFER, SHORTCODE, SUCCESS_DESC, Forgery, major, minor

STK_FAILURES = {
    1: "The balance is insufficient for the transaction.",
    1019: "Transaction has expired.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}
B2C_FAILURES = {
    "1": "The balance is insufficient for the transaction.",
    "2001": "The initiator information is invalid.",
    "SFC_IC0003": "The receiving party is not a registered M-Pesa customer.",
    "17": "System internal error.",
}


class MpesaForgeries(Kit):
    """One method per M-Pesa STK, B2C and C2B kind of :data:`~qmoi_chaos.attack.spec.KINDS`,
    and the body builders the other M-Pesa kinds reuse."""

    def _stk_targets(self) -> list[tuple[str, int, str | None]]:
        """Real open pushes: (CheckoutRequestID or our QC id, amount, msisdn if known)."""
        found: list[tuple[str, int, str | None]] = [
            (str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.pending.get("mpesa", [])
            if t["kind"] == "collection"
        ]
        ours = self.intel.open_collections.get("mpesa", [])
        if ours and (not found or self.rng.random() < 0.2):
            found = [(str(c["id"]), minor(c["amount"]), None) for c in ours]
        return found

    def _stk(self, checkout: str, code: int, items: dict[str, Any] | None) -> dict[str, Any]:
        callback: dict[str, Any] = {
            "MerchantRequestID": self._originator(),
            "CheckoutRequestID": checkout,
            "ResultCode": code,
            "ResultDesc": STK_FAILURES.get(code, SUCCESS_DESC),
        }
        if items is not None:
            callback["CallbackMetadata"] = {
                "Item": [{"Name": k, "Value": v} for k, v in items.items()]
            }
        return {"Body": {"stkCallback": callback}}

    def _paid_items(self, amount: int, msisdn: str | None) -> dict[str, Any]:
        items: dict[str, Any] = {
            "Amount": float(Decimal(amount) / 100),
            "MpesaReceiptNumber": self._receipt(),
            "TransactionDate": self._daraja_time(),
        }
        if msisdn:
            items["PhoneNumber"] = int(msisdn)
        return items

    def mpesa_stk_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._stk_targets())
        if target is None:
            return None
        code = self.rng.choice(sorted(STK_FAILURES))
        return self._mpesa(kind, "/stk", self._stk(target[0], code, None))

    def mpesa_stk_success(self, kind: str) -> Forgery | None:
        target = self._pick(self._stk_targets())
        if target is None:
            return None
        checkout, amount, msisdn = target
        return self._mpesa(kind, "/stk", self._stk(checkout, 0, self._paid_items(amount, msisdn)))

    def mpesa_stk_invented(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["mpesa"])
        if customer is None:
            return None
        msisdn, amount = customer
        body = self._stk(self._checkout(), 0, self._paid_items(amount, msisdn))
        return self._mpesa(kind, "/stk", body)

    def _result(
        self,
        code: int | str,
        desc: str,
        originator: str,
        conversation: str,
        transaction_id: str,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": desc,
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": transaction_id,
        }
        if parameters is not None:
            result["ResultParameters"] = {
                "ResultParameter": [
                    {"Key": k} if v is None else {"Key": k, "Value": v}
                    for k, v in parameters.items()
                ]
            }
        return {"Result": result}

    def _b2c_targets(self, emulated: tuple[str, ...], ours: tuple[str, ...]) -> list[Any]:
        """Real chunks: (our reference, ConversationID or None, amount, msisdn or None)."""
        found: list[Any] = [
            (str(t["reference"]), str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.payouts.get("mpesa", [])
            if t["status"] in emulated
        ]
        found += [
            (str(x["id"]), None, minor(x["amount"]), None)
            for x in self.intel.transfers.get("mpesa", [])
            if x["status"] in ours
        ]
        return found

    def _b2c_params(self, amount: int, receipt: str, msisdn: str | None) -> dict[str, Any]:
        party = msisdn or f"2547{self.rng.randint(10**7, 10**8 - 1)}"
        return {
            "TransactionAmount": amount // 100,
            "TransactionReceipt": receipt,
            "ReceiverPartyPublicName": f"{party} - Jane Wanjiru",
            "TransactionCompletedDateTime": f"{self.now():%d.%m.%Y %H:%M:%S}",
            "B2CUtilityAccountAvailableFunds": 500000.0,
            "B2CWorkingAccountAvailableFunds": 0.0,
            "B2CRecipientIsRegisteredCustomer": "Y",
            "B2CChargesPaidAccountAvailableFunds": 0.0,
        }

    def _b2c_paid(self, kind: str, target: Any) -> Forgery | None:
        if target is None:
            return None
        reference, conversation, amount, msisdn = target
        receipt = self._receipt()
        conversation = conversation or self._conversation()
        params = self._b2c_params(amount, receipt, msisdn)
        body = self._result(0, SUCCESS_DESC, reference, conversation, receipt, params)
        return self._mpesa(kind, "/b2c/result", body)

    def mpesa_b2c_success(self, kind: str) -> Forgery | None:
        """A chunk that was not paid (still open, or refused) reported paid."""
        targets = self._b2c_targets(("pending", "failed", "expired"), ("failed", *OPEN_TRANSFER))
        return self._b2c_paid(kind, self._pick(targets))

    def mpesa_b2c_predicted(self, kind: str) -> Forgery | None:
        predicted = self._predicted("mpesa")
        if predicted is None:
            return None
        return self._b2c_paid(kind, (predicted[0], None, predicted[1], None))

    def mpesa_b2c_failure(self, kind: str) -> Forgery | None:
        """A chunk that was paid reported refused (mostly for want of funds)."""
        target = self._pick(self._b2c_targets(("succeeded",), ("succeeded",)))
        if target is None:
            return None
        reference, conversation, _, _ = target
        code = "1" if self.rng.random() < 0.6 else self.rng.choice(sorted(B2C_FAILURES))
        body = self._result(
            int(code) if code.isdigit() else code,
            B2C_FAILURES[code],
            reference,
            conversation or self._conversation(),
            self._receipt()[:3] + "0000000",
        )
        return self._mpesa(kind, "/b2c/result", body)

    def mpesa_b2c_timeout(self, kind: str) -> Forgery | None:
        targets = self._b2c_targets(("pending",), OPEN_TRANSFER) or self._b2c_targets(
            ("succeeded", "failed"), ("succeeded", "failed")
        )
        target = self._pick(targets)
        if target is None:
            return None
        reference, conversation = target[0], target[1] or self._conversation()
        desc = "The system is overloaded: the request timed out waiting in the queue."
        body = self._result(100000001, desc, reference, conversation, "NLJ0000000")
        if self.rng.random() < 0.3:  # the undocumented unwrapped shape
            body = dict(body["Result"])
        return self._mpesa(kind, "/b2c/timeout", body)

    def _c2b(self, receipt: str, amount: int, msisdn: str | None) -> dict[str, Any]:
        number = msisdn or f"2547{self.rng.randint(10**7, 10**8 - 1)}"
        return {
            "TransactionType": self.rng.choice(["Pay Bill", "Buy Goods"]),
            "TransID": receipt,
            "TransTime": f"{self.now():%Y%m%d%H%M%S}",
            "TransAmount": major(amount),
            "BusinessShortCode": SHORTCODE,
            "BillRefNumber": self.rng.choice(["", "chaos", "DATA-1", "AIRTIME"]),
            "InvoiceNumber": "",
            "OrgAccountBalance": major(self.rng.randint(10**6, 10**9)),
            "ThirdPartyTransID": "",
            "MSISDN": f"{number[:4]} ***** {number[-3:]}",
            "FirstName": "JANE",
            "MiddleName": "",
            "LastName": "WANJIRU",
        }

    def mpesa_c2b_invented(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["mpesa"])
        msisdn, amount = customer if customer else (None, self._amount())
        body = self._c2b(self._receipt(), amount, msisdn)
        return self._mpesa(kind, "/c2b/confirmation", body)

    def mpesa_c2b_stale(self, kind: str) -> Forgery | None:
        paid = self._pick(self.intel.receipts)
        if paid is None:
            return None
        receipt, amount, msisdn = paid
        return self._mpesa(kind, "/c2b/confirmation", self._c2b(receipt, amount, msisdn))

    def mpesa_c2b_validation(self, kind: str) -> Forgery | None:
        body = self._c2b(self._receipt(), self._amount(), None)
        return self._mpesa(kind, "/c2b/validation", body)
