"""``qmoi validate``: every problem as ``VARIABLE: what is wrong — how to fix it``.

``--online`` then asks each provider for a token and the balance and prints what that
proved, one line per fact (see :mod:`qmoi.services.providers_check`); in the sandbox
the emulators are the providers (:mod:`qmoi.cli.emulators`).
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, OK, USAGE, fail, out
from qmoi.config import Settings, build_settings

if TYPE_CHECKING:
    from qmoi.services.providers_check import Fact


def validate(
    ctx: typer.Context,
    online: Annotated[
        bool,
        typer.Option("--online", help="then fetch a token and the balance from each provider"),
    ] = False,
    sandbox_url_airtel: Annotated[
        str | None,
        typer.Option(
            help="sandbox: a running Airtel emulator (default AIRTEL_BASE_URL, else one is "
            "started in-process)"
        ),
    ] = None,
    sandbox_url_mpesa: Annotated[
        str | None,
        typer.Option(
            help="sandbox: a running Daraja emulator (default MPESA_BASE_URL, else one is "
            "started in-process)"
        ),
    ] = None,
) -> None:
    """Check the configuration, correct what is safe to correct, and say what is wrong."""
    cli: CliContext = ctx.obj
    settings, report = build_settings(cli.raw())
    for line in report.sources:
        out.print(line, markup=False)
    for line in report.corrections:
        out.print(f"corrected: {line}", markup=False)
    for line in report.warnings:
        out.print(f"warning: {line}", markup=False)
    for line in report.problems:
        out.print(line, markup=False)
    if settings is None:
        count = len(report.problems)
        out.print(f"configuration is not usable: {count} problem{'s' * (count != 1)}", markup=False)
        raise typer.Exit(FAILED)
    mode = "sandbox (built-in emulators, simulated money)" if settings.sandbox else "live"
    providers = ", ".join(
        f"{label} {section.environment.value}" if section.enabled else f"{label} disabled"
        for label, section in (("Airtel", settings.airtel), ("M-Pesa", settings.mpesa))
    )
    if settings.listed_accounts is not None:
        providers = "accounts " + ", ".join(
            f"{a.id} ({a.provider}, {a.currency})" for a in settings.accounts
        )
    out.print(
        f"configuration is usable: {mode}; {providers}; "
        f"{len(report.warnings)} warning(s), {len(report.corrections)} correction(s)",
        markup=False,
    )
    if not online:
        raise typer.Exit(OK)
    for option, url in (
        ("--sandbox-url-airtel", sandbox_url_airtel),
        ("--sandbox-url-mpesa", sandbox_url_mpesa),
    ):
        if url is not None and not settings.sandbox:
            fail(f"{option}: the providers are live, not the sandbox — drop the option", USAGE)
        if url is not None and not url.startswith(("http://", "https://")):
            fail(f"{option}: {url!r} is not an http(s) URL", USAGE)
    cli.settings()  # sets up logging, with every configured secret scrubbed
    raise typer.Exit(_online(settings, sandbox_url_airtel, sandbox_url_mpesa))


def _online(settings: Settings, airtel_url: str | None, mpesa_url: str | None) -> int:
    """Ask each account's provider (each enabled provider, without an accounts list)
    whether its credentials, host and balance work; one line per finding."""
    if settings.listed_accounts is None:
        return _report(_check(settings, None, airtel_url, mpesa_url))
    facts: list[tuple[str, Fact]] = []
    for account in settings.accounts:
        own = settings.for_account(account)
        urls = {"airtel": airtel_url, "mpesa": mpesa_url}
        for kind, fact in _check(own, account.provider, urls["airtel"], urls["mpesa"]):
            # each line names the account, not only its provider
            text = fact.text.replace(f"{kind}:", f"{account.id}:", 1)
            facts.append((account.id, replace(fact, text=text)))
    return _report(facts)


def _check(
    settings: Settings, only: str | None, airtel_url: str | None, mpesa_url: str | None
) -> list[tuple[str, Fact]]:
    """The facts of one check (of ``only`` that provider, or every enabled one), in the
    providers' order."""
    # Imported only now, after logging is set up: the M-Pesa connector binds its module
    # logger when imported, and bound before logs.configure() it would print to stdout.
    from qmoi.cli.emulators import CheckPlan, plan_sandbox
    from qmoi.services.providers_check import ProviderTarget, check_online

    enabled = [p for p in settings.enabled_providers if only in (None, p)]
    with ExitStack() as stack:
        if settings.sandbox:
            plan = plan_sandbox(
                settings,
                stack,
                airtel_url=airtel_url or settings.airtel.base_url,
                mpesa_url=mpesa_url or settings.mpesa.base_url,
                only=only,
            )
        else:  # live: Daraja posts the balance result to QMOI's public URL, not here
            plan = CheckPlan(settings, [ProviderTarget(name) for name in enabled])
        checked = asyncio.run(check_online(plan.settings, plan.targets))
    facts = [*plan.facts, *checked.facts]
    return [(p, f) for p in enabled for f in facts if f.provider == p]


def _report(facts: list[tuple[str, Fact]]) -> int:
    from qmoi.services.providers_check import Verdict

    for _, fact in facts:
        out.print(fact.text, markup=False)
    failures = sum(f.verdict is Verdict.FAILED for _, f in facts)
    if failures:
        out.print(f"online checks failed: {failures} problem{'s' * (failures != 1)}", markup=False)
        return FAILED
    checked = ", ".join(dict.fromkeys(name for name, _ in facts))
    out.print(f"online checks passed: {checked}", markup=False)
    return OK
