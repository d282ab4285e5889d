"""The audit log is a hash chain: any edit, insertion or deletion is found, and appends never fork."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from igflow.cli import app as cli_app
from igflow.db import Database
from igflow.security import audit
from igflow.security.audit import Actor, verify_chain
from igflow.security.models import AuditEvent


def _append(db: Database, n: int) -> None:
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


def test_cli_audit_verify_exit_codes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _append(db, 5)
    monkeypatch.setenv("IGFLOW_DATABASE_URL", db.url)
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
    with db.session() as session:
        result = verify_chain(session)
    assert result.ok and result.rows_checked == 80


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
