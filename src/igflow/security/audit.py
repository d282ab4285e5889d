"""The audit log: append-only rows chained by SHA-256 over a canonical JSON form.

Each row's hash is ``sha256(prev_hash || canonical_json(fields))``. Changing, inserting or deleting
any row breaks the chain from that row on; :func:`verify_chain` finds the first broken row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.security.models import AuditEvent

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x16F10A  # serialises appends on PostgreSQL


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    client_address: str | None = None


SYSTEM = Actor(user_id=None, username="system")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _fields(
    seq: int,
    at: datetime,
    actor_user_id: int | None,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str | None,
    patient_id: int | None,
    outcome: str,
    client_address: str | None,
    detail: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_user_id": actor_user_id,
        "actor": actor,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "patient_id": patient_id,
        "outcome": outcome,
        "client_address": client_address,
        "detail": detail,
    }


def row_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def _event_fields(event: AuditEvent) -> dict[str, Any]:
    return _fields(
        event.seq,
        event.at,
        event.actor_user_id,
        event.actor,
        event.action,
        event.resource_type,
        event.resource_id,
        event.patient_id,
        event.outcome,
        event.client_address,
        event.detail,
    )


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    *,
    patient_id: int | None = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction (it commits or rolls back with the work)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    at = utcnow()
    detail_json = canonical_json(detail or {})
    rid = None if resource_id is None else str(resource_id)
    fields = _fields(
        seq,
        at,
        actor.user_id,
        actor.username,
        action,
        resource_type,
        rid,
        patient_id,
        outcome,
        actor.client_address,
        detail_json,
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        actor_user_id=actor.user_id,
        actor=actor.username,
        action=action,
        resource_type=resource_type,
        resource_id=rid,
        patient_id=patient_id,
        outcome=outcome,
        client_address=actor.client_address,
        detail=detail_json,
        prev_hash=prev_hash,
        hash=row_hash(prev_hash, fields),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_events(events: Iterable[AuditEvent]) -> VerifyResult:
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            return VerifyResult(
                False, count, event.seq, f"expected row {expected_seq}, found row {event.seq}"
            )
        if event.prev_hash != prev_hash:
            return VerifyResult(False, count, event.seq, "previous-hash link does not match the row before")
        if row_hash(prev_hash, _event_fields(event)) != event.hash:
            return VerifyResult(False, count, event.seq, "row content does not match its hash (altered)")
        prev_hash = event.hash
        expected_seq += 1
    return VerifyResult(True, count)


def verify_chain(session: Session, batch_size: int = 5000) -> VerifyResult:
    events = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    )
    return verify_events(events.scalars())
