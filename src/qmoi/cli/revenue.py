"""``qmoi revenue start|status|reset`` and ``qmoi transfer``.

``status`` and ``reset`` work on the database directly (no provider is needed);
``start`` and ``transfer`` move money, so they go through the running QMOI's API
(``--api-url``, the master key from QMOI_MASTER_KEY or ``var/master.key``), where
authentication, idempotency and the audit trail apply.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from qmoi.bootstrap import require_current
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.config import AccountSettings
from qmoi.domain.money import Money, exponent
from qmoi.errors import ConfigError
from qmoi.providers.base import PROVIDERS
from qmoi.services import days, metrics
from qmoi.services.context import Services

app = typer.Typer(
    help="Today's revenue: start collections, see progress, close a period.", no_args_is_help=True
)

ProviderOption = Annotated[
    str | None,
    typer.Option("--provider", help="airtel or mpesa: its accounts (default: every account)"),
]
AccountOption = Annotated[
    str | None,
    typer.Option("--account", help="one account, by id (as qmoi accounts list shows)"),
]
#: the single account start/transfer act on: --account, or --provider's default account
OneProvider = Annotated[
    str | None, typer.Option("--provider", help="airtel or mpesa: its default account")
]
ApiUrl = Annotated[
    str, typer.Option("--api-url", help="where the running QMOI listens", envvar="QMOI_API_URL")
]


def _services(cli: CliContext) -> Services:
    container = cli.container()
    require_current(container.engine)
    return container.services


def _providers(services: Services, provider: str | None, account: str | None = None) -> list[str]:
    """The accounts a command acts on: ``--account``, ``--provider``'s, or all."""
    kinds = {name: rules.provider for name, rules in services.policy.providers.items()}
    return chosen_accounts(kinds, provider, account)


def chosen_accounts(
    kinds: Mapping[str, str], provider: str | None, account: str | None
) -> list[str]:
    """``kinds``: each account's provider. One line naming what to use instead when the
    choice names nothing here."""
    if provider is not None and account is not None:
        raise ConfigError("--provider / --account: give one of them, not both")
    if account is not None:
        if account not in kinds:
            raise ConfigError(
                f"--account: there is no account {account!r} — use one of {', '.join(kinds)} "
                "(`qmoi accounts list`)"
            )
        return [account]
    if provider is None:
        return list(kinds)
    _refuse_unless(list(dict.fromkeys(kinds.values())), provider)
    return [name for name, kind in kinds.items() if kind == provider]


def _one_account(cli: CliContext, provider: str | None, account: str | None) -> AccountSettings:
    """The account ``start`` / ``transfer`` act on: ``--account``, or ``--provider``'s
    default one."""
    settings = cli.settings()
    if provider is None and account is None:
        raise typer.BadParameter(
            "say which account, e.g. --provider airtel or --account airtel-ug",
            param_hint="'--provider' / '--account'",
        )
    kinds = {a.id: a.provider for a in settings.accounts}
    names = chosen_accounts(kinds, provider, account)
    if account is None and provider is not None:
        default = settings.default_account(provider)
        return default if default is not None else settings.account(names[0])
    return settings.account(names[0])


def _refuse_unless(enabled: Sequence[str], provider: str) -> None:
    """One line naming what to use instead, when ``provider`` is not one QMOI collects on."""
    if provider in enabled:
        return
    use = " or ".join(enabled)
    if provider in PROVIDERS:
        raise ConfigError(
            f"--provider: {provider} is not enabled here (no account, or "
            f"{provider.upper()}_ENABLED=false) — use {use}, or enable it"
        )
    raise ConfigError(f"--provider: {provider!r} is not a provider — use {use}")


@app.command("status")
def status(
    ctx: typer.Context,
    provider: ProviderOption = None,
    account: AccountOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics JSON")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="keep the view live (Ctrl-C stops)")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", min=0.2, help="seconds between refreshes")
    ] = 1.0,
    rounds: Annotated[int, typer.Option("--rounds", min=0, hidden=True)] = 0,
) -> None:
    """Today's earnings, target, progress, streams and last transfer per provider, and
    combined; --watch refreshes it in place."""
    services = _services(ctx.obj)
    names = _providers(services, provider, account)
    if as_json:
        out.print_json(json.dumps(metrics.metrics(services)))
        return
    if not watch:
        out.print(_status_view(services, names))
        return
    try:
        if out.is_terminal:
            with Live(_status_view(services, names), console=out, auto_refresh=False) as live:
                _refresh(
                    lambda: live.update(_status_view(services, names), refresh=True), every, rounds
                )
        else:  # piped: one view per refresh
            out.print(_status_view(services, names))
            _refresh(lambda: out.print(_status_view(services, names)), every, rounds)
    except KeyboardInterrupt:
        return


def _refresh(show: Callable[[], None], every: float, rounds: int) -> None:
    """Show again every ``every`` seconds, forever or until ``rounds`` views were shown."""
    shown = 1
    while not rounds or shown < rounds:
        time.sleep(every)
        show()
        shown += 1


