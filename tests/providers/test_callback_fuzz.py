"""Hostile callbacks: whatever arrives at a callback route — arbitrary bytes, malformed
JSON, the documented shapes with their values replaced by huge numbers, wrong types,
unicode, negative or fractional amounts — each connector's parser either returns an
event or rejects it with a reason. It never raises anything else, and an event it
returns never carries a negative or fractional amount."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmoi.config import RawValues, build_settings
from qmoi.providers.base import CallbackEvent, CallbackKind, CallbackRejected, PaymentProvider
from qmoi.providers.registry import build_provider

FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures"
K = CallbackKind
#: the documented callback bodies each kind is parsed from
SHAPES: dict[str, list[tuple[CallbackKind, str]]] = {
    "airtel": [
        (K.COLLECTION, "airtel/callback.json"),
        (K.COLLECTION, "airtel/callback_failed.json"),
        (K.COLLECTION, "airtel/callback_with_hash.json"),
        (K.DISBURSEMENT, "airtel/callback.json"),
    ],
    "mpesa": [
        (K.COLLECTION, "mpesa/stk_callback_success.json"),
        (K.COLLECTION, "mpesa/stk_callback_cancelled.json"),
        (K.DISBURSEMENT, "mpesa/b2c_result_success.json"),
        (K.DISBURSEMENT, "mpesa/b2c_result_failure.json"),
        (K.C2B_VALIDATION, "mpesa/c2b_validation.json"),
        (K.C2B_CONFIRMATION, "mpesa/c2b_confirmation.json"),
        (K.BALANCE_RESULT, "mpesa/balance_result.json"),
        (K.REVERSAL_RESULT, "mpesa/reversal_result_success.json"),
        (K.STATUS_RESULT, "mpesa/b2c_result_success.json"),
        (K.DISBURSEMENT_TIMEOUT, "mpesa/b2c_result_failure.json"),
    ],
}

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.text(max_size=40),
    st.sampled_from(["-100", "0.001", "1e309", "１２３", "NaN", "", " ", "\u202e", "Infinity"]),
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _connectors() -> dict[str, PaymentProvider]:
    built, report = build_settings(RawValues({}))
    assert built is not None, report.problems
    nowhere = "http://127.0.0.1:1"  # parsing makes no request
    return {
        "airtel": build_provider(built, "airtel", base_url=nowhere),
        "mpesa": build_provider(built, "mpesa", base_url=nowhere, callback_base_url=nowhere),
    }


CONNECTORS = _connectors()


def mutate(document: Any, draw: Any) -> Any:
    """The document with some leaves replaced by hostile values, keys kept."""
    if isinstance(document, dict):
        return {k: mutate(v, draw) for k, v in document.items()}
    if isinstance(document, list):
        return [mutate(v, draw) for v in document]
    return draw(json_values) if draw(st.booleans()) else document


@st.composite
def hostile_bodies(draw: Any, provider: str) -> tuple[CallbackKind, bytes]:
    kind, fixture = draw(st.sampled_from(SHAPES[provider]))
    how = draw(st.sampled_from(["shaped", "json", "bytes"]))
    if how == "bytes":
        return kind, draw(st.binary(max_size=300))
    if how == "json":
        return kind, json.dumps(draw(json_values)).encode()
    document = json.loads((FIXTURES / fixture).read_text())
    return kind, json.dumps(mutate(document, draw), default=str).encode()


def check(provider: str, kind: CallbackKind, body: bytes) -> None:
    connector = CONNECTORS[provider]
    try:
        event = connector.parse_callback(kind, {"content-type": "application/json"}, body)
    except CallbackRejected:
        return
    assert isinstance(event, CallbackEvent)
    for money in (event.status.amount, event.status.fee):
        if money is not None:
            assert isinstance(money.minor, int)
            assert money.minor >= 0, (provider, kind, body)


@pytest.mark.airtel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_airtel_callback_parsing_survives_hostile_bodies(data: st.DataObject) -> None:
    kind, body = data.draw(hostile_bodies("airtel"))
    check("airtel", kind, body)


@pytest.mark.mpesa
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mpesa_callback_parsing_survives_hostile_bodies(data: st.DataObject) -> None:
    kind, body = data.draw(hostile_bodies("mpesa"))
    check("mpesa", kind, body)
