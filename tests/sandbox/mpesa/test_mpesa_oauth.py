"""OAuth and the bearer-token check every other API makes."""

from __future__ import annotations

import time

import pytest
from tests.sandbox.mpesa.conftest import StartMpesa
from tests.sandbox.mpesa.mpesa_support import Mpesa, basic_auth

pytestmark = pytest.mark.mpesa

GENERATE = "/oauth/v1/generate"
GRANT = {"grant_type": "client_credentials"}


def test_basic_auth_with_the_sandbox_credentials_buys_a_3599_second_token(mpesa: Mpesa) -> None:
    answer = mpesa.http.get(GENERATE, params=GRANT, headers={"Authorization": basic_auth()})

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599"
    assert isinstance(body["access_token"], str)
    assert len(body["access_token"]) >= 20


@pytest.mark.parametrize(
    ("authorization", "params", "code"),
    [
        (basic_auth("qmoi-sandbox", "wrong-secret"), GRANT, "400.008.01"),
        (basic_auth("someone-else", "qmoi-sandbox-secret"), GRANT, "400.008.01"),
        ("Bearer abc", GRANT, "400.008.01"),
        ("Basic !!!not-base64!!!", GRANT, "400.008.01"),
        (None, GRANT, "400.008.01"),
        (basic_auth(), {}, "400.008.02"),
        (basic_auth(), {"grant_type": "password"}, "400.008.02"),
    ],
)
def test_bad_credentials_or_grant_are_refused_with_the_error_envelope(
    mpesa: Mpesa, authorization: str | None, params: dict[str, str], code: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = mpesa.http.get(GENERATE, params=params, headers=headers)

    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert body["errorCode"] == code


def test_generate_answers_only_get(mpesa: Mpesa) -> None:
    answer = mpesa.http.post(GENERATE, params=GRANT, headers={"Authorization": basic_auth()})

    assert answer.status_code == 405
    assert answer.json()["errorCode"] == "405.001"


def test_a_token_past_its_lifetime_is_refused_as_invalid(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(token_ttl_s=100)  # 0.1 s real at speed 1000
    token = mpesa.new_token()
    assert mpesa.post("/mpesa/stkpush/v1/processrequest", mpesa.stk_body(), token=token).is_success

    time.sleep(0.2)
    answer = mpesa.post("/mpesa/stkpush/v1/processrequest", mpesa.stk_body(), token=token)

    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "404.001.03"
    assert answer.json()["errorMessage"] == "Invalid Access Token"


def test_several_tokens_stay_valid_unless_new_ones_invalidate_old(
    start_mpesa: StartMpesa,
) -> None:
    lenient = start_mpesa()
    first, second = lenient.new_token(), lenient.new_token()
    for token in (first, second):
        body = lenient.initiator_body("AccountBalance")
        assert lenient.post("/mpesa/accountbalance/v1/query", body, token=token).is_success

    strict = start_mpesa(token_invalidates_previous=True)
    first, second = strict.new_token(), strict.new_token()
    body = strict.initiator_body("AccountBalance")
    refused = strict.post("/mpesa/accountbalance/v1/query", body, token=first)
    assert refused.status_code == 401
    assert refused.json()["errorCode"] == "401.002.01"
    assert strict.post("/mpesa/accountbalance/v1/query", body, token=second).is_success


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/mpesa/stkpush/v1/processrequest", 404, "404.001.03"),
        ("/mpesa/stkpushquery/v1/query", 404, "404.001.03"),
        ("/mpesa/reversal/v1/request", 404, "404.001.03"),
        ("/mpesa/b2c/v3/paymentrequest", 404, "404.001.03"),
        ("/mpesa/accountbalance/v1/query", 401, "401.002.01"),
        ("/mpesa/c2b/v1/registerurl", 400, "400.003.01"),
        ("/mpesa/transactionstatus/v1/query", 400, "400.003.01"),
    ],
)
def test_an_unknown_token_gets_the_code_each_api_page_documents(
    mpesa: Mpesa, path: str, status: int, code: str
) -> None:
    answer = mpesa.post(path, {}, token="not-a-token-we-issued")

    assert answer.status_code == status
    assert answer.json()["errorCode"] == code


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer"])
def test_a_missing_or_non_bearer_header_is_an_invalid_authentication_header(
    mpesa: Mpesa, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = mpesa.http.post("/mpesa/stkpush/v1/processrequest", json={}, headers=headers)

    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "404.001.04"


def test_early_token_expiry_fault_revokes_a_token_mid_run(mpesa: Mpesa) -> None:
    token = mpesa.new_token()
    mpesa.faults(early_token_expiry_rate=1.0)

    refused = mpesa.post("/mpesa/stkpush/v1/processrequest", mpesa.stk_body(), token=token)
    assert refused.status_code == 404
    assert refused.json()["errorCode"] == "404.001.03"

    mpesa.http.delete("/sandbox/faults")
    again = mpesa.post("/mpesa/stkpush/v1/processrequest", mpesa.stk_body(), token=token)
    assert again.json()["errorCode"] == "404.001.03"  # it stays expired
    fresh = mpesa.post(
        "/mpesa/stkpush/v1/processrequest", mpesa.stk_body(), token=mpesa.new_token()
    )
    assert fresh.status_code == 200
    assert mpesa.injected()["early_token_expiry"] == 1
