"""``qmoi accounts``: the accounts this configuration collects on, read from the
settings alone (no database, no provider is asked)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from qmoi.cli.context import CliContext
from qmoi.cli.render import out
from qmoi.config import AccountSettings
from qmoi.domain.msisdn import masked

app = typer.Typer(help="The merchant's accounts: one per wallet, till or paybill.")


def _row(account: AccountSettings) -> dict[str, object]:
    return {
        "id": account.id,
        "provider": account.provider,
        "country": account.country,
        "currency": account.currency,
        "environment": account.environment.value,
        "default": account.default,
        "dailyTarget": str(account.daily_target.to_decimal()),
        "autoTransfer": str(account.chunk.to_decimal()),
        "owner": masked(account.section.phone_number),
    }


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print them as JSON")] = False,
) -> None:
    """Each enabled account: provider, country, currency, environment, whether it is
    its provider's default, its daily target and auto-transfer chunk, and the owner's
    number on it (masked)."""
    cli: CliContext = ctx.obj
    rows = [_row(a) for a in cli.settings().accounts]
    if as_json:
        out.print_json(json.dumps({"accounts": rows}))
        return
    width = max(len(str(r["id"])) for r in rows)
    for account, row in zip(cli.settings().accounts, rows, strict=True):
        out.print(
            f"{account.id:<{width}}  {account.provider:<6}  {account.country}  "
            f"{account.currency}  {account.environment.value:<10}  "
            f"{'default' if account.default else '       '}  "
            f"target {account.daily_target}  chunk {account.chunk}  owner {row['owner']}",
            markup=False,
            highlight=False,
        )
