"""Checking the audit log as a whole: the chain, the signed checkpoints, truncation and the unsealed lag.

:func:`verify_log` walks the sealed chain (an edit or a deleted middle row breaks it), checks the latest
checkpoints in the database and every exported checkpoint given (``igflow audit verify --checkpoints``):
a signature that does not verify with the configured public key is a forgery; a checkpoint beyond the
chain's end means rows were deleted from the end (truncation); a head that differs from the chain's
hash at that row means the chain was rewritten and recomputed. Sealed rows that no signed checkpoint
covers are reported too (a deleted checkpoint), and how many rows wait for the sealer and for how long.

What it cannot see: rows deleted before they were sealed (seconds, the sealer's period), and rows
deleted from the end together with every checkpoint covering them, unless a copy of a checkpoint kept
outside the database (``igflow audit export-checkpoints``) is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.config import Settings
from igflow.db import utcnow
from igflow.security.audit import CHECKPOINT_VERSION, GENESIS_HASH, VerifyResult, canonical_json, verify_chain
from igflow.security.models import AuditCheckpoint, AuditEvent
from igflow.security.signing import SigningKeyError, key_id, load_verify_key, signature_valid


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as signed: from the database or from an exported JSON line."""

    source: str  # "database #<id>" or "<file>:<line>"
    last_seq: int
    head_hash: str
    at: str
    key_id: str
    payload: str
    signature: str
    edited: bool = False  # a database row whose query columns no longer match what was signed

    def json_line(self) -> str:
        return canonical_json({**json.loads(self.payload), "signature": self.signature})


def _from_payload(source: str, payload: str, signature: str) -> SignedCheckpoint:
    data = json.loads(payload)
    if not isinstance(data, dict) or data.get("v") != CHECKPOINT_VERSION:
        raise ValueError("not a version-1 audit checkpoint")
    last_seq, head, at, kid = data.get("last_seq"), data.get("head_hash"), data.get("at"), data.get("key_id")
    if not (
        isinstance(last_seq, int) and isinstance(head, str) and isinstance(at, str) and isinstance(kid, str)
    ):
        raise ValueError("a checkpoint needs last_seq, head_hash, at and key_id")
    return SignedCheckpoint(source, last_seq, head, at, kid, payload, signature)


def _db_checkpoint(row: AuditCheckpoint) -> SignedCheckpoint:
    # The columns are only a copy for queries; the signed payload is what counts.
    try:
        checkpoint = _from_payload(f"database #{row.id}", row.payload, row.signature)
    except ValueError:
        return SignedCheckpoint(
            f"database #{row.id}", row.last_seq, row.head_hash, "", row.key_id, "", row.signature, edited=True
        )
    if (checkpoint.last_seq, checkpoint.head_hash) != (row.last_seq, row.head_hash):
        return replace(checkpoint, edited=True)
    return checkpoint


def export_checkpoints(session: Session, out: IO[str], *, after_id: int = 0) -> int:
    """Every checkpoint in the database as JSON lines (the signed fields plus ``signature``)."""
    count = 0
    query = select(AuditCheckpoint).where(AuditCheckpoint.id > after_id).order_by(AuditCheckpoint.id)
    for row in session.execute(query.execution_options(yield_per=1000)).scalars():
        checkpoint = _db_checkpoint(row)
        if checkpoint.payload:  # an unreadable payload is reported by verify, not exported
            out.write(checkpoint.json_line() + "\n")
            count += 1
    return count


def read_checkpoint_lines(lines: Iterable[str], name: str) -> tuple[list[SignedCheckpoint], list[str]]:
    """Parse exported JSON lines; returns the checkpoints and a problem per unreadable line."""
    found: list[SignedCheckpoint] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            signature = data.pop("signature")
            if not isinstance(signature, str):
                raise ValueError("signature is not text")
            found.append(_from_payload(f"{name}:{number}", canonical_json(data), signature))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{name}:{number}: not a readable checkpoint ({exc})")
    return found, problems


@dataclass(frozen=True)
class CheckpointCheck:
    source: str
    last_seq: int
    head_hash: str
    at: str
    key_id: str
    signature_ok: bool
    matches_chain: bool | None  # None: not comparable (beyond the chain's end, or the chain is broken)


