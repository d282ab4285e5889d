"""A lot's status moves only as ``inventory.states.LOT`` allows: every other action is a 409 on ``action``
in words (and changes nothing), and of two concurrent status changes of one lot that both read the same
state exactly one wins, the other gets a 409, and the stock ledger stays consistent (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from igflow.errors import Conflict
from igflow.inventory import service
from igflow.inventory.models import InventoryLot, StockAllocation, StockBalance, StockMove
from igflow.inventory.schemas import StatusChangeOut, StatusIn
from igflow.inventory.service import lots as lots_service
from igflow.inventory.states import ACTIONS, LOT, action_allowed
from tests.api.test_inventory_api import booked_appointment, patient, receive
from tests.conftest import World
from tests.races import needs_concurrency, race
from tests.service.test_inventory import _principal

#: (from, action) -> to, for every action the pharmacy may take; written out again here so that a change
#: to the table is a change to this test too. Expired is derived from dates, not a status.
ALLOWED = {
    ("available", "quarantine"): "quarantined",
    ("available", "recall"): "recalled",
    ("quarantined", "release"): "available",
    ("quarantined", "recall"): "recalled",
}
PAIRS = [(state, action) for state in sorted(LOT.states) for action in sorted(ACTIONS)]


class _NoSession:
    """A refused move is decided before any SQL: touching the session fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused move used the session ({name})")


def _readable(message: str, current: str) -> None:
    assert message.startswith("action: the lot ")
    assert LOT.label(current) in message
    assert "_" not in message.split(": ", 1)[1]  # words, not internal codes


@given(st.sampled_from(sorted(LOT.states)), st.sampled_from(sorted(ACTIONS)))
def test_only_the_listed_actions_are_allowed_and_the_rest_are_409_in_words(current: str, action: Any) -> None:
    to, start = ACTIONS[action]
    assert action_allowed(current, action) == ((current, action) in ALLOWED)
    if (current, action) in ALLOWED:
        assert ALLOWED[(current, action)] == to
        return
    lot = SimpleNamespace(id=0, status=current)
    with pytest.raises(Conflict) as caught:
        LOT.move(_NoSession(), lot, to, expected=start, field_name="action")  # type: ignore[arg-type]
    assert caught.value.status_code == 409 and caught.value.field == "action"
    _readable(caught.value.message, current)


def _lot_in(world: World, state: str, name: str) -> int:
    """A received lot (north, 10 vials), brought to ``state`` through the API."""
    lot = receive(world, lot=name, code="390000000001", count=10)
    pharm = world.client("pharmacist")
    steps = {"available": [], "quarantined": ["quarantine"], "recalled": ["recall"]}[state]
    for action in steps:
        done = pharm.post(
            f"/api/v1/inventory/lots/{lot['id']}/status", json={"action": action, "reason": "set up"}
        )
        assert done.status_code == 200, done.text
    return int(lot["id"])


def _status_moves(world: World, lot_id: int) -> list[str]:
    with world.db.session() as session:
        return list(
            session.execute(
                select(StockMove.kind)
                .where(StockMove.lot_id == lot_id, StockMove.kind.in_(sorted(ACTIONS)))
                .order_by(StockMove.id)
            ).scalars()
        )


def test_every_action_from_every_state_through_the_api(world: World) -> None:
    pharm = world.client("pharmacist")
    for k, (state, action) in enumerate(PAIRS):
        lot_id = _lot_in(world, state, f"ST{k:02d}")
        before = _status_moves(world, lot_id)
        response = pharm.post(
            f"/api/v1/inventory/lots/{lot_id}/status", json={"action": action, "reason": "a reason"}
        )
        if (state, action) in ALLOWED:
            assert response.status_code == 200, (state, action, response.text)
            assert response.json()["lot"]["status"] == ALLOWED[(state, action)]
            assert response.json()["move"]["detail"]["from_status"] == state
            assert _status_moves(world, lot_id) == [*before, action]
            continue
        assert response.status_code == 409, (state, action, response.text)
        assert response.json()["field"] == "action"
        _readable(response.json()["detail"], state)
        assert pharm.get(f"/api/v1/inventory/lots/{lot_id}").json()["status"] == state
        assert _status_moves(world, lot_id) == before  # nothing written
    with world.db.session() as session:
        assert service.ledger_check(session) == []


def _allocated_lot(world: World) -> int:
    """A lot at north with vials allocated to a booked appointment (FEFO run over its day)."""
    booked = booked_appointment(world, patient(world, "rae", "LST001"))
    appt, plan = booked["appointment"], booked["plan"]
    vials = next(d for d in plan["days"] if d["day"] == 1)["vials"]
    lots = [
        receive(world, lot=f"RC{k}", code=f"38100000000{k}", size=v["size_g"], count=v["count"] + 2)
        for k, v in enumerate(vials)
    ]
    with world.db.session() as session:
        run = service.run_allocation(
            session, _principal(world, "pharmacist"), dt.date.fromisoformat(appt["date"]), 1
        )
        assert run.shortfalls == [] and run.allocated_vials > 0
    return int(lots[0]["id"])


