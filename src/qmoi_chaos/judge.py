"""The verdict: QMOI's books held against the emulators' ground truth, the ledger and
audit checks, and what became of the attacker's forgeries."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from qmoi_chaos.attack.harness import EFFECTIVE, AttackLog, marker_of, read_log
from qmoi_chaos.attack.spec import MARKER
from qmoi_chaos.books import read_books, read_inbox
from qmoi_chaos.config import OPENING_MINOR, PROVIDERS
from qmoi_chaos.deployment import Deployment
from qmoi_chaos.driver import Driver
from qmoi_chaos.report import Report
from qmoi_chaos.truth import Comparison, compare


def _verify(d: Deployment, *command: str) -> tuple[bool, str]:
    done = d.qmoi.run(*command, timeout=600)
    text = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, text[-1] if text else ""


@dataclass
class Attack:
    """What the attacker sent and what became of it in QMOI's inbox."""

    log: AttackLog
    forged_effective: int
    parked: int
    details: dict[str, Any]


def _answered(body: str, tag_path: str, genuine: dict[str, str]) -> bool:
    """Whether a forged query result stored for a waiting query is one the query would
    take: QMOI's connector takes only a result naming the ConversationID Daraja gave
    that query (the one its genuine result to the same tagged URL names)."""
    try:
        delivered = json.loads(body)
        result = delivered.get("body", delivered).get("Result", {})
        named = result.get("ConversationID") or result.get("OriginatorConversationID")
    except (ValueError, AttributeError):
        return False
    return named is not None and named == genuine.get(tag_path)


def _genuine_conversations(callbacks: list[dict[str, Any]]) -> dict[str, str]:
    """Tagged result path (``/status/result/<tag>``…) → the ConversationID Daraja's own
    result to it named."""
    found: dict[str, str] = {}
    for delivery in callbacks:
        result = (delivery.get("body") or {}).get("Result")
        path = urlsplit(str(delivery.get("url", ""))).path
        if isinstance(result, dict) and result.get("ConversationID"):
            found["/".join(path.split("/")[-3:])] = str(result["ConversationID"])
    return found


def judge_attack(
    driver: Driver, engine: Any, mpesa_callbacks: list[dict[str, Any]] | None = None
) -> Attack:
    log = read_log(driver.attack_log) if driver.attack_log is not None else AttackLog()
    inbox = read_inbox(engine, MARKER)
    genuine = _genuine_conversations(mpesa_callbacks or [])
    in_inbox: Counter[str] = Counter()
    effective: Counter[str] = Counter()
    acted_on: set[str] = set()  # markers: one forgery may be stored as more than one row
    examples: list[str] = []
    for row in inbox.marked:
        marker = marker_of(row["body"])
        kind = log.markers.get(marker or "", "unlogged")
        in_inbox[row["status"]] += 1
        path = log.paths.get(marker or "", "")
        if row["status"] == "answer" and not _answered(
            row["body"], "/".join(path.split("/")[-3:]), genuine
        ):
            continue  # stored for the query, which takes only its own conversation's
        if row["status"] in EFFECTIVE:
            effective[kind] += 1
            acted_on.add(marker or "")
            if len(examples) < 20:
                examples.append(
                    f"forged #{marker} {kind} to {log.paths.get(marker or '', '?')}: "
                    f"{row['provider']} {row['event_id']} "
                    f"{row['status']}{'/' + row['reason'] if row['reason'] else ''}"
                )
    parked = inbox.statuses.get("failed", 0)
    details = {
        "attacker": driver.attack_log is not None,
        "attack_rate": driver.config.attack_rate if driver.attack_log is not None else 0,
        "forged_by_kind": dict(sorted(log.by_kind.items())),
        "replays_sent": log.replays_sent,
        "forged_answers": dict(sorted(log.answers.items())),
        "forged_in_inbox": dict(sorted(in_inbox.items())),
        "forged_effective_by_kind": dict(sorted(effective.items())),
        "forgeries_acted_on": len(acted_on),
        "forged_effective_examples": examples,
        "attacker_errors": log.summary.get("errors", {}) if log.summary else {},
        "attacker_stopped_cleanly": bool(log.summary) or driver.attack_log is None,
        "inbox_statuses": dict(sorted(inbox.statuses.items())),
        "parked_examples": inbox.parked,
    }
    return Attack(log, sum(effective.values()), parked, details)


