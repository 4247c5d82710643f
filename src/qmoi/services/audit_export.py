"""The audit trail as a file an accountant can check without QMOI's database: JSON
lines, first a header with the instance's Ed25519 public key and the chain's head, then
every record. Verifying it needs only the file (and, to be sure the key is QMOI's, the
key id printed by ``qmoi audit export`` or shown in ``var/``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from qmoi.domain.audit import AuditRecord, Break, find_break
from qmoi.security.signing import Signer, Verifier
from qmoi.services.ports import UnitOfWorkFactory

FORMAT = "qmoi-audit-v1"


class ExportUnreadable(Exception):
    """The file is not a QMOI audit export (or is damaged beyond reading)."""


def export(uows: UnitOfWorkFactory, signer: Signer, out: TextIO) -> tuple[int, str]:
    """Write the header and every record; returns (records, key id)."""
    with uows(read_only=True) as uow:
        seq, head_hash = uow.audit.head()
        header = {
            "format": FORMAT,
            "key_id": signer.key_id,
            "public_key": signer.public_pem(),
            "exported_at": uow.now.isoformat(),
            "head": {"seq": seq, "hash": head_hash},
        }
        out.write(json.dumps(header, sort_keys=True) + "\n")
        count = 0
        for record in uow.audit.records():
            row = asdict(record)
            row["at"] = record.at.isoformat()
            out.write(json.dumps(row, sort_keys=True) + "\n")
            count += 1
    return count, signer.key_id


def verify_file(path: Path) -> tuple[str, int, Break | None]:
    """(key id, records checked, first break or None) from the file alone."""
    with path.open(encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines))
        except (StopIteration, ValueError) as exc:
            raise ExportUnreadable("the file is empty or its first line is not JSON") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ExportUnreadable(f"the first line does not announce {FORMAT}")
        try:
            verifier = Verifier.from_pem(str(header["public_key"]))
            head = (int(header["head"]["seq"]), str(header["head"]["hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportUnreadable("the header's public key or head is unreadable") from exc
        count, broken = find_break(
            _records(lines),
            lambda r: r.key_id == verifier.key_id and verifier.verify(r.hash, r.signature),
            head=head,
        )
    return verifier.key_id, count, broken


def _records(lines: Iterator[str]) -> Iterator[AuditRecord]:
    for number, line in enumerate(lines, start=2):
        try:
            row: dict[str, Any] = json.loads(line)
            row["at"] = datetime.fromisoformat(row["at"])
            yield AuditRecord(**row)
        except (ValueError, KeyError, TypeError) as exc:
            raise ExportUnreadable(f"line {number} is not an audit record") from exc
