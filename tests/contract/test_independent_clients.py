"""Independent client libraries, pointed at QMOI's emulators, work unchanged.

The issues' "done when": an Airtel client library and a Daraja client library that QMOI
did not write, given only the emulator's base URL (each through a documented constructor
argument) and the emulator's published sandbox credentials, must get a token, collect,
enquire, pay out and read the balance over real HTTP on 127.0.0.1:

* ``airtelmoney-py`` (import ``airtelmoney``, MIT): Airtel Open API, v2 USSD push with
  message signing, v2 disbursement with the RSA-encrypted PIN, enquiries, refund,
  balance, KYC;
* ``daraja-v3`` (import ``mpesa``, MIT): STK push and query, B2C v3, C2B URL
  registration, account balance — the results arriving by callback at a loopback
  receiver, parsed by the library's own STK callback parser.

Nothing of either library is patched; the only inputs are the constructor arguments its
documentation names. The emulators are configured only to answer faster (customer and
result delays), never to suit a library.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from airtelmoney import AirtelMoney
from airtelmoney.exceptions import AirtelAuthError
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from mpesa import MpesaClient
from mpesa.exceptions import AuthenticationError, MpesaError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qmoi_sandbox.airtel import AirtelSandboxConfig
from qmoi_sandbox.airtel import create_app as airtel_app
from qmoi_sandbox.common.server import serve_in_thread
from qmoi_sandbox.mpesa import SANDBOX_PASSKEY, MpesaSandboxConfig
from qmoi_sandbox.mpesa import create_app as mpesa_app

# the emulators' published sandbox defaults (README, "The built-in sandbox")
CLIENT_ID = "qmoi-sandbox"
CLIENT_SECRET = "qmoi-sandbox-secret"
SHORTCODE = "174379"
INITIATOR, INITIATOR_PASSWORD = "qmoi_initiator", "Sandbox#1234"
AIRTEL_APPROVES, AIRTEL_DECLINES = "733000100", "733000101"  # 254733000100 / …101
MPESA_APPROVES, MPESA_CANCELS = "0708000100", "0708000101"  # 254708000100 / …101

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout_s: float = 10.0) -> T:
    """Poll ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the emulator never reached the expected state")
        time.sleep(0.05)


