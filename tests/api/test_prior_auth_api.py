"""Coverage and prior authorisation through the API: the packet from the chart with what is missing, every
transition (and the refused ones, 409), CMS-0057-F due dates, the payer's decision, appeal, bookings
warned beyond the authorisation (or stopped, when the payer says so), re-authorisation tasks, PAS export
and import, and the letter job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from igflow.authorizations.states import PRIOR_AUTH
from igflow.infusions.models import WorkTask
from igflow.security.models import AuditEvent
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World
from tests.races import needs_concurrency, race

TODAY = dt.date.today()


def _payer(world: World, code: str = "medicaid-x", **extra: Any) -> int:
    response = world.client("intake").post(
        "/api/v1/payers", json={"code": code, "name": f"Payer {code}", "cms_0057f": True, **extra}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _setup(world: World, key: str = "pat", mrn: str = "PA001", **payer: Any) -> dict[str, Any]:
    pid = _patient(world, key, mrn)
    referral = world.client("intake").post(
        "/api/v1/referrals",
        json={
            "patient_id": pid,
            "received_on": "2026-11-02",
            "prescriber_id": world.prescriber_id,
            "icd10_code": "D83.9",
            "diagnosis_text": "Common variable immunodeficiency",
            "indication_id": "pid",
            "urgency": "soon",
        },
    )
    assert referral.status_code == 201, referral.text
    oid = _verified_order(world, pid)
    payer_id = _payer(world, payer.pop("code", f"payer-{key}"), **payer)
    coverage = world.client("intake").post(
        f"/api/v1/patients/{pid}/coverages",
        json={"payer_id": payer_id, "member_id": "SYN-0001", "group_number": "G1", "rank": 1},
    )
    assert coverage.status_code == 201, coverage.text
    return {"patient_id": pid, "order_id": oid, "coverage_id": coverage.json()["id"], "payer_id": payer_id}


def _open(world: World, s: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = world.client("prior_auth").post(
        "/api/v1/prior-auth", json={"order_id": s["order_id"], "coverage_id": s["coverage_id"], **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ready(world: World, rid: int, infusions: int = 6) -> dict[str, Any]:
    pa = world.client("prior_auth")
    put = pa.put(
        f"/api/v1/prior-auth/{rid}/requested",
        json={
            "requested_infusions": infusions,
            "requested_grams": 240.0,
            "requested_start": TODAY.isoformat(),
            "requested_end": (TODAY + dt.timedelta(days=180)).isoformat(),
        },
    )
    assert put.status_code == 200, put.text
    attest = pa.post(
        f"/api/v1/prior-auth/{rid}/attestations", json={"requirement_id": "smn", "note": "signed SMN on file"}
    )
    assert attest.status_code == 200, attest.text
    ready = pa.post(f"/api/v1/prior-auth/{rid}/ready")
    assert ready.status_code == 200, ready.text
    return dict(ready.json())


def _approve(world: World, rid: int, infusions: int = 6, days: int = 120) -> dict[str, Any]:
    response = world.client("prior_auth").post(
        f"/api/v1/prior-auth/{rid}/decision",
        json={
            "outcome": "approved",
            "payer_reference": f"AUTH-{rid}",
            "infusions": infusions,
            "start_date": TODAY.isoformat(),
            "end_date": (TODAY + dt.timedelta(days=days)).isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_packet_lists_what_is_missing_and_who_supplies_it(world: World) -> None:
    s = _setup(world)
    r = _open(world, s)
    assert r["status"] == "draft" and r["policy_id"] == "generic" and not r["complete"]
    missing = {i["requirement_id"]: i["missing"] for i in r["items"] if not i["satisfied"]}
    assert set(missing) == {"smn", "requested"}
    assert "prior-authorisation specialist" in missing["smn"]
    found = {i["requirement_id"]: i["evidence"] for i in r["items"] if i["satisfied"]}
    assert found["diagnosis"].startswith("D83.9") and "NPI 1234567890" in found["npi"]
    refused = world.client("prior_auth").post(f"/api/v1/prior-auth/{r['id']}/ready")
    assert refused.status_code == 409 and "missing" in refused.json()["detail"]


def test_aetna_policy_needs_the_igg_level_and_a_lab_result_completes_it(world: World) -> None:
    s = _setup(world, auth_policy_id="aetna-cpb-0206", code="aetna-x")
    r = _open(world, s)
    item = next(i for i in r["items"] if i["requirement_id"] == "igg")
    assert not item["satisfied"] and "outcomes page" in item["missing"]
    reading = world.client("nurse").post(
        f"/api/v1/patients/{s['patient_id']}/outcomes",
        json={"measure_id": "igg-trough", "value": 3.1, "measured_on": TODAY.isoformat(), "method": "review"},
    )
    assert reading.status_code == 201, reading.text
    again = world.client("prior_auth").get(f"/api/v1/prior-auth/{r['id']}").json()
    assert next(i for i in again["items"] if i["requirement_id"] == "igg")["satisfied"]


def test_every_transition_is_recorded_and_a_wrong_one_is_refused(world: World) -> None:
    s = _setup(world)
    r = _open(world, s)
    pa = world.client("prior_auth")
    assert pa.post(f"/api/v1/prior-auth/{r['id']}/submit").status_code == 409  # draft cannot be submitted
    _ready(world, r["id"])
    submitted = pa.post(f"/api/v1/prior-auth/{r['id']}/submit").json()
    assert submitted["status"] == "submitted" and submitted["due_basis"] == "CMS-0057-F"
    due = dt.datetime.fromisoformat(submitted["due_at"]) - dt.datetime.fromisoformat(
        submitted["submitted_at"]
    )
    assert due == dt.timedelta(days=7)
    pended = pa.post(
        f"/api/v1/prior-auth/{r['id']}/decision", json={"outcome": "pended", "reason": "send the latest IgG"}
    )
    assert pended.json()["status"] == "pended"
    assert pa.post(f"/api/v1/prior-auth/{r['id']}/submit").json()["status"] == "submitted"
    denied = pa.post(f"/api/v1/prior-auth/{r['id']}/decision", json={"outcome": "denied"})
    assert denied.status_code == 422 and denied.json()["field"] == "reason"
    denied = pa.post(
        f"/api/v1/prior-auth/{r['id']}/decision",
        json={"outcome": "denied", "reason": "not medically necessary"},
    )
    assert denied.json()["status"] == "denied"
    again = pa.post(f"/api/v1/prior-auth/{r['id']}/decision", json={"outcome": "denied", "reason": "x"})
    assert again.status_code == 409 and "denied" in again.json()["detail"]
    appealed = pa.post(
        f"/api/v1/prior-auth/{r['id']}/appeal", json={"reason": "trough and infections attached"}
    )
    assert appealed.json()["status"] == "appeal_submitted"
    won = pa.post(
        f"/api/v1/prior-auth/{r['id']}/appeal-decision",
        json={
            "outcome": "appeal_approved",
            "payer_reference": "APP-1",
            "infusions": 6,
            "start_date": TODAY.isoformat(),
            "end_date": (TODAY + dt.timedelta(days=90)).isoformat(),
        },
    ).json()
    assert won["status"] == "appeal_approved" and won["grant"]["infusions"] == 6
    moves = [(e["from_status"], e["to_status"]) for e in won["events"]]
    assert moves == [
        (None, "draft"),
        ("draft", "ready"),
        ("ready", "submitted"),
        ("submitted", "pended"),
        ("pended", "submitted"),
        ("submitted", "denied"),
        ("denied", "appeal_submitted"),
        ("appeal_submitted", "appeal_approved"),
    ]
    assert all(e["by_user_id"] == world.users["prior_auth"] for e in won["events"])
    with world.db.session() as session:
        actions = {
            a for (a,) in session.query(AuditEvent.action).filter(AuditEvent.action.like("prior_auth.%"))
        }
    assert {
        "prior_auth.open",
        "prior_auth.ready",
        "prior_auth.submitted",
        "prior_auth.denied",
        "prior_auth.read",
    } <= actions


@pytest.mark.parametrize("state", sorted(PRIOR_AUTH.states))
def test_the_machine_refuses_what_its_table_does_not_list(state: str) -> None:
    from igflow.errors import Conflict

    for to in sorted(PRIOR_AUTH.states - PRIOR_AUTH.allowed(state)):
        with pytest.raises(Conflict):
            PRIOR_AUTH.check(state, to)


def test_a_scheduler_is_warned_beyond_the_authorisation_and_books_within_it(world: World) -> None:
    s = _setup(world)
    r = _open(world, s)
    _ready(world, r["id"])
    world.client("prior_auth").post(f"/api/v1/prior-auth/{r['id']}/submit")
    _approve(world, r["id"], infusions=1)
    scheduler = world.client("scheduler")
    first = _course(world, s["order_id"])
    option = scheduler.get(f"/api/v1/courses/{first['id']}/suggestions").json()[0]
    body = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    ok = scheduler.post(f"/api/v1/courses/{first['id']}/bookings", json=body)
    assert ok.status_code == 201, ok.text  # within: one infusion authorised, one booked
    after = world.client("prior_auth").get(f"/api/v1/prior-auth/{r['id']}").json()
    assert after["grant"]["infusions_used"] == len(option["dates"])
    # beyond it: cancel, reduce the authorisation to none left, and book again
    cancel_ids = [a["id"] for a in ok.json()["appointments"]]
    cancelled = scheduler.put(
        f"/api/v1/appointments/{cancel_ids[0]}/status", json={"status": "cancelled", "reason": "test"}
    )
    assert cancelled.status_code == 200, cancelled.text
    with world.db.session() as session:
        from igflow.authorizations.models import PriorAuthRequest

        session.query(PriorAuthRequest).filter_by(id=r["id"]).update({"authorised_infusions": 0})
        session.commit()
    option = scheduler.get(f"/api/v1/courses/{first['id']}/suggestions").json()[0]
    body = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    warned = scheduler.post(f"/api/v1/courses/{first['id']}/bookings", json=body)
    assert warned.status_code == 409 and warned.json()["field"] == "acknowledge_authorisation"
    assert "0 are authorised" in warned.json()["detail"]
    acked = scheduler.post(
        f"/api/v1/courses/{first['id']}/bookings", json={**body, "acknowledge_authorisation": True}
    )
    assert acked.status_code == 201, acked.text
    with world.db.session() as session:
        assert (
            session.query(AuditEvent).filter_by(action="appointment.book_beyond_authorisation").count() >= 1
        )


def test_a_hard_stop_payer_refuses_booking_beyond_the_authorisation(world: World) -> None:
    s = _setup(world, overrun_rule="hard_stop")
    course = _course(world, s["order_id"])  # coverage, but no authorisation at all
    scheduler = world.client("scheduler")
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    body = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    refused = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings", json={**body, "acknowledge_authorisation": True}
    )
    assert refused.status_code == 409 and refused.json()["field"] == "authorisation"
    assert "prior-authorisation specialist" in refused.json()["detail"]


def test_an_authorisation_ending_soon_opens_one_reauthorisation_task(world: World) -> None:
    s = _setup(world)
    r = _open(world, s)
    _ready(world, r["id"])
    world.client("prior_auth").post(f"/api/v1/prior-auth/{r['id']}/submit")
    _approve(world, r["id"], days=10)  # within the 30-day default lead time: the task opens on decision
    from igflow.authorizations.service import sweep

    with world.db.session() as session:
        assert sweep(session) == 0  # idempotent: already open
        tasks = session.query(WorkTask).filter_by(kind="reauthorisation").all()
        assert len(tasks) == 1 and tasks[0].queue == "prior_auth" and tasks[0].detail["request_id"] == r["id"]
    expiring = world.client("prior_auth").get("/api/v1/prior-auth/expiring").json()
    assert [e["id"] for e in expiring] == [r["id"]] and expiring[0]["task_id"]
    cont = _open(world, s, previous_id=r["id"])
    assert cont["kind"] == "continuation"
    with world.db.session() as session:
        assert session.query(WorkTask).filter_by(kind="reauthorisation").one().status == "done"


def test_the_queue_puts_expedited_and_earliest_due_first(world: World) -> None:
    a = _setup(world, "qa", "PA010")
    b = _setup(world, "qb", "PA011")
    ra, rb = _open(world, a), _open(world, b, urgency="expedited")
    queue = world.client("prior_auth").get("/api/v1/prior-auth/queue").json()
    ids = [q["id"] for q in queue]
    assert ids.index(rb["id"]) < ids.index(ra["id"])


def test_pas_bundle_downloads_and_a_response_records_the_decision(world: World) -> None:
    from tests.unit.authorizations.test_pas_and_letter import response_bundle

    s = _setup(world)
    r = _open(world, s)
    _ready(world, r["id"])
    pa = world.client("prior_auth")
    pa.post(f"/api/v1/prior-auth/{r['id']}/submit")
    bundle = pa.get(f"/api/v1/prior-auth/{r['id']}/pas-bundle")
    assert bundle.status_code == 200 and bundle.json()["entry"][0]["resource"]["use"] == "preauthorization"
    answer = response_bundle(bundle.json(), visits=6)
    imported = pa.post(f"/api/v1/prior-auth/{r['id']}/pas-response", json=answer)
    assert imported.status_code == 200, imported.text
    assert imported.json()["status"] in ("approved", "partially_approved")


def test_concurrent_decisions_only_one_wins(world: World) -> None:
    """Two people record the payer's answer at once (PostgreSQL): exactly one wins, the other gets 409."""
    needs_concurrency(world)
    from igflow.authorizations import service
    from igflow.authorizations.schemas import DecisionIn
    from igflow.errors import Conflict

    s = _setup(world)
    r = _open(world, s)
    _ready(world, r["id"])
    world.client("prior_auth").post(f"/api/v1/prior-auth/{r['id']}/submit")
    approve = DecisionIn(
        outcome="approved", payer_reference="A", start_date=TODAY, end_date=TODAY + dt.timedelta(days=60)
    )
    deny = DecisionIn(outcome="denied", reason="not medically necessary")
    outcomes = race(
        world,
        [
            ("prior_auth", lambda session, p: service.decide(session, p, r["id"], approve)),
            ("prior_auth", lambda session, p: service.decide(session, p, r["id"], deny)),
        ],
    )
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 1, outcomes
    final = world.client("prior_auth").get(f"/api/v1/prior-auth/{r['id']}").json()
    assert final["status"] in ("approved", "denied")
    assert sum(1 for e in final["events"] if e["from_status"] == "submitted") == 1