@dataclass
class AuditReport:
    """What ``igflow audit verify`` and the audit page show. ``ok`` is False when any problem was found."""

    rows_checked: int = 0
    first_broken_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    latest_checkpoint: CheckpointCheck | None = None
    checkpoints_checked: int = 0
    truncated_rows: int = 0  # rows missing from the end of the chain, by the furthest valid checkpoint
    uncovered_rows: int = 0  # sealed rows after the furthest valid checkpoint in the database
    unsealed_rows: int = 0
    unsealed_oldest_at: datetime | None = None
    unsealed_lag_s: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> str | None:
        return self.problems[0] if self.problems else None


_LOOKBACK = 10_000  # how far back to look for a genuine checkpoint when the newest ones are not


def _db_checkpoints_to_check(session: Session, public_key: Ed25519PublicKey | None) -> list[SignedCheckpoint]:
    """The newest checkpoint and the one reaching furthest (the same row unless something is off), and,
    when neither verifies, the newest one that does: forged checkpoints on top do not hide it."""
    newest = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).scalar()
    furthest = session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq.desc(), AuditCheckpoint.id.desc()).limit(1)
    ).scalar()
    rows = {r.id: r for r in (newest, furthest) if r is not None}
    found = [_db_checkpoint(r) for r in rows.values()]
    if public_key is None or any(_check_signature(c, public_key) is None for c in found):
        return found
    older = select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(_LOOKBACK)
    for row in session.execute(older.execution_options(yield_per=500)).scalars():
        if row.id in rows:
            continue
        checkpoint = _db_checkpoint(row)
        if _check_signature(checkpoint, public_key) is None:
            found.append(checkpoint)
            break
    return found


def _check_signature(checkpoint: SignedCheckpoint, public_key: Ed25519PublicKey | None) -> str | None:
    if checkpoint.edited:
        return f"checkpoint {checkpoint.source}: its columns differ from what was signed (edited)"
    if public_key is None:
        return None
    if not signature_valid(public_key, checkpoint.payload.encode(), checkpoint.signature):
        by = "" if checkpoint.key_id == key_id(public_key) else f" (it names key {checkpoint.key_id})"
        return (
            f"checkpoint {checkpoint.source} (row {checkpoint.last_seq}) has a signature that does not "
            f"verify with key {key_id(public_key)}{by}: forged or altered"
        )
    return None


def verify_log(
    session: Session,
    public_key: Ed25519PublicKey | None,
    external: Iterable[SignedCheckpoint] = (),
    *,
    max_lag_s: float | None = None,
    batch_size: int = 5000,
) -> AuditReport:
    """The whole check: chain, latest checkpoint (database) and every given exported checkpoint, truncation,
    coverage and unsealed lag. Checkpoints are read before the chain, so a seal committing meanwhile only
    adds rows after them (never a false truncation)."""
    report = AuditReport()
    db_before = _db_checkpoints_to_check(session, public_key)
    checkpoints = [*db_before, *external]
    hashes: dict[int, str] = {c.last_seq: "" for c in checkpoints}
    chain = verify_chain(session, batch_size, hashes)
    report.rows_checked = chain.rows_checked
    if public_key is None and (checkpoints or chain.rows_checked):
        report.problems.append("no public key configured: checkpoint signatures cannot be checked")
    if not chain.ok:
        report.first_broken_seq = chain.first_broken_seq
        report.problems.append(f"chain broken at row {chain.first_broken_seq}: {chain.problem}")
    chain_end = chain.rows_checked if chain.ok else _max_seq(session)
    trusted_to = 0
    for checkpoint in checkpoints:
        check = _compare(
            report, checkpoint, public_key, chain, chain_end, hashes.get(checkpoint.last_seq, "")
        )
        report.checkpoints_checked += 1
        if check.signature_ok and checkpoint.source.startswith("database"):
            trusted_to = max(trusted_to, checkpoint.last_seq)
        if report.latest_checkpoint is None and checkpoint.source.startswith("database"):
            report.latest_checkpoint = check
    # A seal may have committed while the chain was walked: its checkpoint covers the new rows.
    newest = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).scalar()
    if newest is not None and all(newest.id != _row_id(c) for c in db_before):
        late = _db_checkpoint(newest)
        if public_key is not None and _check_signature(late, public_key) is None:
            trusted_to = max(trusted_to, late.last_seq)
    if public_key is not None and chain.ok and chain_end > trusted_to:
        report.uncovered_rows = chain_end - trusted_to
        where = f"after row {trusted_to}" if trusted_to else "and no checkpoint at all"
        report.problems.append(
            f"{report.uncovered_rows} sealed rows {where} are not covered by a signed checkpoint: "
            "a checkpoint was deleted, or none was signed since they were sealed "
            "(run `igflow audit checkpoint`)"
        )
    _unsealed(session, report, max_lag_s)
    return report


