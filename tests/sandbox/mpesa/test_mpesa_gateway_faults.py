"""Unknown paths, malformed requests and every injected fault, seen from the merchant."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from tests.sandbox.mpesa.mpesa_support import APPROVES, CANCELS, Mpesa, wait_until

pytestmark = pytest.mark.mpesa

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
ENVELOPE = {"requestId", "errorCode", "errorMessage"}


@pytest.mark.parametrize("path", ["/mpesa/stkpush/v2/processrequest", "/", "/oauth/v2/generate"])
def test_unknown_paths_are_resource_not_found(mpesa: Mpesa, path: str) -> None:
    answer = mpesa.post(path, {})

    assert answer.status_code == 404
    assert set(answer.json()) == ENVELOPE
    assert answer.json()["errorCode"] == "404.001.01"


def test_get_on_a_post_api_is_an_invalid_authentication_header(mpesa: Mpesa) -> None:
    answer = mpesa.http.get(PUSH, headers={"Authorization": f"Bearer {mpesa.token()}"})

    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "404.001.04"
    assert mpesa.http.put(PUSH).json()["errorCode"] == "405.001"


def test_sandbox_paths_keep_the_control_api_shapes(mpesa: Mpesa) -> None:
    assert mpesa.http.get("/sandbox/nothing-here").status_code == 404
    assert mpesa.http.get("/sandbox/nothing-here").json() == {"detail": "Not Found"}
    assert mpesa.http.post("/sandbox/health").status_code == 405


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"{not json", "application/json", "Invalid request payload"),
        (b"[1, 2, 3]", "application/json", "Invalid request payload"),
        (b'"just a string"', "application/json", "Invalid request payload"),
        (b'{"Amount": NaN}', "application/json", "Invalid request payload"),
        (b"\xff\xfe", "application/json", "Invalid request payload"),
        (b"[" * 100_000, "application/json", "Invalid request payload"),
        (
            b"BusinessShortCode=174379",
            "application/x-www-form-urlencoded",
            "Bad Request - Invalid BusinessShortCode",
        ),
        (b'{"BusinessShortCode": 174379}', "text/plain", "Bad Request - Invalid BusinessShortCode"),
        (
            b'{"BusinessShortCode": 1e400}',
            "application/json",
            "Bad Request - Invalid BusinessShortCode",
        ),
        (
            b'{"BusinessShortCode": {"a": 1}}',
            "application/json",
            "Bad Request - Invalid BusinessShortCode",
        ),
    ],
)
def test_malformed_bodies_get_daraja_errors_never_a_traceback(
    mpesa: Mpesa, content: bytes, content_type: str, message: str
) -> None:
    headers = {"Authorization": f"Bearer {mpesa.token()}", "Content-Type": content_type}

    answer = mpesa.http.post(PUSH, content=content, headers=headers)

    assert answer.status_code == 400
    assert set(answer.json()) == ENVELOPE
    assert answer.json()["errorMessage"] == message


@pytest.mark.parametrize(
    "path",
    [
        "/mpesa/c2b/v1/registerurl",
        "/mpesa/c2b/v1/simulate",
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/b2c/v1/paymentrequest",
        "/mpesa/accountbalance/v1/query",
        "/mpesa/transactionstatus/v1/query",
        "/mpesa/reversal/v1/request",
        QUERY,
    ],
)
@pytest.mark.parametrize(
    "body",
    [{}, {"Amount": -1, "PartyA": None, "ShortCode": [], "Initiator": {"x": 1}}],
)
def test_every_api_answers_wrong_types_with_invalid_field(
    mpesa: Mpesa, path: str, body: dict[str, Any]
) -> None:
    answer = mpesa.post(path, body)

    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"


def test_latency_is_added_to_every_api_answer(mpesa: Mpesa) -> None:
    mpesa.faults(latency_ms=300)
    token = mpesa.token()

    started = time.monotonic()
    mpesa.post(PUSH, mpesa.stk_body(), token=token)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    fast = time.monotonic()
    mpesa.http.get("/sandbox/wallet")
    assert time.monotonic() - fast < 0.3  # the control API is never slowed down
    assert mpesa.injected()["latency"] >= 1


def test_error_rate_answers_5xx_before_doing_anything(mpesa: Mpesa) -> None:
    token = mpesa.token()
    mpesa.faults(error_rate=1.0)

    answers = [mpesa.post(PUSH, mpesa.stk_body(), token=token) for _ in range(6)]

    assert {a.status_code for a in answers} == {500}
    assert {a.json()["errorCode"] for a in answers} <= {"500.003.02", "500.003.1001"}
    assert all(set(a.json()) == ENVELOPE for a in answers)
    assert mpesa.http.get("/sandbox/transactions").json() == []
    assert mpesa.injected()["error"] == 6


def test_timeout_after_accept_executes_then_withholds_the_answer(mpesa: Mpesa) -> None:
    token = mpesa.token()
    mpesa.faults(timeout_after_accept_rate=1.0, timeout_hold_s=0.3)

    started = time.monotonic()
    answer = mpesa.post(PUSH, mpesa.stk_body(APPROVES, 90), token=token)

    assert answer.status_code == 504
    assert time.monotonic() - started >= 0.3
    [tx] = mpesa.http.get("/sandbox/transactions").json()
    assert tx["amount_minor"] == 9_000
    assert mpesa.wait_final(tx["id"])["status"] == "succeeded"
    mpesa.receiver.wait_for("/lnm")
    assert mpesa.injected()["timeout_after_accept"] == 1


def test_a_client_timing_out_first_sees_a_read_timeout_but_the_push_happened(
    mpesa: Mpesa,
) -> None:
    token = mpesa.token()
    mpesa.faults(timeout_after_accept_rate=1.0, timeout_hold_s=0.5)

    with pytest.raises(httpx.ReadTimeout):
        mpesa.http.post(
            PUSH,
            json=mpesa.stk_body(APPROVES, 91),
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.2,
        )

    [tx] = mpesa.http.get("/sandbox/transactions").json()
    assert mpesa.wait_final(tx["id"])["status"] == "succeeded"


def test_lost_callbacks_are_logged_but_never_sent(mpesa: Mpesa) -> None:
    mpesa.faults(lost_callback_rate=1.0)

    ack = mpesa.push(APPROVES, 15)

    assert mpesa.wait_final(ack["CheckoutRequestID"])["status"] == "succeeded"
    [delivery] = wait_until(mpesa.deliveries)
    assert delivery["fault"] == "lost"
    assert delivery["attempts"] == []
    assert delivery["transaction_id"] == ack["CheckoutRequestID"]
    time.sleep(0.1)
    assert mpesa.receiver.bodies("/lnm") == []
    assert mpesa.injected()["lost_callback"] == 1


def test_duplicated_callbacks_arrive_twice_identical(mpesa: Mpesa) -> None:
    mpesa.faults(duplicate_callback_rate=1.0)

    mpesa.push(APPROVES, 16)

    first, second = mpesa.receiver.wait_for("/lnm", 2)
    assert first == second
    assert mpesa.deliveries()[0]["fault"] == "duplicate"


def test_late_callbacks_come_after_the_configured_delay(mpesa: Mpesa) -> None:
    mpesa.faults(late_callback_rate=1.0, late_callback_delay_s=400)  # 0.4 s real

    ack = mpesa.push(APPROVES, 17)
    final = mpesa.wait_final(ack["CheckoutRequestID"])
    finished = time.monotonic()

    assert final["status"] == "succeeded"
    mpesa.receiver.wait_for("/lnm")
    assert time.monotonic() - finished >= 0.3
    assert mpesa.deliveries()[0]["fault"] == "late"


def test_enquiry_pending_keeps_the_stk_query_processing_for_a_while(mpesa: Mpesa) -> None:
    mpesa.faults(enquiry_pending_s=400)  # 0.4 s real after the end
    ack = mpesa.push(CANCELS, 18)
    mpesa.wait_final(ack["CheckoutRequestID"])

    held = mpesa.post(QUERY, mpesa.query_body(ack["CheckoutRequestID"]))
    assert held.status_code == 500
    assert held.json()["errorMessage"] == "The transaction is being processed"

    time.sleep(0.45)
    final = mpesa.post(QUERY, mpesa.query_body(ack["CheckoutRequestID"]))
    assert final.json()["ResultCode"] == "1032"
    assert mpesa.injected()["enquiry_pending"] >= 1


def test_ambiguous_enquiries_answer_still_processing(mpesa: Mpesa) -> None:
    ack = mpesa.push(APPROVES, 19)
    mpesa.wait_final(ack["CheckoutRequestID"])
    mpesa.faults(ambiguous_enquiry_rate=1.0)

    answer = mpesa.post(QUERY, mpesa.query_body(ack["CheckoutRequestID"]))

    assert answer.status_code == 500
    assert answer.json()["errorMessage"] == "The transaction is being processed"
    assert mpesa.injected()["ambiguous_enquiry"] == 1


def test_callback_retries_when_configured(start_mpesa: Any) -> None:
    mpesa = start_mpesa(callback_max_attempts=3, callback_retry_s=10)
    mpesa.receiver.answers["/lnm"] = (500, {})

    mpesa.push(APPROVES, 20)

    mpesa.receiver.wait_for("/lnm", 3)
    delivery = wait_until(lambda: [d for d in mpesa.deliveries() if len(d["attempts"]) == 3])[0]
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 500]
    assert delivery["delivered"] is False
