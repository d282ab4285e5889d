"""A chart entry's client_id is atomic: concurrent submissions with the same id and different payloads
get one stored entry and 409s, never another request's entry answered as their own."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from igflow.db import Database
from igflow.errors import Conflict
from igflow.infusions import service
from igflow.infusions.models import ChartEntry
from igflow.infusions.schemas import EntryIn
from igflow.security.models import User
from igflow.security.service import principal_for_user
from tests.api.test_infusions_api import _booked
from tests.conftest import World


def _checked_in(world: World) -> int:
    appointment_id, _plan = _booked(world)
    return int(world.client("nurse").post(f"/api/v1/appointments/{appointment_id}/infusion").json()["id"])


def _checklist(iv_access: str) -> dict[str, Any]:
    return {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": iv_access}


def _race(world: World, record_id: int, payloads: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """Each thread submits the same client_id with its payload at the same moment."""
    barrier = threading.Barrier(len(payloads))
    outcomes: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def submit(k: int) -> None:
        database = Database(world.db.url)
        try:
            with database.session() as session:
                user = session.get(User, world.users["nurse"])
                assert user is not None
                principal = principal_for_user(user, client_address="tablet")
                data = EntryIn(client_id="tablet-race-0001", kind="checklist", payload=payloads[k])
                barrier.wait()
                try:
                    entry = service.chart(session, principal, record_id, data)
                    outcome: Any = (entry.id, entry.payload)
                except Conflict as exc:
                    outcome = exc
                except BaseException as exc:  # pragma: no cover - reported by the assertions
                    outcome = exc
        finally:
            database.dispose()
        with lock:
            outcomes.append((k, outcome))

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes, key=lambda o: o[0])


@pytest.mark.parametrize("rounds", [3])
def test_same_client_id_different_payloads_one_entry_and_409s(world: World, rounds: int) -> None:
    if not world.db.is_postgres:
        pytest.skip("the race needs concurrent transactions: SQLite serialises writers (BEGIN IMMEDIATE)")
    record_id = _checked_in(world)
    for _ in range(rounds):
        with world.db.session() as session:
            session.execute(ChartEntry.__table__.delete().where(ChartEntry.client_id == "tablet-race-0001"))
            session.commit()
        payloads = [_checklist("22G left" if k % 2 else "20G right") for k in range(8)]
        outcomes = _race(world, record_id, payloads)
        with world.db.session() as session:
            stored = session.execute(
                select(ChartEntry).where(ChartEntry.client_id == "tablet-race-0001")
            ).scalar_one()
            assert (
                session.execute(
                    select(func.count()).where(ChartEntry.client_id == "tablet-race-0001")
                ).scalar_one()
                == 1
            )
        for k, outcome in outcomes:
            if payloads[k] == stored.payload:
                assert outcome == (stored.id, stored.payload), (k, outcome)  # its own entry (or a replay)
            else:
                assert isinstance(outcome, Conflict), (k, outcome)  # never the other payload's entry
                assert (
                    outcome.status_code == 409
                    and "already used for a different chart entry" in outcome.message
                )


def test_same_client_id_same_payload_concurrently_replays_the_one_entry(world: World) -> None:
    if not world.db.is_postgres:
        pytest.skip("the race needs concurrent transactions: SQLite serialises writers (BEGIN IMMEDIATE)")
    record_id = _checked_in(world)
    outcomes = _race(world, record_id, [_checklist("22G left")] * 6)
    ids = {outcome[0] for _k, outcome in outcomes if isinstance(outcome, tuple)}
    assert len(ids) == 1 and all(isinstance(o, tuple) for _k, o in outcomes), outcomes


def test_a_reused_client_id_with_another_payload_is_a_clear_409(world: World) -> None:
    """The sequential case (both backends), through the API."""
    record_id = _checked_in(world)
    nurse = world.client("nurse")
    body = {"client_id": "tablet-reuse-0001", "kind": "checklist", "payload": _checklist("22G left")}
    first = nurse.post(f"/api/v1/infusions/{record_id}/entries", json=body)
    assert first.status_code == 201
    again = nurse.post(f"/api/v1/infusions/{record_id}/entries", json=body)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = nurse.post(
        f"/api/v1/infusions/{record_id}/entries", json={**body, "payload": _checklist("20G right")}
    )
    assert other.status_code == 409
    assert (
        other.json()["field"] == "client_id" and "a retry must send the same entry" in other.json()["detail"]
    )