@dataclass
class Receiver:
    """The merchant's callback endpoint: records every POST (path, JSON body)."""

    url: str = ""
    posts: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def record(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.posts.append((request.url.path, body))
            return JSONResponse({"ResultCode": 0, "ResultDesc": "Accepted"})

        return Starlette(routes=[Route("/hooks/{rest:path}", record, methods=["POST"])])

    def hook(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> Any:
        def probe() -> Any:
            with self.lock:
                return next((b for p, b in self.posts if p == f"/hooks/{name}" and match(b)), None)

        return eventually(probe)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with serve_in_thread(hooks.app()) as url:
        hooks.url = url
        yield hooks


@pytest.fixture
def airtel_url() -> Iterator[str]:
    config = AirtelSandboxConfig(seed=7, customer_delay_s=(0.05, 0.2))
    with serve_in_thread(airtel_app(config)) as url:
        yield url


@pytest.fixture
def mpesa_url() -> Iterator[str]:
    config = MpesaSandboxConfig(seed=7, customer_delay_s=(0.05, 0.2), result_delay_s=(0.0, 0.1))
    with serve_in_thread(mpesa_app(config)) as url:
        yield url


def wallet_minor(url: str) -> int:
    return int(httpx.get(f"{url}/sandbox/wallet").json()["balance_minor"])


# --------------------------------------------------------------------------- Airtel


def airtel_client(url: str, secret: str = CLIENT_SECRET) -> AirtelMoney:
    return AirtelMoney(CLIENT_ID, secret, base_url=url, country="KE", currency="KES")


def airtel_enquiry_status(client: AirtelMoney, txid: str) -> str | None:
    status: str = client.collection.enquiry(txid)["data"]["transaction"]["status"]
    return status if status in ("TS", "TF") else None


@pytest.mark.airtel
def test_airtelmoney_py_gets_a_token_the_balance_and_a_subscriber(airtel_url: str) -> None:
    client = airtel_client(airtel_url)
    assert client.get_access_token()
    balance = client.account.balance()
    assert balance["status"]["response_code"] == "DP02100000001"
    assert (balance["data"]["balance"], balance["data"]["currency"]) == ("1000000.00", "KES")
    user = client.kyc.user_enquiry(AIRTEL_APPROVES)
    assert user["status"]["success"] is True
    assert user["data"]["msisdn"] == AIRTEL_APPROVES
    assert user["data"]["is_barred"] is False


@pytest.mark.airtel
def test_airtelmoney_py_signed_ussd_push_is_paid_then_refunded(airtel_url: str) -> None:
    """The library signs v2 pushes (x-signature / x-key with the fetched RSA key) by
    default; the emulator verifies the signature, the customer approves, the enquiry
    says TS and the wallet holds the money until the refund takes it back."""
    client = airtel_client(airtel_url)
    txid = f"lib-{uuid.uuid4().hex[:16]}"
    pushed = client.collection.payment(
        reference="INV-0001", msisdn=AIRTEL_APPROVES, amount=150, transaction_id=txid
    )
    assert pushed["status"]["response_code"] == "DP00800001006"
    assert pushed["data"]["transaction"]["id"] == txid
    assert eventually(lambda: airtel_enquiry_status(client, txid)) == "TS"
    assert wallet_minor(airtel_url) == 100_000_000 + 15_000
    money_id = client.collection.enquiry(txid)["data"]["transaction"]["airtel_money_id"]
    refunded = client.collection.refund(money_id)
    assert refunded["status"]["success"] is True
    assert wallet_minor(airtel_url) == 100_000_000


@pytest.mark.airtel
def test_airtelmoney_py_push_to_a_declining_customer_ends_failed(airtel_url: str) -> None:
    client = airtel_client(airtel_url)
    txid = f"lib-{uuid.uuid4().hex[:16]}"
    client.collection.payment(
        reference="INV-0002", msisdn=AIRTEL_DECLINES, amount=90, transaction_id=txid
    )
    assert eventually(lambda: airtel_enquiry_status(client, txid)) == "TF"
    assert wallet_minor(airtel_url) == 100_000_000


@pytest.mark.airtel
def test_airtelmoney_py_v2_payout_with_its_rsa_encrypted_pin(airtel_url: str) -> None:
    """The library encrypts the PIN with the key it fetches from
    /v1/rsa/encryption-keys; the emulator decrypts it, pays and debits the wallet. A
    wrong PIN is refused with Airtel's code, and nothing moves."""
    client = airtel_client(airtel_url)
    txid = f"lib-{uuid.uuid4().hex[:16]}"
    paid = client.disbursement.payment(
        msisdn=AIRTEL_APPROVES,
        amount=100,
        reference="owner payout",
        pin="1234",
        transaction_id=txid,
    )
    assert paid["status"]["response_code"] == "DP00900001001"
    assert client.disbursement.enquiry(txid)["data"]["transaction"]["status"] == "TS"
    assert wallet_minor(airtel_url) == 100_000_000 - 10_000
    wrong = client.disbursement.payment(
        msisdn=AIRTEL_APPROVES,
        amount=100,
        reference="owner payout",
        pin="9999",
        transaction_id=f"lib-{uuid.uuid4().hex[:16]}",
    )
    assert wrong["status"]["response_code"] == "DP00900001013"
    assert wallet_minor(airtel_url) == 100_000_000 - 10_000


@pytest.mark.airtel
def test_airtelmoney_py_is_refused_with_other_credentials(airtel_url: str) -> None:
    with pytest.raises(AirtelAuthError, match="Invalid client authentication"):
        airtel_client(airtel_url, secret="someone-elses-secret").get_access_token()


# --------------------------------------------------------------------------- M-Pesa


def daraja_client(url: str, secret: str = CLIENT_SECRET) -> MpesaClient:
    return MpesaClient(
        CLIENT_ID, secret, shortcode=SHORTCODE, passkey=SANDBOX_PASSKEY, base_url=url
    )


def security_credential(url: str) -> str:
    """What the Daraja portal's tool does (doc §4): the initiator password encrypted with
    the certificate's key, PKCS#1 v1.5, base64. daraja-v3 takes it ready-made."""
    pem = httpx.get(f"{url}/sandbox/certificate").content
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    encrypted = key.encrypt(INITIATOR_PASSWORD.encode(), padding.PKCS1v15())
    return base64.b64encode(encrypted).decode()


def stk_verdict(client: MpesaClient, checkout_request_id: str) -> str | None:
    try:
        return client.stk_query(checkout_request_id).result_code
    except MpesaError as exc:  # HTTP 500 "The transaction is being processed" (doc §7)
        if exc.code != "500.001.1001":
            raise
        return None


@pytest.mark.mpesa
def test_daraja_v3_stk_push_query_and_callback(mpesa_url: str, receiver: Receiver) -> None:
    client = daraja_client(mpesa_url)
    pushed = client.stk_push(
        phone=MPESA_APPROVES,
        amount=150,
        reference="AIR0001",
        description="Airtime",
        callback_url=receiver.hook("lnm"),
    )
    assert pushed.raw["ResponseCode"] == "0"
    assert eventually(lambda: stk_verdict(client, pushed.checkout_request_id)) == "0"
    body = receiver.wait_for(
        "lnm", lambda b: b["Body"]["stkCallback"]["CheckoutRequestID"] == pushed.checkout_request_id
    )
    parsed = MpesaClient.parse_stk_callback(body)
    assert parsed["paid"] is True
    assert parsed["amount"] == 150
    assert parsed["phone"] == "254708000100"
    assert parsed["mpesa_receipt"]
    assert wallet_minor(mpesa_url) == 100_000_000 + 15_000


@pytest.mark.mpesa
def test_daraja_v3_stk_push_cancelled_by_the_customer(mpesa_url: str, receiver: Receiver) -> None:
    client = daraja_client(mpesa_url)
    pushed = client.stk_push(
        phone=MPESA_CANCELS, amount=75, reference="DATA0001", callback_url=receiver.hook("lnm")
    )
    assert eventually(lambda: stk_verdict(client, pushed.checkout_request_id)) == "1032"
    parsed = MpesaClient.parse_stk_callback(receiver.wait_for("lnm"))
    assert (parsed["paid"], parsed["result_code"]) == (False, "1032")
    assert wallet_minor(mpesa_url) == 100_000_000


@pytest.mark.mpesa
def test_daraja_v3_b2c_payout_result_and_fee(mpesa_url: str, receiver: Receiver) -> None:
    client = daraja_client(mpesa_url)
    ack = client.b2c(
        phone=MPESA_APPROVES,
        amount=100,
        remarks="owner payout",
        callback_url=receiver.hook("b2c/result"),
        queue_timeout_url=receiver.hook("b2c/timeout"),
        initiator_name=INITIATOR,
        security_credential=security_credential(mpesa_url),
    )
    assert ack.raw["ResponseCode"] == "0"
    result = receiver.wait_for(
        "b2c/result", lambda b: b["Result"]["ConversationID"] == ack.conversation_id
    )["Result"]
    assert str(result["ResultCode"]) == "0"
    assert result["OriginatorConversationID"] == ack.originator_conversation_id
    assert wallet_minor(mpesa_url) == 100_000_000 - 10_000 - 2_240  # 22.40 B2C charge


@pytest.mark.mpesa
def test_daraja_v3_registers_c2b_urls_and_gets_the_confirmation(
    mpesa_url: str, receiver: Receiver
) -> None:
    client = daraja_client(mpesa_url)
    registered = client.c2b_register_urls(
        validation_url=receiver.hook("c2b/validation"),
        confirmation_url=receiver.hook("c2b/confirmation"),
    )
    assert registered["ResponseCode"] == "0"
    paid = httpx.post(
        f"{mpesa_url}/sandbox/c2b/pay",
        json={"msisdn": "254708000100", "amount": 250, "bill_ref_number": "BILL42"},
    )
    assert paid.status_code == 200, paid.text
    confirmation = receiver.wait_for("c2b/confirmation")
    assert confirmation["BillRefNumber"] == "BILL42"
    assert confirmation["BusinessShortCode"] == SHORTCODE
    assert confirmation["TransID"]


@pytest.mark.mpesa
def test_daraja_v3_account_balance_answers_by_callback(mpesa_url: str, receiver: Receiver) -> None:
    client = daraja_client(mpesa_url)
    ack = client.account_balance(
        callback_url=receiver.hook("balance/result"),
        queue_timeout_url=receiver.hook("balance/timeout"),
        initiator_name=INITIATOR,
        security_credential=security_credential(mpesa_url),
    )
    assert ack["ResponseCode"] == "0"
    result = receiver.wait_for("balance/result")["Result"]
    assert str(result["ResultCode"]) == "0"
    parameters = {p["Key"]: p.get("Value") for p in result["ResultParameters"]["ResultParameter"]}
    assert "Utility Account|KES|1000000.00" in parameters["AccountBalance"]


@pytest.mark.mpesa
def test_daraja_v3_is_refused_with_other_credentials(mpesa_url: str, receiver: Receiver) -> None:
    client = daraja_client(mpesa_url, secret="someone-elses-secret")
    with pytest.raises(AuthenticationError, match="400.008.01"):
        client.stk_push(
            phone=MPESA_APPROVES, amount=10, reference="X", callback_url=receiver.hook("lnm")
        )
