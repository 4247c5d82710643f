"""OAuth2 client-credentials token and how product calls check it."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.airtel

GOOD = {
    "client_id": "qmoi-sandbox",
    "client_secret": "qmoi-sandbox-secret",
    "grant_type": "client_credentials",
}


def test_good_credentials_get_a_180_second_bearer_token_with_expires_in_as_a_string(airtel):
    answer = airtel.http.post("/auth/oauth2/token", json=GOOD)

    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["access_token", "expires_in", "token_type"]
    assert body["expires_in"] == "180"
    assert body["token_type"] == "bearer"
    assert isinstance(body["access_token"], str)
    assert len(body["access_token"]) >= 20


def test_trailing_slash_on_the_token_path_is_accepted(airtel):
    assert airtel.http.post("/auth/oauth2/token/", json=GOOD).status_code == 200


def test_each_token_works_for_every_product(airtel):
    headers = airtel.headers()
    assert airtel.http.get("/standard/v1/users/balance", headers=headers).status_code == 200
    assert airtel.http.get("/v1/rsa/encryption-keys", headers=headers).status_code == 200
    assert airtel.http.get("/standard/v1/users/733000100", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        GOOD | {"client_secret": "wrong"},
        GOOD | {"client_id": "someone-else"},
        {k: v for k, v in GOOD.items() if k != "client_secret"},
        {k: v for k, v in GOOD.items() if k != "client_id"},
        GOOD | {"client_secret": 12345},
    ],
    ids=["wrong-secret", "wrong-id", "no-secret", "no-id", "secret-not-string"],
)
def test_bad_credentials_are_refused_with_400_invalid_client(airtel, body):
    answer = airtel.http.post("/auth/oauth2/token", json=body)

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client authentication",
    }


def test_a_grant_type_other_than_client_credentials_is_refused(airtel):
    answer = airtel.http.post("/auth/oauth2/token", json=GOOD | {"grant_type": "password"})

    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("content", [b"", b"client_id=qmoi-sandbox", b"[1, 2]", b"{bad json"])
def test_a_body_that_is_not_a_json_object_is_an_invalid_request(airtel, content):
    answer = airtel.http.post(
        "/auth/oauth2/token", content=content, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_product_call_without_authorization_is_401_invalid_token(airtel):
    headers = airtel.headers()
    del headers["Authorization"]

    answer = airtel.http.get("/standard/v1/users/balance", headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_token",
        "error_description": "The access token is invalid or has expired",
    }


def test_unknown_token_is_403_invalid_token(airtel):
    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers("made-up"))

    assert answer.status_code == 403
    assert answer.json()["error"] == "invalid_token"


def test_token_is_refused_with_403_once_its_lifetime_has_passed(start_airtel):
    airtel = start_airtel(fresh=True, token_ttl_s=5)  # 5 simulated seconds = 50 ms at speed 100
    token = airtel.token()
    assert (
        airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token)).status_code
        == 200
    )

    time.sleep(0.1)

    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token))
    assert answer.status_code == 403
    assert answer.json()["error"] == "invalid_token"
    # A fresh token works again.
    assert (
        airtel.http.get("/standard/v1/users/balance", headers=airtel.headers()).status_code == 200
    )


def test_token_lifetime_follows_the_simulated_clock(start_airtel):
    airtel = start_airtel(speed=1.0)
    token = airtel.token()
    time.sleep(0.05)
    assert (
        airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token)).status_code
        == 200
    )