def test_coverage_rank_clash_and_site_limits(world: World) -> None:
    s = _setup(world)
    again = world.client("intake").post(
        f"/api/v1/patients/{s['patient_id']}/coverages",
        json={"payer_id": s["payer_id"], "member_id": "X", "rank": 1},
    )
    assert again.status_code == 409 and again.json()["field"] == "rank"
    world.add_user("pa.south", ["prior_auth"], ["south"])
    hidden = world.client("pa.south").get(f"/api/v1/prior-auth/{_open(world, s)['id']}")
    assert hidden.status_code == 404
    assert world.client("scheduler").get(f"/api/v1/patients/{s['patient_id']}/coverages").status_code == 403


def test_the_request_page_shows_the_packet_and_the_drug_cost_or_who_sets_the_price(world: World) -> None:
    s = _setup(world, "pg", "PA020")
    r = _open(world, s)
    _ready(world, r["id"])
    page = world.client("prior_auth").get(f"/prior-auth/{r['id']}")
    assert page.status_code == 200
    assert "Every item the policy asks for is on the record." in page.text
    assert "Drug cost of the 240 g asked for: unknown, no price on record for Gammagard Liquid" in page.text
    assert "a pharmacist or administrator sets it on the Prices page" in page.text
    assert world.client("scheduler").get(f"/prior-auth/{r['id']}").status_code == 403