@pytest.mark.postgres
@pytest.mark.parametrize(
    "start, actions",
    [
        ("available", ("quarantine", "recall")),
        ("quarantined", ("release", "recall")),
        ("available", ("quarantine", "quarantine")),
    ],
)
def test_two_concurrent_status_changes_of_one_lot(
    world: World, monkeypatch: pytest.MonkeyPatch, start: str, actions: tuple[str, str]
) -> None:
    needs_concurrency(world)
    lot_id = _allocated_lot(world)
    pharm = _principal(world, "pharmacist")
    if start == "quarantined":
        with world.db.session() as session:
            service.change_status(
                session, pharm, lot_id, StatusIn(action="quarantine", reason="fridge alarm")
            )
    with world.db.session() as session:
        held = session.execute(
            select(func.coalesce(func.sum(StockAllocation.count), 0)).where(StockAllocation.lot_id == lot_id)
        ).scalar_one()
    assert (held > 0) == (start == "available")
    moves_before = _status_moves(world, lot_id)

    # Both requests read the lot in the same state before either moves it (else the second would simply
    # see the first's result, which may allow it: a recall after a quarantine is a fine sequence).
    read_both = threading.Barrier(2, timeout=30)
    checked = lots_service._require_every_holding_site

    def then_wait(session: Any, principal: Any, lot: InventoryLot) -> None:
        checked(session, principal, lot)
        read_both.wait()

    monkeypatch.setattr(lots_service, "_require_every_holding_site", then_wait)

    def change(action: Any) -> Any:
        return lambda s, p: service.change_status(s, p, lot_id, StatusIn(action=action, reason="race"))

    outcomes = race(world, [("pharmacist", change(action)) for action in actions])
    winners = [o for o in outcomes if isinstance(o, StatusChangeOut)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    loser = losers[0]
    assert isinstance(loser, Conflict) and loser.status_code == 409 and loser.field == "action", loser
    assert "changed meanwhile" in loser.message or "already" in loser.message, loser.message
    winner = winners[0]
    won = actions[outcomes.index(winner)]
    assert winner.lot.status == ACTIONS[won][0]  # type: ignore[index]
    assert _status_moves(world, lot_id) == [*moves_before, won]  # one status move, the winner's
    with world.db.session() as session:
        stored = session.get(InventoryLot, lot_id)
        assert stored is not None and stored.status == winner.lot.status
        assert service.ledger_check(session) == []
        balances = session.execute(select(StockBalance).where(StockBalance.lot_id == lot_id)).scalars().all()
        holds = (
            session.execute(select(StockAllocation).where(StockAllocation.lot_id == lot_id)).scalars().all()
        )
        assert sum(b.allocated for b in balances) == sum(h.count for h in holds) == 0
        assert all(b.on_hand >= 0 for b in balances)
    # the allocations were released once, by the winner (a quarantine or recall from available)
    assert sum(r.count for r in winner.released) == (held if start == "available" else 0)


def test_a_quarantine_during_an_allocation_run_leaves_no_vial_allocated_on_the_lot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run reads the usable lots, computes, then writes allocations; a quarantine arriving while it
    computes waits for the run and then releases what the run allocated (before: it committed between
    the read and the writes, and the run allocated vials of a quarantined lot)."""
    needs_concurrency(world)
    from igflow.inventory.service import allocation

    pid = patient(world, "qua", "QRA001")
    booked = booked_appointment(world, pid)
    vials = next(d for d in booked["plan"]["days"] if d["day"] == 1)["vials"]
    lots = [
        receive(world, lot=f"QA{k}", code=f"39100000000{k}", size=v["size_g"], count=v["count"] + 2)
        for k, v in enumerate(vials)
    ]
    computing, quarantined = threading.Event(), threading.Event()
    real = allocation.core.allocate_with_shortage

    def slow(*args: Any, **kwargs: Any) -> Any:
        computing.set()
        quarantined.wait(timeout=3)  # the quarantine waits on the run's lock, so this times out
        return real(*args, **kwargs)

    monkeypatch.setattr(allocation.core, "allocate_with_shortage", slow)
    day = dt.date.fromisoformat(booked["appointment"]["date"])

    def run(s: Any, p: Any) -> Any:
        return service.run_allocation(s, p, day, 1).allocated_vials

    def quarantine(s: Any, p: Any) -> Any:
        computing.wait(timeout=10)
        out = service.change_status(s, p, lots[0]["id"], StatusIn(action="quarantine", reason="temp log"))
        quarantined.set()
        return out

    outcomes = race(world, [("pharmacist", run), ("pharmacist", quarantine)])
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    with world.db.session() as session:
        held = session.execute(
            select(func.coalesce(func.sum(StockAllocation.count), 0)).where(
                StockAllocation.lot_id == lots[0]["id"]
            )
        ).scalar_one()
        lot = session.get(InventoryLot, lots[0]["id"])
        assert lot is not None and lot.status == "quarantined"
        assert held == 0, "vials of a quarantined lot are allocated"
        assert service.ledger_check(session) == []
