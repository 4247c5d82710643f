"""``GET /api/qmoi/audit``: the signed audit trail, for owners and auditors, by page."""

from __future__ import annotations

import json
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Query

from qmoi.api.deps import AuditDep, ServicesDep
from qmoi.api.errors import documented
from qmoi.api.schemas import AuditQuery

router = APIRouter(prefix="/api/qmoi", tags=["audit"])


@router.get(
    "/audit",
    responses=documented(401, 403, 422),
    summary="audit records after a sequence number (owner, auditor)",
)
def audit_trail(
    _: AuditDep,
    svc: ServicesDep,
    page: Annotated[AuditQuery, Query()],
) -> dict[str, Any]:
    after, limit = page.after, page.limit
    with svc.uows(read_only=True) as uow:
        records = list(islice(uow.audit.records(batch=limit, after=after), limit))
    items = [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "payload": json.loads(r.payload),
            "prev_hash": r.prev_hash,
            "hash": r.hash,
            "signature": r.signature,
            "key_id": r.key_id,
        }
        for r in records
    ]
    return {"items": items, "next_after": items[-1]["seq"] if len(items) == limit else None}
