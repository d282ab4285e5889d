"""The audit log: append-only rows, chained by SHA-256 by one sealer, with Ed25519-signed checkpoints.

Requests only append (:func:`record`): an INSERT in the caller's transaction, numbered by the
database (``id``: a sequence on PostgreSQL, the rowid on SQLite), with no lock beyond the row's own.

The sealer (:func:`seal_pending`, run every few seconds by the background worker or by
``igflow audit seal``) takes the one sealer lock (an advisory transaction lock on PostgreSQL; on SQLite
every transaction is ``BEGIN IMMEDIATE``), reads the chain head, and gives every committed unsealed row,
in ``id`` order, the next ``seq`` and ``hash = sha256(prev_hash || canonical_json(fields))``. A row
whose transaction got a lower id but committed later is simply still unsealed at the next run, so it is
chained then, after rows with higher ids: the chain order is the sealing order, never a high-water mark
over ids that could skip it. Each seal signs a checkpoint (head hash, last ``seq``, time) in the same
transaction, with a key that is not in the database (:mod:`igflow.security.signing`).

``audit_verify.verify_log`` walks the chain (edits and deleted middle rows break it), checks the latest
checkpoint's signature and head (a rewrite with a recomputed chain no longer matches; a forged
checkpoint does not verify), reports rows missing from the end (truncation) against the database's
and an exported file's checkpoints, sealed rows no checkpoint covers, and the unsealed lag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from igflow.config import Settings
from igflow.db import Database, utcnow
from igflow.security.models import AuditCheckpoint, AuditEvent
from igflow.security.signing import Signer, load_signer

GENESIS_HASH = "0" * 64
SEALER_LOCK_KEY = 0x16F10A  # PostgreSQL advisory lock: held by the sealer only, never by requests
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    client_address: str | None = None


SYSTEM = Actor(user_id=None, username="system")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        "at": _iso(at),
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


def _event_fields(event: Any, seq: int | None = None) -> dict[str, Any]:
    return _fields(
        event.seq if seq is None else seq,
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
    """Append one unsealed audit row in the caller's transaction (it commits or rolls back with the
    work). No lock is taken: the sealer chains the row after it commits."""
    event = AuditEvent(
        at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.username,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        patient_id=patient_id,
        outcome=outcome,
        client_address=actor.client_address,
        detail=canonical_json(detail or {}),
    )
    session.add(event)
    session.flush()
    return event


# --- sealing ------------------------------------------------------------------------------------------


class AuditTruncatedError(RuntimeError):
    """The chain is shorter than a checkpoint says: the sealer will not extend a truncated chain."""


@dataclass(frozen=True)
class SealResult:
    sealed: int  # rows chained by this call
    last_seq: int  # the chain head after it
    head_hash: str
    checkpoint_ids: tuple[int, ...] = ()
    busy: bool = False  # another sealer held the lock (wait=False): nothing was done


def _take_sealer_lock(session: Session, wait: bool) -> bool:
    """One sealer at a time. PostgreSQL: an advisory lock for this transaction (requests never take
    it). SQLite: the first statement of every transaction is ``BEGIN IMMEDIATE`` (``igflow.db``), which
    is the database's one write lock, so starting the transaction is the lock."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(select(1))  # begins the transaction: BEGIN IMMEDIATE
        return True
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEALER_LOCK_KEY})
        return True
    return bool(
        session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEALER_LOCK_KEY}).scalar()
    )


def _head(session: Session) -> tuple[int, str]:
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0, GENESIS_HASH
    return int(last[0] or 0), str(last[1])


def _covered_seq(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(AuditCheckpoint.last_seq), 0))).scalar_one())


_UNSEALED_COLUMNS = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor_user_id,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.resource_type,
    AuditEvent.resource_id,
    AuditEvent.patient_id,
    AuditEvent.outcome,
    AuditEvent.client_address,
    AuditEvent.detail,
)

_table = cast(Table, AuditEvent.__table__)
_SEAL_ROW = (
    update(_table)
    .where(_table.c.id == bindparam("row_id"), _table.c.seq.is_(None))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
)


def _seal_batch(
    session: Session, signer: Signer, limit: int, reason: str
) -> tuple[int, int, str, int | None]:
    """Chain up to ``limit`` committed unsealed rows (the caller holds the sealer lock) and sign a
    checkpoint when the head moved past the last one. Returns (sealed, last_seq, head, checkpoint id)."""
    seq, prev = _head(session)
    start = seq
    covered = _covered_seq(session)
    if seq < covered:
        raise AuditTruncatedError(
            f"the audit chain ends at row {seq} but a checkpoint covers {covered} rows: rows were deleted "
            "from its end. Sealing stops (new rows stay unsealed, none is lost) until this is investigated; "
            "see `igflow audit verify`."
        )
    rows: list[Row[Any]] = list(
        session.execute(
            select(*_UNSEALED_COLUMNS).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(limit)
        )
    )
    params = []
    for row in rows:
        seq += 1
        digest = row_hash(prev, _event_fields(row, seq))
        params.append({"row_id": row.id, "new_seq": seq, "new_prev": prev, "new_hash": digest})
        prev = digest
    if params:
        session.execute(_SEAL_ROW, params)
        done = session.execute(select(func.count()).where(AuditEvent.seq > start)).scalar_one()
        if done != len(params):  # only possible if something else sealed under us: refuse, roll back
            raise RuntimeError(
                f"audit sealing: expected {len(params)} rows sealed after {start}, found {done}"
            )
    checkpoint_id = None
    if seq > covered or reason == "manual":
        checkpoint_id = _write_checkpoint(session, signer, seq, prev, reason).id
    return len(params), seq, prev, checkpoint_id