def _status_view(services: Services, names: list[str]) -> Group:
    answer = metrics.metrics(services)
    combined = answer["combined"]
    line = Text(
        f"combined: KES {combined['combined']:,} of {combined['target']:,} "
        f"({combined['progress']}%) — {combined['day']}"
        + (" — SANDBOX (simulated money)" if combined["sandbox"] else "")
    )
    lines = [line]
    reporting = combined.get("reporting")
    if reporting is not None:
        rates = ", ".join(f"{r['currency']} {r['rate']} of {r['asOf']}" for r in reporting["rates"])
        lines.append(
            Text(
                f"no {reporting['currency']} total: no rate for {', '.join(reporting['missing'])}"
                if reporting["earned"] is None
                else f"≈ {reporting['currency']} {reporting['earned']:,} of "
                f"{reporting['target']:,} in all currencies, at your rates ({rates})"
            )
        )
    return Group(*(_provider_table(name, answer["accounts"][name]) for name in names), *lines)


def _provider_table(name: str, figures: dict[str, Any]) -> Table:
    currency = figures.get("currency", "KES")
    places = exponent(currency)

    def shown(value: float) -> str:
        return f"{value:,.{places}f}"

    progress = float(figures["targetProgress"])
    filled = min(20, int(progress / 5))
    bar = "█" * filled + "░" * (20 - filled)
    table = Table(
        title=f"{name}: {currency} {figures['dailyEarnings']:,} of {figures['target']:,} "
        f"{bar} {progress}% — auto-transfer {figures['autoTransferStatus']}",
        title_justify="left",
    )
    table.add_column("stream")
    table.add_column("earned", justify="right")
    table.add_column("target", justify="right")
    for stream, values in figures["streamPerformance"].items():
        table.add_row(stream, shown(values["earned"]), shown(values["target"]))
    last = figures.get("lastAutoTransfer")
    table.caption = (
        f"last transfer: {last['reference']} {currency} {last['amount']:,} {last['state']}"
        + (f" ({last['providerReference']})" if last["providerReference"] else "")
        if last
        else "last transfer: none today"
    )
    table.caption_justify = "left"
    return table


@app.command("reset")
def reset(
    ctx: typer.Context, provider: ProviderOption = None, account: AccountOption = None
) -> None:
    """Close the current counting period now (a Z-report); nothing is deleted."""
    services = _services(ctx.obj)
    for name in _providers(services, provider, account):
        close = days.reset_period(services, name, actor="cli")
        currency = services.policy.provider(name).currency
        out.print(
            f"{name}: period closed at {close.closed_at.isoformat()} — day so far "
            f"{Money(close.earned_minor, currency)}; counters start again",
            markup=False,
        )


def _master_key(cli: CliContext) -> str:
    settings = cli.settings()
    if settings.master_key is not None:
        return settings.master_key.get_secret_value()
    path = settings.var_dir / "master.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    raise ConfigError(
        "QMOI_MASTER_KEY: is not set and var/master.key does not exist — "
        "start QMOI first (`qmoi start`) or set the key"
    )


def call_api(
    cli: CliContext, api_url: str, path: str, body: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    try:
        answer = httpx.post(
            f"{api_url.rstrip('/')}{path}",
            json=body,
            timeout=120,
            headers={"Authorization": f"Bearer {_master_key(cli)}", **(headers or {})},
        )
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"--api-url: QMOI is not reachable at {api_url} "
            f"({type(exc).__name__}) — start it with `qmoi start`"
        ) from exc
    data: dict[str, Any] = answer.json()
    if answer.status_code >= 400:
        error = data.get("error", {})
        out.print(f"refused ({error.get('code')}): {error.get('message')}", markup=False)
        raise typer.Exit(FAILED)
    return data


@app.command("start")
def start_collections(
    ctx: typer.Context,
    provider: OneProvider = None,
    account: AccountOption = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help='JSON: {"requests": [{msisdn, amount, stream, reference}]}'),
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
) -> None:
    """Ask customers to pay (one push each); in the sandbox without --file, run one
    simulated sales cycle."""
    chosen = _one_account(ctx.obj, provider, account)
    body: Any = None
    if file is not None:
        try:
            body = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"--file: {file} is not readable JSON ({exc}) — see README for the shape"
            ) from exc
    data = call_api(ctx.obj, api_url, f"/api/qmoi/accounts/{chosen.id}/generate", body)
    currency = chosen.currency
    for c in data["collections"]:
        out.print(
            f"{c['id']}  {c['stream']:<17} {currency} {c['amount']:>10,}  "
            f"{c['msisdn']}  {c['status']}",
            markup=False,
        )
    out.print(
        f"{len(data['collections'])} collection(s) started on {chosen.id}"
        + (" (simulated sales cycle)" if data.get("simulated") else ""),
        markup=False,
    )


def transfer(
    ctx: typer.Context,
    amount: Annotated[
        str, typer.Option("--amount", help="in the provider's currency, e.g. 2000 or 1,500.50")
    ],
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", help="repeat the command with the same key to retry safely"
        ),
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    provider: OneProvider = None,
    account: AccountOption = None,
) -> None:
    """Transfer to the owner's wallet now (checked against the books and the provider)."""
    chosen = _one_account(ctx.obj, provider, account)
    key = idempotency_key or f"cli-{secrets.token_hex(8)}"
    data = call_api(
        ctx.obj,
        api_url,
        f"/api/qmoi/accounts/{chosen.id}/transfer",
        {"amount": amount},
        {"Idempotency-Key": key},
    )
    out.print(
        f"{data['id']}: {chosen.currency} {data['amount']:,} to {data['msisdn']} "
        f"— {data['status']}"
        + (
            f" (provider reference {data['provider_reference']})"
            if data.get("provider_reference")
            else ""
        ),
        markup=False,
    )
    if data["status"] == "failed":
        raise typer.Exit(FAILED)
