"""The whole OpenAPI spec, fuzzed with schemathesis against ``qmoi api`` over real HTTP
on 127.0.0.1, with both provider emulators running: every operation the spec lists is
called with generated data — valid and deliberately invalid (wrong types, missing or
unknown fields, out-of-range numbers, odd unicode) — as the owner (the master key), so
the fuzzer reaches the handlers, money-moving routes included (sandbox money only). Each
answer must be no 5xx, a status code the spec documents for that operation, in the
content type the spec names, with a body matching the spec's schema (errors too:
``{"error": {"code", "message"}}``), and invalid data must be refused with a 4xx.

Not fuzzed here, and why:

* the provider callbacks (``/api/airtel/callback``, ``/api/mpesa/{token}/…``,
  ``/hooks/{token}/…``) are the providers' API, not ours: their shapes are the
  providers' and tolerate unknown fields; their parsers are fuzzed with hypothesis in
  ``tests/providers/test_callback_fuzz.py`` and the routes are driven with forged,
  unknown and replayed callbacks in ``tests/e2e/test_api.py``;
* the dashboard's pages and sign-in are HTML and forms, not the JSON API, and are left
  out of the spec (``include_in_schema=False``); ``tests/e2e/test_dashboard.py``
  drives them in a browser.

The run is bounded (:data:`FUZZ`: a few dozen examples per operation, no deadline,
derandomized, no example database) so it takes well under a minute, on SQLite and on
PostgreSQL (when its URL is given).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from qmoi_sandbox.common.server import free_port
from tests.e2e.support import Process, Processes, Qmoi, emulators, wait_ready

pytestmark = [pytest.mark.slow]

#: the profile of this run: bounded, reproducible, no deadline (calls cross processes)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: what every answer must be: no 5xx, a documented status, content type and body
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: …and invalid data must be refused with a 4xx
CHECKS = [*RESPONSE_CHECKS, negative_data_rejection]
#: provider-facing routes, fuzzed elsewhere (see the module docstring)
CALLBACKS = r"^/(api/airtel/|api/mpesa/|hooks/)"


@dataclass
class Deployment:
    qmoi: Qmoi
    api: Process
    owner: dict[str, str]  # the master key's header
    customers: dict[str, list[str]]  # emulator customers who approve, per provider


@pytest.fixture
def deployment(tmp_path: Path, db_url: str) -> Iterator[Deployment]:
    """``qmoi api`` on a free loopback port against both emulators, on SQLite."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    with emulators(api_url=api_url, speed=60.0, seed=3, customer_delay_s=(1.0, 5.0)) as emu:
        qmoi = Qmoi(tmp_path, db_url, emu, port)
        processes = Processes(qmoi)
        try:
            api = processes.api()
            with httpx.Client(timeout=30.0) as client:
                wait_ready(client, api, api_url)
            customers = {p: emu.customers(p, 4, 1.0, "fuzz") for p in ("airtel", "mpesa")}
            owner = {"Authorization": f"Bearer {qmoi.master_key}"}
            yield Deployment(qmoi, api, owner, customers)
        finally:
            processes.close()


def nudge(case: schemathesis.Case, numbers: list[str], shillings: int | None) -> None:
    """Put emulator customers' numbers (and, given ``shillings``, whole-shilling amounts)
    into a valid collection request. Generated text is almost never a Kenyan mobile
    number of the right network, and which amounts are valid depends on the provider's
    currency, so without this the fuzzer would seldom get past those checks to the
    providers and the books. Streams, references, list lengths, idempotency keys and
    the other amounts stay as generated."""
    requests = case.body.get("requests") if isinstance(case.body, dict) else None
    for index, item in enumerate(requests if isinstance(requests, list) else []):
        if isinstance(item, dict) and "msisdn" in item:
            item["msisdn"] = numbers[index % len(numbers)]
            if shillings is not None:
                item["amount"] = shillings + index


def fuzz(operation: APIOperation, mode: GenerationMode, deployment: Deployment) -> None:
    """Run :data:`FUZZ`'s examples of ``operation`` in ``mode``; raise what a check found.
    About half the valid examples are :func:`nudge`d towards the providers."""

    @FUZZ
    @given(
        case=operation.as_strategy(generation_mode=mode, headers=deployment.owner),
        real=st.booleans(),
        shillings=st.none() | st.integers(min_value=1, max_value=10**9),
    )
    def run(case: schemathesis.Case, real: bool, shillings: int | None) -> None:
        given = case.path_parameters or {}
        provider = str(given.get("provider") or given.get("account"))
        if real and mode is GenerationMode.POSITIVE and provider in deployment.customers:
            nudge(case, deployment.customers[provider], shillings)
        case.call_and_validate(checks=CHECKS, timeout=30)

    run()


def load(deployment: Deployment) -> list[APIOperation]:
    """Our API's operations, from the spec the running ``qmoi api`` serves."""
    schema = schemathesis.openapi.from_url(
        f"{deployment.qmoi.api_url}/openapi.json", config=schemathesis.Config()
    ).exclude(path_regex=CALLBACKS)
    schema.config.update(base_url=deployment.qmoi.api_url)
    return [result.ok() for result in schema.get_all_operations()]


def takes_input(operation: APIOperation) -> bool:
    """Whether there is anything to make invalid (parameters or a body)."""
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def test_every_operation_answers_as_the_spec_says(deployment: Deployment) -> None:
    operations = load(deployment)
    assert len(operations) == 16, [op.label for op in operations]
    found: list[str] = []
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if takes_input(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                fuzz(operation, mode, deployment)
            except (Exception, BaseExceptionGroup) as exc:  # every finding is reported
                found.append(f"{operation.label} ({mode.value}): {exc}")
    assert not found, "\n\n".join(found)
    # nor did anything the fuzzing set off (the emulators' callbacks) crash the API
    assert deployment.api.alive()
    assert "Traceback" not in deployment.api.output(), deployment.api.output()[-4000:]


def test_without_a_key_every_operation_but_health_is_a_documented_401(
    deployment: Deployment,
) -> None:
    """The spec declares the Bearer key on every operation that needs it, and each
    such operation answers a call without one with the 401 the spec documents."""
    operations = load(deployment)
    guarded = [op for op in operations if op.definition.raw.get("security")]
    assert {op.path for op in operations if op not in guarded} == {"/healthz", "/readyz"}
    for operation in guarded:
        refused_without_a_key(operation, deployment.owner)


def refused_without_a_key(operation: APIOperation, owner: dict[str, str]) -> None:
    """A few valid calls of ``operation``, each sent without its key."""

    @settings(FUZZ, max_examples=3)
    @given(case=operation.as_strategy(headers=owner))
    def run(case: schemathesis.Case) -> None:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        response = case.call(timeout=30)
        assert response.status_code == 401, (operation.label, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        case.validate_response(response, checks=RESPONSE_CHECKS)

    run()
