"""The audit log: rows appended without a lock, chained in order by one sealer, and signed checkpoints
that catch truncation, rewrites with a recomputed chain and forged checkpoints."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update
from typer.testing import CliRunner

from igflow.cli import app as cli_app
from igflow.db import Database
from igflow.security import audit
from igflow.security.audit import Actor, verify_chain
from igflow.security.audit_verify import read_checkpoint_lines, verify_log
from igflow.security.models import AuditCheckpoint, AuditEvent
from igflow.security.signing import Signer, write_key_file

SIGNER = Signer.generate()  # the operator's key for these tests (synthetic)


def _append(db: Database, n: int, *, seal: bool = True) -> None:
    with db.session() as session:
        for i in range(n):
            audit.record(
                session,
                Actor(i % 3 + 1, f"user{i % 3}", "10.0.0.1"),
                "patient.read",
                "patient",
                i,
                patient_id=i,
            )
        session.commit()
    if seal:
        with db.session() as session:
            audit.seal_pending(session, SIGNER)


def test_intact_chain_verifies(db: Database) -> None:
    _append(db, 25)
    with db.session() as session:
        result = verify_chain(session)
    assert result.ok and result.rows_checked == 25


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "someone-else"), ("action", "patient.delete"), ("resource_id", "999"), ("detail", '{"x":1}')],
)
def test_tampering_with_a_row_in_the_database_is_caught(db: Database, column: str, value: str) -> None:
    _append(db, 10)
    with db.engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_event SET {column} = :v WHERE seq = 6"), {"v": value})
    with db.session() as session:
        result = verify_chain(session)
    assert not result.ok
    assert result.first_broken_seq == 6
    assert "altered" in (result.problem or "")


def test_deleting_a_row_is_caught(db: Database) -> None:
    _append(db, 10)
    with db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
        session.commit()
        result = verify_chain(session)
    assert not result.ok and result.first_broken_seq == 5


def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_next_link(db: Database) -> None:
    _append(db, 10)
    with db.session() as session:
        row = session.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
        row.actor = "forger"
        row.hash = audit.row_hash(row.prev_hash, audit._event_fields(row))
        session.commit()
        result = verify_chain(session)
    assert not result.ok and result.first_broken_seq == 4
    assert "previous-hash" in (result.problem or "")


def test_cli_audit_verify_exit_codes(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _append(db, 5)
    monkeypatch.setenv("IGFLOW_DATABASE_URL", db.url)
    key = tmp_path / "audit.key"
    write_key_file(SIGNER, key)
    monkeypatch.setenv("IGFLOW_AUDIT_SIGNING_KEY_FILE", str(key))
    from igflow.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["audit", "verify"])
    assert ok.exit_code == 0 and "5 rows checked" in ok.output
    with db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(outcome="failure"))
        session.commit()
    broken = runner.invoke(cli_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "broken at row 2" in broken.output
    get_settings.cache_clear()


def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    """Writers in parallel threads: every row lands and the chain stays linear (no fork, no gap)."""
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            _append(Database(db.url), 20)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as session:  # a sealer that found another one busy left the rest to the next run
        audit.seal_pending(session, SIGNER, wait=True)
    with db.session() as session:
        result = verify_chain(session)
        assert result.ok and result.rows_checked == 80
        assert verify_log(session, SIGNER.public_key).ok


class _Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=12),
    victim=st.integers(min_value=0, max_value=11),
    field=st.sampled_from(
        ["actor", "action", "resource_type", "resource_id", "outcome", "detail", "client_address"]
    ),
    new_value=st.text(min_size=1, max_size=8),
)
def test_any_single_field_change_is_detected(n: int, victim: int, field: str, new_value: str) -> None:
    """Pure property over in-memory rows: changing any field of any row breaks verification at that row."""
    from datetime import UTC, datetime

    rows = []
    prev = audit.GENESIS_HASH
    for i in range(1, n + 1):
        values = dict(
            seq=i,
            at=datetime(2026, 1, 1, tzinfo=UTC),
            actor_user_id=1,
            actor="u",
            action="patient.read",
            resource_type="patient",
            resource_id=str(i),
            patient_id=i,
            outcome="success",
            client_address="127.0.0.1",
            detail="{}",
        )
        row = _Row(**values, prev_hash=prev)
        row.hash = audit.row_hash(prev, audit._event_fields(row))  # type: ignore[arg-type]
        prev = row.hash
        rows.append(row)
    assert audit.verify_events(rows).ok  # type: ignore[arg-type]
    target = rows[victim % n]
    if getattr(target, field) == new_value:
        return
    setattr(target, field, new_value)
    result = audit.verify_events(rows)  # type: ignore[arg-type]
    assert not result.ok and result.first_broken_seq == target.seq


# --- sealing ---------------------------------------------------------------------------------------


def _seqs(db: Database) -> list[int | None]:
    with db.session() as session:
        return list(session.execute(select(AuditEvent.seq).order_by(AuditEvent.id)).scalars())


def test_requests_append_unsealed_rows_and_the_sealer_chains_them_in_order(db: Database) -> None:
    _append(db, 5, seal=False)
    assert _seqs(db) == [None] * 5
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key)
        assert report.ok and report.rows_checked == 0  # unsealed rows are lag, not a fault
        assert report.unsealed_rows == 5 and report.unsealed_lag_s is not None
    with db.session() as session:
        first = audit.seal_pending(session, SIGNER)
    assert (first.sealed, first.last_seq, len(first.checkpoint_ids)) == (5, 5, 1)
    _append(db, 3, seal=False)
    with db.session() as session:
        second = audit.seal_pending(session, SIGNER, batch_size=2)  # several batches, one checkpoint each
    assert (second.sealed, second.last_seq, len(second.checkpoint_ids)) == (3, 8, 2)
    with db.session() as session:
        idle = audit.seal_pending(session, SIGNER)
    assert (idle.sealed, idle.checkpoint_ids) == (0, ())  # nothing new: no new checkpoint
    assert _seqs(db) == list(range(1, 9))
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key)
        assert report.ok, report.problems
        assert report.rows_checked == 8 and report.unsealed_rows == 0
        assert report.latest_checkpoint is not None and report.latest_checkpoint.last_seq == 8
        assert report.latest_checkpoint.signature_ok and report.latest_checkpoint.matches_chain


def test_unsealed_lag_over_the_limit_is_a_problem(db: Database) -> None:
    _append(db, 2, seal=False)
    time.sleep(0.05)
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key, max_lag_s=0.01)
    assert not report.ok and "is the sealer running" in (report.problem or "")


# --- truncation, rewrite, forgery -------------------------------------------------------------------


def test_deleting_the_newest_rows_is_detected(db: Database) -> None:
    _append(db, 10)
    with db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq >= 9))
        session.commit()
    with db.session() as session:
        assert verify_chain(session).ok  # the chain alone cannot see it: rows 1..8 are intact
        report = verify_log(session, SIGNER.public_key)
    assert not report.ok and report.truncated_rows == 2
    assert any("truncated" in p and "newest 2 rows were deleted" in p for p in report.problems)


def test_the_sealer_will_not_extend_a_truncated_chain(db: Database) -> None:
    _append(db, 6)
    with db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 6))
        session.commit()
    _append(db, 2, seal=False)
    with db.session() as session, pytest.raises(audit.AuditTruncatedError, match="deleted"):
        audit.seal_pending(session, SIGNER)
    assert _seqs(db)[-2:] == [None, None]  # the new rows wait, unsealed, none lost
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key)
    assert report.truncated_rows == 1 and report.unsealed_rows == 2


def test_truncation_with_its_checkpoints_deleted_is_caught_by_an_exported_copy(db: Database) -> None:
    _append(db, 10)
    _append(db, 5)
    exported = io.StringIO()
    with db.session() as session:
        from igflow.security.audit_verify import export_checkpoints

        assert export_checkpoints(session, exported) == 2
    with db.session() as session:  # the intruder removes the newest rows and every checkpoint of them
        session.execute(delete(AuditEvent).where(AuditEvent.seq > 10))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_seq > 10))
        session.commit()
    with db.session() as session:
        assert verify_log(session, SIGNER.public_key).ok  # what the database alone can tell
        copies, unreadable = read_checkpoint_lines(exported.getvalue().splitlines(), "copy.jsonl")
        assert unreadable == [] and len(copies) == 2
        report = verify_log(session, SIGNER.public_key, copies)
    assert not report.ok and report.truncated_rows == 5
    assert any("copy.jsonl:2" in p and "truncated" in p for p in report.problems)


def _rewrite_and_rehash(db: Database, victim_seq: int) -> None:
    """What someone with write access to the table can do: change a row and recompute the chain."""
    with db.session() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq))
        prev = audit.GENESIS_HASH
        for row in rows.scalars():
            if row.seq == victim_seq:
                row.actor = "forger"
            row.prev_hash = prev
            row.hash = audit.row_hash(prev, audit._event_fields(row))
            prev = row.hash
        session.commit()


def test_a_rewrite_with_the_chain_recomputed_is_detected_by_the_signed_checkpoint(db: Database) -> None:
    _append(db, 10)
    _rewrite_and_rehash(db, 3)
    with db.session() as session:
        assert verify_chain(session).ok  # the recomputed chain is consistent in itself
        report = verify_log(session, SIGNER.public_key)
    assert not report.ok
    assert report.latest_checkpoint is not None and report.latest_checkpoint.matches_chain is False
    assert any("rewritten" in p and "row 10" in p for p in report.problems)


def test_a_checkpoint_forged_with_another_key_is_detected(db: Database) -> None:
    _append(db, 10)
    _rewrite_and_rehash(db, 7)
    intruder = Signer.generate()
    with db.session() as session:  # a fresh checkpoint of the rewritten head, signed with their own key
        audit.checkpoint_now(session, intruder)
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key)
    assert not report.ok
    assert report.latest_checkpoint is not None and not report.latest_checkpoint.signature_ok
    assert any("does not verify" in p and f"names key {intruder.key_id}" in p for p in report.problems)
    assert any("rewritten" in p for p in report.problems)  # the genuine checkpoint still disagrees


def test_editing_a_checkpoint_row_or_its_signature_is_detected(db: Database) -> None:
    _append(db, 4)
    with db.session() as session:
        session.execute(update(AuditCheckpoint).values(last_seq=3))
        session.commit()
        report = verify_log(session, SIGNER.public_key)
        assert any("differ from what was signed" in p for p in report.problems)
    with db.session() as session:
        row = session.execute(select(AuditCheckpoint)).scalar_one()
        row.payload = row.payload.replace('"last_seq":4', '"last_seq":3')  # columns and payload agree
        session.commit()
        report = verify_log(session, SIGNER.public_key)
        assert any("does not verify" in p for p in report.problems)


def test_deleting_every_checkpoint_leaves_sealed_rows_uncovered(db: Database) -> None:
    _append(db, 4)
    with db.session() as session:
        session.execute(delete(AuditCheckpoint))
        session.commit()
        report = verify_log(session, SIGNER.public_key)
    assert not report.ok and report.uncovered_rows == 4
    with db.session() as session:  # the operator signs a new one (e.g. just after the upgrade)
        audit.checkpoint_now(session, SIGNER)
        assert verify_log(session, SIGNER.public_key).ok


# --- keys ------------------------------------------------------------------------------------------


def test_keys_from_a_file_an_env_secret_or_the_development_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization

    from igflow.config import Settings
    from igflow.security.signing import SigningKeyError, load_signer, load_verify_key

    monkeypatch.chdir(tmp_path)
    assert load_verify_key(Settings()) is None  # verifying creates nothing
    dev = load_signer(Settings())  # first use: ./igflow-audit-signing.key, mode 0600
    assert (tmp_path / "igflow-audit-signing.key").stat().st_mode & 0o777 == 0o600
    assert load_signer(Settings()).key_id == dev.key_id
    missing = Settings(audit_signing_key_file=tmp_path / "nope.key")
    with pytest.raises(SigningKeyError, match="igflow audit keygen"):
        load_signer(missing)
    seed = SIGNER.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    from_env = Settings(audit_signing_key=base64.b64encode(seed).decode())
    assert load_signer(from_env).key_id == SIGNER.key_id
    write_key_file(SIGNER, tmp_path / "k" / "audit.key")
    public_only = Settings(audit_public_key_file=tmp_path / "k" / "audit.key.pub")
    verify_key = load_verify_key(public_only)
    assert verify_key is not None and SIGNER.key_id == audit_key_id(verify_key)


def audit_key_id(public_key: Any) -> str:
    from igflow.security.signing import key_id

    return key_id(public_key)


def test_cli_keygen_seal_checkpoint_export_and_verify(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from igflow.config import get_settings

    monkeypatch.setenv("IGFLOW_DATABASE_URL", db.url)
    key = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("IGFLOW_AUDIT_SIGNING_KEY_FILE", str(key))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(cli_app, ["audit", "keygen", str(key)])
        assert made.exit_code == 0, made.output
        assert os.stat(key).st_mode & 0o777 == 0o600 and (tmp_path / "keys" / "audit.key.pub").exists()
        assert runner.invoke(cli_app, ["audit", "keygen", str(key)]).exit_code == 2  # never overwritten
        _append(db, 5, seal=False)
        pending = runner.invoke(cli_app, ["audit", "verify"])
        assert pending.exit_code == 0 and "Unsealed: 5 rows" in pending.output
        sealed = runner.invoke(cli_app, ["audit", "seal"])
        assert sealed.exit_code == 0 and "Sealed 5 rows" in sealed.output, sealed.output
        assert runner.invoke(cli_app, ["audit", "checkpoint"]).exit_code == 0
        copy = tmp_path / "checkpoints.jsonl"
        exported = runner.invoke(cli_app, ["audit", "export-checkpoints", str(copy)])
        assert exported.exit_code == 0 and "2 checkpoints" in exported.output
        ok = runner.invoke(cli_app, ["audit", "verify", "--checkpoints", str(copy)])
        assert ok.exit_code == 0 and "signature valid" in ok.output and "5 rows checked" in ok.output
        other = tmp_path / "other.key"
        write_key_file(Signer.generate(), other)
        wrong_key = runner.invoke(cli_app, ["audit", "verify", "--public-key", str(other) + ".pub"])
        assert wrong_key.exit_code == 1 and "does not verify" in wrong_key.output
        with db.session() as session:
            session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
            session.execute(delete(AuditCheckpoint))
            session.commit()
        cut = runner.invoke(cli_app, ["audit", "verify", "--checkpoints", str(copy)])
        assert cut.exit_code == 1 and "truncated" in cut.output
    finally:
        get_settings.cache_clear()


# --- concurrency -----------------------------------------------------------------------------------


def test_concurrent_appends_while_sealers_run_seal_every_row_exactly_once(db: Database) -> None:
    """Writers append in parallel (some hold their transaction open a moment, so ids commit out of order)
    while three sealers run in a loop: every row is sealed once, seq 1..N without gaps, chain verifies."""
    writers, per_writer = 6, 30
    errors: list[BaseException] = []
    sealed: list[int] = []
    done = threading.Event()

    def writer(k: int) -> None:
        database = Database(db.url)
        try:
            for i in range(per_writer):
                with database.session() as session:
                    audit.record(session, Actor(k, f"w{k}"), "patient.read", "patient", i, patient_id=i)
                    if (k + i) % 4 == 0:
                        time.sleep(0.005)  # commit after others that got higher ids
                    session.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            database.dispose()

    def sealer() -> None:
        database = Database(db.url)
        try:
            while not done.is_set():
                with database.session() as session:
                    sealed.append(audit.seal_pending(session, SIGNER, batch_size=7).sealed)
                time.sleep(0.002)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            database.dispose()

    sealers = [threading.Thread(target=sealer) for _ in range(3)]
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in [*sealers, *threads]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in sealers:
        t.join()
    with db.session() as session:
        sealed.append(audit.seal_pending(session, SIGNER).sealed)
    assert errors == []
    total = writers * per_writer
    assert sum(sealed) == total  # no row sealed twice, none skipped
    assert sorted(s for s in _seqs(db) if s is not None) == list(range(1, total + 1))
    with db.session() as session:
        report = verify_log(session, SIGNER.public_key)
        assert report.ok, report.problems
        assert report.rows_checked == total and report.unsealed_rows == 0


@pytest.mark.postgres
def test_a_row_committed_after_a_higher_id_is_sealed_at_the_next_run(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): ids always commit in order")
    slow, fast = db.session(), db.session()
    try:
        late = audit.record(slow, Actor(1, "slow"), "patient.read", "patient", 1)  # id taken, not committed
        early = audit.record(fast, Actor(2, "fast"), "patient.read", "patient", 2)
        fast.commit()
        assert late.id < early.id
        with db.session() as session:
            assert audit.seal_pending(session, SIGNER).sealed == 1  # only what is committed
        slow.commit()
        with db.session() as session:
            assert audit.seal_pending(session, SIGNER).sealed == 1  # the lower id, not skipped
            by_id = {r.id: r.seq for r in session.execute(select(AuditEvent.id, AuditEvent.seq))}
            assert by_id[early.id] == 1 and by_id[late.id] == 2
            assert verify_log(session, SIGNER.public_key).ok
    finally:
        slow.close()
        fast.close()


@pytest.mark.postgres
def test_a_second_sealer_does_not_interleave(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("on SQLite the sealer's lock is the database's write lock (BEGIN IMMEDIATE)")
    _append(db, 3, seal=False)
    holder = db.session()
    try:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit.SEALER_LOCK_KEY})
        with db.session() as session:
            busy = audit.seal_pending(session, SIGNER)  # the job's mode: skip, do not queue
        assert busy.busy and busy.sealed == 0
        # Requests append freely while a sealer holds its lock: no request takes it.
        with db.session() as session:
            audit.record(session, Actor(1, "u"), "patient.read", "patient", 9)
            session.commit()
    finally:
        holder.rollback()
        holder.close()
    with db.session() as session:
        assert audit.seal_pending(session, SIGNER).sealed == 4


def test_the_api_and_the_audit_page_report_checkpoints_truncation_and_lag(world: Any, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    write_key_file(SIGNER, key)
    app_settings = world.app.state.settings
    world.app.state.settings = app_settings.model_copy(update={"audit_signing_key_file": key})
    auditor = world.client("auditor")
    assert world.client("nurse").get(f"/api/v1/patients/{world.patients['ann']}").status_code == 200
    pending = auditor.get("/api/v1/audit/verify").json()
    assert pending["ok"] and pending["unsealed_rows"] >= 1 and pending["unsealed_lag_s"] is not None
    events = auditor.get("/api/v1/audit/events").json()
    assert events and events[0]["seq"] is None and events[0]["id"] >= 1
    with world.db.session() as session:
        audit.seal_pending(session, SIGNER)
    sealed = auditor.get("/api/v1/audit/verify").json()
    assert sealed["ok"], sealed["problems"]
    assert (
        sealed["latest_checkpoint"]["signature_ok"] and sealed["latest_checkpoint"]["key_id"] == SIGNER.key_id
    )
    assert [e["seq"] for e in auditor.get("/api/v1/audit/events?after_seq=0").json()][:2] == [1, 2]
    page = auditor.get("/audit?verify=true")
    assert page.status_code == 200 and "Chain intact" in page.text and SIGNER.key_id in page.text
    with world.db.session() as session:
        last = session.execute(select(func.max(AuditEvent.seq))).scalar_one()
        session.execute(delete(AuditEvent).where(AuditEvent.seq == last))
        session.commit()
    cut = auditor.get("/api/v1/audit/verify").json()
    assert not cut["ok"] and cut["truncated_rows"] == 1
    page = auditor.get("/audit?verify=true")
    assert "truncated" in page.text and "newest 1 rows were deleted" in page.text