def _row_id(checkpoint: SignedCheckpoint) -> int | None:
    prefix = "database #"
    return int(checkpoint.source[len(prefix) :]) if checkpoint.source.startswith(prefix) else None


def _max_seq(session: Session) -> int:
    return int(session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0)


def _compare(
    report: AuditReport,
    checkpoint: SignedCheckpoint,
    public_key: Ed25519PublicKey | None,
    chain: VerifyResult,
    chain_end: int,
    found_hash: str,
) -> CheckpointCheck:
    bad_signature = _check_signature(checkpoint, public_key)
    signature_ok = public_key is not None and bad_signature is None
    matches: bool | None = None
    if bad_signature is not None:
        report.problems.append(bad_signature)
    elif checkpoint.last_seq > chain_end:
        missing = checkpoint.last_seq - chain_end
        report.truncated_rows = max(report.truncated_rows, missing)
        report.problems.append(
            f"truncated: checkpoint {checkpoint.source} of {checkpoint.at} covers "
            f"{checkpoint.last_seq} rows, the chain has {chain_end}: the newest {missing} rows were deleted"
        )
    elif checkpoint.last_seq == 0:
        matches = checkpoint.head_hash == GENESIS_HASH
    elif chain.ok or checkpoint.last_seq < (chain.first_broken_seq or 0):
        matches = found_hash == checkpoint.head_hash
        if not matches:
            report.problems.append(
                f"rewritten: row {checkpoint.last_seq}'s hash differs from the one signed in checkpoint "
                f"{checkpoint.source} of {checkpoint.at}: rows up to it were changed and the chain recomputed"
            )
    return CheckpointCheck(
        checkpoint.source,
        checkpoint.last_seq,
        checkpoint.head_hash,
        checkpoint.at,
        checkpoint.key_id,
        signature_ok,
        matches,
    )


def unsealed_lag(session: Session) -> tuple[int, datetime | None]:
    """How many rows wait for the sealer, and when the oldest of them was written."""
    count = session.execute(select(func.count()).where(AuditEvent.seq.is_(None))).scalar_one()
    oldest = session.execute(
        select(AuditEvent.at).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(1)
    ).scalar()
    return int(count), oldest


def _unsealed(session: Session, report: AuditReport, max_lag_s: float | None) -> None:
    count, oldest = unsealed_lag(session)
    report.unsealed_rows = count
    if oldest is not None:
        report.unsealed_oldest_at = oldest
        report.unsealed_lag_s = max(0.0, (utcnow() - oldest).total_seconds())
        if max_lag_s is not None and report.unsealed_lag_s > max_lag_s:
            report.problems.append(
                f"{count} rows unsealed, the oldest for {report.unsealed_lag_s:.0f} s "
                f"(more than {max_lag_s:g} s): is the sealer running?"
            )


def verify_with_settings(
    session: Session,
    settings: Settings,
    external: Iterable[SignedCheckpoint] = (),
    *,
    public_key_file: Path | None = None,
    max_lag_s: float | None = None,
) -> AuditReport:
    """:func:`verify_log` with the public key the settings name (a key that cannot be read is a problem
    in the report, not an error)."""
    try:
        public_key = load_verify_key(settings, public_key_file)
    except SigningKeyError as exc:
        report = verify_log(session, None, external, max_lag_s=max_lag_s)
        report.problems.insert(0, f"cannot check checkpoint signatures: {exc.message}")
        return report
    return verify_log(session, public_key, external, max_lag_s=max_lag_s)