def judge(d: Deployment, driver: Driver, engine: Any, settled: bool, drain_s: float) -> Report:
    config = d.config
    comparison = Comparison()
    faults: Counter[str] = Counter()
    floats: dict[str, Any] = {}
    mpesa_callbacks: list[dict[str, Any]] = []
    for provider in PROVIDERS:
        url = d.emu.url(provider)
        truth = d.emu.transactions(provider)
        wallet = d.emu.client.get(f"{url}/sandbox/wallet").json()
        # the ground truth stays beside the logs and the database, for looking into
        callbacks = d.emu.client.get(f"{url}/sandbox/callbacks").json()
        if provider == "mpesa":
            mpesa_callbacks = callbacks
        (d.root / f"truth-{provider}.json").write_text(json.dumps(truth))
        (d.root / f"callbacks-{provider}.json").write_text(json.dumps(callbacks))
        floats[provider] = wallet
        compare(
            comparison,
            read_books(engine, provider),
            truth,
            chunk_minor=config.chunk_minor,
            float_moved_minor=int(wallet["balance_minor"]) - OPENING_MINOR,
            callbacks=callbacks,
        )
        counts = d.emu.client.get(f"{url}/sandbox/faults/injected").json()["counts"]
        faults.update({k: int(v) for k, v in counts.items() if k != "latency"})
    faults["insufficient_float"] = comparison.payouts_refused_for_float
    attack = judge_attack(driver, engine, mpesa_callbacks)
    ledger_ok, ledger_says = _verify(d, "ledger", "verify")
    audit_ok, audit_says = _verify(d, "audit", "verify")
    events = driver.events
    lag_sim = max(comparison.max_collection_lag_sim_s, comparison.max_transfer_lag_sim_s)
    invariants_ok = ledger_ok and audit_ok and settled and comparison.invariants_hold
    passed = invariants_ok and not (
        comparison.lost
        or comparison.double_booked
        or comparison.double_paid
        or comparison.orphan_disbursements
        or attack.forged_effective
    )
    details = {
        "speed": round(config.speed, 1),
        "simulated_days": config.days,
        "traffic_real_s": round(config.traffic_s, 1),
        "drain_real_s": round(drain_s, 1),
        "settled": settled,
        "api_processes": 1 if config.sqlite else config.apis,
        "worker_processes": 0 if config.sqlite else config.workers,
        "chunk_minor": config.chunk_minor,
        "requests_answered": events.requests_answered,
        "requests_failed": events.request_errors,
        "phantom_booked": comparison.phantom_booked,
        "in_suspense": comparison.in_suspense,
        "lost_answer_and_callback": comparison.unknowable,
        "found_on_statement": comparison.found_on_statement,
        "phantom_transfers": comparison.phantom_transfers,
        "transfers_failed": comparison.transfers_failed,
        "disbursements_attempted": comparison.disbursements,
        "rule_days": comparison.rule_days,
        "rule_overpaid": comparison.rule_overpaid,
        "rule_shortfall": comparison.rule_shortfall,
        "open_collections": comparison.open_collections,
        "open_transfers": comparison.open_transfers,
        "emulator_pending": comparison.emulator_pending,
        "inbox_waiting": comparison.inbox_waiting,
        "money_mismatches": comparison.money_mismatches,
        "max_collection_lag_sim_s": round(comparison.max_collection_lag_sim_s, 1),
        "max_transfer_lag_sim_s": round(comparison.max_transfer_lag_sim_s, 1),
        "ledger_verify": {"ok": ledger_ok, "says": ledger_says},
        "audit_verify": {"ok": audit_ok, "says": audit_says},
        "kills": [asdict(k) for k in events.kills],
        "kills_mid_transfer": sum(1 for k in events.kills if k.mid_transfer),
        "restarts": events.restarts,
        "db_down_s": events.db_down_s,
        "float_holds": events.float_holds,
        "floats": floats,
        "problems": comparison.problems,
        "airtel_hash": "on" if config.airtel_hash else "off",
        **attack.details,
        "work_dir": str(d.root),
    }
    return Report(
        seed=config.seed,
        backend="sqlite" if config.sqlite else "postgresql",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        attempted=events.attempted,
        succeeded=comparison.succeeded,
        booked=comparison.booked,
        lost=comparison.lost,
        double_booked=comparison.double_booked,
        transfers=comparison.transfers,
        double_paid=comparison.double_paid,
        orphan_disbursements=comparison.orphan_disbursements,
        forged_sent=attack.log.forged_sent,
        forged_effective=attack.forged_effective,
        parked_callbacks=attack.parked,
        kills=len(events.kills),
        faults_by_type=dict(sorted(faults.items())),
        db_restarts=events.db_restarts,
        max_resolution_lag_s=round(lag_sim / config.speed, 2),
        invariants_ok=invariants_ok,
        passed=passed,
        details=details,
    )
