"""Each M-Pesa account's callback path token, which is how a callback names its
account: the variable's belongs to the default account, the others get their own kept
under their ids in ``var/`` — the same on every start whatever the accounts' order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qmoi.bootstrap import with_callback_tokens
from qmoi.config import RawValues, Settings, build_settings
from qmoi.errors import ConfigError

SHARED = "shared-token-from-the-environment-0123"
KE = {"id": "mpesa-ke", "provider": "mpesa", "default": True}
TILL = {"id": "mpesa-till", "provider": "mpesa", "shortcodeType": "till"}


def tokens(tmp_path: Path, *accounts: dict[str, Any], **values: str) -> dict[str, str]:
    raw = {"QMOI_VAR_DIR": str(tmp_path / "var"), "MPESA_CALLBACK_TOKEN": SHARED, **values}
    built, report = build_settings(
        RawValues(
            raw, accounts=accounts, referenced={"TILL_TOKEN": "till-token-0123456789abcdefgh"}
        )
    )
    assert built is not None, report.problems
    done: Settings = with_callback_tokens(built)
    return {
        a.id: a.mpesa.callback_token.get_secret_value()  # type: ignore[union-attr]
        for a in done.accounts
    }


def test_the_variable_is_the_default_accounts_and_the_others_get_their_own(
    tmp_path: Path,
) -> None:
    first = tokens(tmp_path, KE, TILL)
    assert first["mpesa-ke"] == SHARED
    assert first["mpesa-till"] != SHARED
    assert (tmp_path / "var" / "mpesa_callback_token.mpesa-till").exists()
    assert tokens(tmp_path, TILL, KE) == first  # the order of the list changes nothing


def test_two_accounts_configured_with_one_token_are_refused(tmp_path: Path) -> None:
    till = {**TILL, "credentials": {"callbackToken": "TILL_TOKEN"}}
    assert tokens(tmp_path, KE, till)["mpesa-till"] == "till-token-0123456789abcdefgh"
    twin = {
        **KE,
        "id": "mpesa-twin",
        "default": False,
        "credentials": {"callbackToken": "TILL_TOKEN"},
    }
    with pytest.raises(ConfigError, match="mpesa-twin.credentials.callbackToken: it is also"):
        tokens(tmp_path, KE, till, twin)