def test_a_planning_run_books_beyond_the_authorisation_only_where_the_payer_allows(world: World) -> None:
    warned = _setup(world, "pw", "PA030")
    stopped = _setup(world, "ps", "PA031", overrun_rule="hard_stop")
    courses = {_course(world, s["order_id"])["id"]: s for s in (warned, stopped)}
    scheduler = world.client("scheduler")
    run = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": TODAY.isoformat(), "days": 28, "time_limit_s": 2}
    )
    assert run.status_code == 202, run.text
    published = scheduler.post(f"/api/v1/planning-runs/{run.json()['result_id']}/publish")
    assert published.status_code == 200, published.text
    result = published.json()["result"]
    beyond = {b["course_id"] for b in result["beyond_authorisation"]}
    refused = {p["course_id"]: p["problem"] for p in result["not_booked"]}
    warned_course = next(c for c, s in courses.items() if s is warned)
    stopped_course = next(c for c, s in courses.items() if s is stopped)
    assert warned_course in beyond and warned_course in result["booked_courses"]
    assert stopped_course in refused and "does not allow" in refused[stopped_course]


def test_dispensing_beyond_the_authorisation_is_recorded_or_refused_per_payer(world: World) -> None:
    from igflow.authorizations.models import PriorAuthRequest
    from igflow.directory.models import Payer
    from tests.api.test_infusions_api import Chart, _lots_for
    from tests.api.test_scheduling_api import book_first_option

    s = _setup(world, "pd", "PA040")
    r = _open(world, s)
    _ready(world, r["id"])
    world.client("prior_auth").post(f"/api/v1/prior-auth/{r['id']}/submit")
    _approve(world, r["id"], infusions=6)
    booked = book_first_option(world, _course(world, s["order_id"])["id"])
    plan = world.client("pharmacist").get(f"/api/v1/orders/{s['order_id']}").json()["versions"][-1]["plan"]
    scans = _lots_for(world, plan)
    with world.db.session() as session:  # the payer then authorises nothing more, and stops the rest
        session.query(PriorAuthRequest).filter_by(id=r["id"]).update({"authorised_infusions": 0})
        session.query(Payer).filter_by(id=s["payer_id"]).update({"overrun_rule": "hard_stop"})
        session.commit()
    record = world.client("nurse").post(f"/api/v1/appointments/{booked['appointments'][0]['id']}/infusion")
    assert record.status_code == 201, record.text
    chart = Chart(world, record.json()["id"])
    refused = chart("vial", {"scan_text": scans[0]})
    assert refused.status_code == 409 and "not dispensed" in refused.json()["detail"]
    with world.db.session() as session:
        session.query(Payer).filter_by(id=s["payer_id"]).update({"overrun_rule": "warn"})
        session.commit()
    recorded = chart("vial", {"scan_text": scans[0]})
    assert recorded.status_code == 201, recorded.text
    assert "0 are authorised" in " ".join(recorded.json()["result"]["authorisation"])


def test_the_coverage_form_takes_dollars_and_stores_cents(world: World) -> None:
    pid = _patient(world, "pc", "PA050")
    payer_id = _payer(world, "payer-pc")
    intake = world.client("intake")
    form = {
        "payer_id": str(payer_id),
        "member_id": "M-9",
        "rank": "1",
        "benefit": "medical",
        "site_of_care": "either",
    }
    bad = intake.post(f"/patients/{pid}/coverages", data={**form, "copay_dollars": "25.005"})
    assert bad.status_code == 422 and "fraction of a cent" in bad.text
    ok = intake.post(
        f"/patients/{pid}/coverages", data={**form, "copay_dollars": "$1,025.50"}, follow_redirects=False
    )
    assert ok.status_code == 303, ok.text
    coverage = intake.get(f"/api/v1/patients/{pid}/coverages").json()[0]
    assert coverage["copay_cents"] == 102550
