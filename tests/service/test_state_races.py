"""Concurrent status changes on PostgreSQL: of two requests from the same state exactly one wins, the
other gets a 409 that says the row changed meanwhile (referrals, infusion records, work tasks)."""

from __future__ import annotations

from typing import Any

from igflow.errors import Conflict
from igflow.infusions import service as infusions_service
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.infusions.schemas import EntryIn
from igflow.referrals import service as referrals_service
from igflow.referrals.models import Referral
from igflow.referrals.schemas import ReferralDecision
from tests.api.test_infusions_api import Chart, _booked, _lots_for
from tests.api.test_referrals_api import _referral
from tests.conftest import World
from tests.races import needs_concurrency, race


def _one_won(outcomes: list[Any]) -> tuple[Any, Conflict]:
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], Conflict) and losers[0].status_code == 409, losers
    return winners[0], losers[0]


def test_concurrent_accept_and_decline_of_a_referral(world: World) -> None:
    needs_concurrency(world)
    referral = _referral(world).json()

    def decide(status: str, reason: str) -> Any:
        data = ReferralDecision(status=status, reason=reason, version=referral["version"])
        return lambda s, p: referrals_service.decide(s, p, referral["id"], data, None).status

    outcomes = race(
        world, [("pharmacist", decide("accepted", "")), ("pharmacist", decide("declined", "not indicated"))]
    )
    winner, _loser = _one_won(outcomes)
    with world.db.session() as session:
        stored = session.get(Referral, referral["id"])
        assert stored is not None and stored.status == winner and stored.version == referral["version"] + 1


def _ready_to_start(world: World) -> int:
    appointment_id, plan = _booked(world)
    scans = _lots_for(world, plan)
    record = world.client("nurse").post(f"/api/v1/appointments/{appointment_id}/infusion").json()
    chart = Chart(world, record["id"])
    chart("checklist", {"identifiers": ["name", "mrn"], "hydration": True, "iv_access": "22G"})
    chart("weight", {"weight_kg": plan["weight_kg"]})
    chart("vitals", {"systolic_bp_mmhg": 124, "heart_rate_bpm": 72})
    for scan in scans:
        assert chart("vial", {"scan_text": scan}).status_code == 201
    return int(record["id"])


def test_two_tablets_starting_the_same_infusion(world: World) -> None:
    needs_concurrency(world)
    record_id = _ready_to_start(world)

    def start(client_id: str) -> Any:
        data = EntryIn(client_id=client_id, kind="start", payload={})
        return lambda s, p: infusions_service.chart(s, p, record_id, data).id

    _winner, loser = _one_won(
        race(world, [("nurse", start("tablet-a-0001")), ("nurse", start("tablet-b-0001"))])
    )
    assert "changed meanwhile" in loser.message or "already started" in loser.message
    with world.db.session() as session:
        record = session.get(InfusionRecord, record_id)
        assert record is not None and record.status == "infusing"
        starts = [e for e in infusions_service._entries(session, record_id) if e.kind == "start"]
        assert len(starts) == 1


def test_two_nurses_completing_the_same_follow_up_task(world: World) -> None:
    needs_concurrency(world)
    record_id = _ready_to_start(world)
    with world.db.session() as session:
        record = session.get(InfusionRecord, record_id)
        assert record is not None
        task = infusions_service._task(session, "reaction_review", "nurse", record, "Review", {})
        session.commit()
        task_id = task.id

    def complete(note: str) -> Any:
        return lambda s, p: infusions_service.complete_task(s, p, task_id, {}, note).id

    race_outcomes = race(world, [("nurse", complete("called, fine")), ("nurse", complete("no answer"))])
    _winner, loser = _one_won(race_outcomes)
    assert "the task" in loser.message
    with world.db.session() as session:
        stored = session.get(WorkTask, task_id)
        assert stored is not None and stored.status == "done"