def seal_pending(
    session: Session,
    signer: Signer,
    *,
    batch_size: int = 5000,
    wait: bool = False,
    max_batches: int | None = None,
) -> SealResult:
    """Chain every committed unsealed audit row, in id order, and sign a checkpoint of the new head.

    This is the background job: schedule it every few seconds (``igflow audit seal`` runs it once or
    with ``--every``). ``session`` should be fresh; each batch is its own transaction and is committed
    here, so the write lock (SQLite) or the sealer lock (PostgreSQL) is held for one batch only. With
    ``wait=False`` a call that finds another sealer running returns ``busy`` at once, which is what a
    periodic job wants; ``wait=True`` queues behind it. Safe to run from several workers at once.
    """
    sealed, checkpoints = 0, list[int]()
    last_seq, head = 0, GENESIS_HASH
    batches = 0
    while True:
        if session.in_transaction():
            session.commit()
        if not _take_sealer_lock(session, wait):
            session.rollback()
            return SealResult(sealed, last_seq, head, tuple(checkpoints), busy=batches == 0)
        try:
            n, last_seq, head, checkpoint_id = _seal_batch(session, signer, batch_size, "seal")
            session.commit()
        except BaseException:
            session.rollback()
            raise
        sealed += n
        batches += 1
        if checkpoint_id is not None:
            checkpoints.append(checkpoint_id)
        if n < batch_size or (max_batches is not None and batches >= max_batches):
            return SealResult(sealed, last_seq, head, tuple(checkpoints))


def checkpoint_now(session: Session, signer: Signer, *, batch_size: int = 5000) -> SealResult:
    """Seal what is pending, then sign a fresh ("manual") checkpoint of the head, even if nothing was new:
    ``igflow audit checkpoint``, before exporting checkpoints for safekeeping."""
    sealed = seal_pending(session, signer, batch_size=batch_size, wait=True)
    if session.in_transaction():
        session.commit()
    _take_sealer_lock(session, wait=True)
    try:
        _, last_seq, head, checkpoint_id = _seal_batch(session, signer, batch_size, "manual")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    ids = (*sealed.checkpoint_ids, checkpoint_id) if checkpoint_id is not None else sealed.checkpoint_ids
    return SealResult(sealed.sealed, last_seq, head, ids)


# --- checkpoints -----------------------------------------------------------------------------------


def _write_checkpoint(
    session: Session, signer: Signer, last_seq: int, head: str, reason: str
) -> AuditCheckpoint:
    at = utcnow()
    payload = canonical_json(
        {
            "v": CHECKPOINT_VERSION,
            "last_seq": last_seq,
            "head_hash": head,
            "at": _iso(at),
            "key_id": signer.key_id,
        }
    )
    checkpoint = AuditCheckpoint(
        last_seq=last_seq,
        head_hash=head,
        created_at=at,
        key_id=signer.key_id,
        reason=reason,
        payload=payload,
        signature=signer.sign(payload.encode()),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


# --- verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_events(events: Iterable[Any], hashes_at: dict[int, str] | None = None) -> VerifyResult:
    """Walk sealed rows in ``seq`` order: seq 1, 2, 3... each linked to and hashed over the one before.
    ``hashes_at`` (seq -> None) is filled with the hash found at those positions."""
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
        if hashes_at is not None and event.seq in hashes_at:
            hashes_at[event.seq] = event.hash
        prev_hash = event.hash
        expected_seq += 1
    return VerifyResult(True, count)


def _sealed_events(session: Session, batch_size: int) -> Iterator[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
    return iter(session.execute(query.execution_options(yield_per=batch_size)).scalars())


def verify_chain(
    session: Session, batch_size: int = 5000, hashes_at: dict[int, str] | None = None
) -> VerifyResult:
    """The hash chain of the sealed rows alone, without checkpoints (``audit_verify.verify_log`` does
    the whole check)."""
    return verify_events(_sealed_events(session, batch_size), hashes_at)


def seal_database(database: Database, settings: Settings, *, wait: bool = False) -> SealResult:
    """One sealer run with the settings' signing key: what the background worker schedules every few
    seconds (``igflow audit seal --every N`` is the same loop without a worker). Returns at once with
    ``busy`` when another sealer is running (``wait=False``)."""
    signer = load_signer(settings)
    with database.session() as session:
        return seal_pending(session, signer, wait=wait)
