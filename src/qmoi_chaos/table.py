"""The chaos report as a table on the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from qmoi_chaos.report import Report


def render(report: Report, console: Console) -> None:
    d = report.details
    table = Table(title=f"QMOI chaos run — seed {report.seed}, {report.backend}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("", justify="left")

    def row(name: str, value: object, good: bool | None = None) -> None:
        mark = "" if good is None else ("ok" if good else "FAIL")
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value), mark)

    row("collection attempts", report.attempted)
    row("succeeded in the emulators", report.succeeded)
    row("booked by QMOI", report.booked, report.booked == report.succeeded)
    row("lost", report.lost, report.lost == 0)
    row(
        "  of which STK answer and callback both lost",
        d["lost_answer_and_callback"],
        d["lost_answer_and_callback"] == 0,
    )
    row("found on the M-Pesa statement", d["found_on_statement"])
    row("double booked", report.double_booked, report.double_booked == 0)
    row("booked, never paid", d["phantom_booked"], d["phantom_booked"] == 0)
    row("transfers paid", report.transfers)
    row("transfers failed (and released)", d["transfers_failed"])
    row("double paid", report.double_paid, report.double_paid == 0)
    row("orphan disbursements", report.orphan_disbursements, report.orphan_disbursements == 0)
    row(
        "auto-transfer rule (days checked)",
        d["rule_days"],
        d["rule_overpaid"] == 0 and d["rule_shortfall"] == 0,
    )
    row("money: floats = ledger", "", d["money_mismatches"] == 0)
    row("ledger verify", d["ledger_verify"]["says"], d["ledger_verify"]["ok"])
    row("audit verify", d["audit_verify"]["says"], d["audit_verify"]["ok"])
    row("left open after the drain", d["open_collections"] + d["open_transfers"], d["settled"])
    if d.get("attacker"):
        row(
            "forged callbacks sent",
            report.forged_sent,
        )
        table.add_row(
            "",
            f"+ {d['replays_sent']:,} exact replays; Airtel hash {d['airtel_hash']}; "
            + ", ".join(f"{k} {v}" for k, v in d["forged_by_kind"].items()),
            "",
        )
        row("forged callbacks QMOI acted on", report.forged_effective, report.forged_effective == 0)
    else:
        row("attacker", f"none (Airtel hash {d['airtel_hash']})")
    row("callbacks parked after errors", report.parked_callbacks)
    row("kills (mid-transfer)", f"{report.kills} ({d['kills_mid_transfer']})")
    row("PostgreSQL restarts", report.db_restarts)
    row("float holds", d["float_holds"])
    faults = ", ".join(f"{k} {v}" for k, v in report.faults_by_type.items() if v)
    row("faults injected", sum(report.faults_by_type.values()))
    table.add_row("", faults, "")
    row("max resolution lag", f"{report.max_resolution_lag_s} s real")
    row("simulated days / clock speed", f"{d['simulated_days']:g} / ×{d['speed']:g}")
    row("traffic / drain", f"{d['traffic_real_s']} s / {d['drain_real_s']} s")
    console.print(table)
    for problem in d["problems"][:15] + d.get("forged_effective_examples", [])[:10]:
        console.print(f"  {problem}", markup=False)
    console.print(
        "PASSED: nothing lost, doubled or left behind, no forgery acted on"
        if report.passed
        else "FAILED: see the problems above and the report",
        markup=False,
    )
