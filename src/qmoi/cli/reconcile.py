"""``qmoi reconcile``: hold the books against what each provider says — its float and
(M-Pesa) its statement — through the running QMOI's API (which holds the provider
connections and hears Daraja's answers), and print what was found and fixed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from qmoi.cli.render import FAILED, out
from qmoi.cli.revenue import ApiUrl, call_api
from qmoi.domain.money import Money
from qmoi.errors import ConfigError


def reconcile(
    ctx: typer.Context,
    provider: Annotated[
        str | None, typer.Option("--provider", help="airtel or mpesa: its accounts")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="one account (default: every account)")
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--day", help="YYYY-MM-DD whose statement is read (default: yesterday)"),
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
) -> None:
    """Check each account's float against the books and book the day's statement lines
    that never reached QMOI (confirmed by the provider first); exit 1 when anything is
    left unexplained."""
    if provider is not None and account is not None:
        raise ConfigError("--provider / --account: give one of them, not both")
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"--day: {day!r} is not a day — give YYYY-MM-DD") from None
    chosen = (("provider", provider), ("account", account), ("day", day))
    body = {k: v for k, v in chosen if v is not None}
    data = call_api(ctx.obj, api_url, "/api/qmoi/reconcile", body)
    for found in data["reconciliations"]:
        for line in describe(found):
            out.print(line, markup=False)
    if not data["settled"]:
        raise typer.Exit(FAILED)


def _money(minor: int | None, currency: str) -> str:
    return "?" if minor is None else str(Money(minor, currency))


def describe(found: dict[str, Any]) -> list[str]:
    """One reconciliation as the lines ``qmoi reconcile`` prints."""
    name, day, f = found["provider"], found["day"], found["float"]
    c = f["currency"]
    head = f"{name} {day}:"
    if f["verdict"] == "unavailable":
        lines = [f"{head} float not checked: {name} did not answer ({f['problem']})"]
    else:
        said = (
            f"{head} float {_money(f['provider_minor'], c)} at {name}, "
            f"{_money(f['books_minor'], c)} in the books (wallet + in transit − fees owed)"
        )
        verdict = {
            "agrees": (
                f"the difference is the opening float {_money(f['opening_minor'], c)}: agrees"
            ),
            "agrees_with_work_in_flight": (
                f"beyond the opening float {_money(f['opening_minor'], c)}, "
                f"{_money(f['difference_minor'] - f['opening_minor'], c)} is within work "
                "still in flight: agrees"
            ),
            "no_baseline_yet": (
                "no opening float recorded yet (it is taken at the first moment nothing is "
                "in flight)"
            ),
            "differs": (
                f"{_money(f['unexplained_minor'], c)} unexplained beyond the opening float "
                f"{_money(f['opening_minor'], c)} — the owner has been told"
            ),
        }[f["verdict"]]
        lines = [f"{said}; {verdict}"]
    statement = found.get("statement")
    if statement is None:
        return lines
    if statement["problem"]:
        return [*lines, f"{head} statement not read: {statement['problem']}"]
    counts = statement["accounted"]
    parts = [f"{statement['owned']} owned by a collection"]
    labels = {
        "push_paid_without_receipt": "paid through a push whose receipt QMOI never learnt",
        "booked": "lost C2B payment(s) confirmed and booked",
        "owned_meanwhile": "recorded meanwhile",
        "left_to_push": "left to an unnamed push (the statement rule decides)",
        "not_direct": "belonging to no request (not a direct payment): for the owner",
        "unconfirmed": "not confirmed by the provider yet: asked again next pass",
    }
    parts += [f"{counts[k]} {label}" for k, label in labels.items() if counts.get(k)]
    lines.append(f"{head} statement {statement['lines']} line(s): " + ", ".join(parts))
    for x in statement["unowned"]:
        if x["outcome"] == "booked":
            lines.append(
                f"  booked {x['collection']}: receipt {x['receipt']}, "
                f"{_money(x['amount_minor'], c)}"
            )
        elif x["outcome"] in ("not_direct", "unconfirmed"):
            lines.append(
                f"  {x['outcome'].replace('_', ' ')}: receipt {x['receipt']}, "
                f"{_money(x['amount_minor'], c)}"
            )
    return lines
