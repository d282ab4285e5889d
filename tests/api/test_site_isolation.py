"""Site isolation on every route: a user limited to North, of each staff role, against South's objects.

The routes come from the app's own route table (``iter_routes``), so a new route is walked without being
listed here. Each path parameter is filled with an object of the other site (South): its patient, order,
course, appointment, chart, task, referral and document, a planning run covering every centre, another
user's job, South's lot and South itself. A route naming one of those objects must answer 404 or 403;
every route (lists and pages included) must answer without South's patient (name, MRN, id) or South's
appointment, course, order, chart or task ids anywhere in the body. Writes carry bodies that would
succeed for South's staff, so a refusal comes from the site rule and not from input validation.

What stays visible on purpose (see ``igflow.security.scope``): the site directory (names, chairs, hours),
site protocols, and stock availability (lots, balances, expiry) of every site, for transfers.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import pytest

from igflow.app import iter_routes
from igflow.inventory.service import gtin_check_digit
from igflow.referrals.models import Referral, ReferralDocument
from tests.api.test_fhir_route_tables import FHIR_SCOPED_PARAMS, fhir_isolation_ids
from tests.conftest import World

STAFF_ROLES = ["admin", "pharmacist", "nurse", "scheduler", "intake", "prescriber", "prior_auth"]

# Path parameters that name a site-scoped object: a route with one must refuse (404 or 403).
SCOPED_PARAMS = {
    *FHIR_SCOPED_PARAMS,  # FHIR reads: Observation, AdverseEvent, MedicationDispense ids
    "appointment_id",
    "record_id",
    "course_id",
    "order_id",
    "patient_id",
    "run_id",
    "task_id",
    "job_id",
    "referral_id",
    "document_id",
    "coverage_id",
    "request_id",
    "letter_id",
    "delivery_id",
    "nurse_id",
    "unavailable_id",
    "closure_id",
    "message_id",
    "link_id",  # a caregiver link (issue 13)
}
# Routes whose {site_id} names the site's own data (not the shared directory): refused too.
SITE_DATA_ROUTES = {
    "/api/v1/sites/{site_id}/board",
    "/api/v1/sites/{site_id}/infusions",
    "/api/v1/sites/{site_id}/load",
}
# Routes without an object in the path whose body (below) names South's objects or South: refused too.
BODY_SCOPED = {
    ("POST", "/api/v1/courses"),
    ("POST", "/api/v1/inventory/dispenses"),
    ("POST", "/api/v1/inventory/scan-checks"),
    ("POST", "/api/v1/inventory/lots"),
    ("PUT", "/api/v1/inventory/par-levels"),
    ("POST", "/api/v1/inventory/allocations"),
    ("POST", "/api/v1/planning-runs"),
    ("GET", "/api/v1/inventory/pick-list"),
    ("GET", "/api/v1/inventory/needs"),
    ("POST", "/api/v1/prior-auth"),
    ("POST", "/api/v1/deliveries"),
    ("POST", "/deliveries"),
    ("POST", "/schedule/closures"),
}
# Changes to a site's own set-up (details, hours and nurses, closed dates, chairs): only the managers who
# work there; the bodies below would succeed for South's own, so the refusal comes from the site rule.
SITE_SETUP_WRITES = {
    ("PUT", "/api/v1/sites/{site_id}"),
    ("PUT", "/api/v1/sites/{site_id}/details"),
    ("PUT", "/api/v1/sites/{site_id}/hours"),
    ("POST", "/api/v1/sites/{site_id}/closed-dates"),
    ("DELETE", "/api/v1/sites/{site_id}/closed-dates/{closed_id}"),
    ("POST", "/api/v1/sites/{site_id}/chairs"),
    ("PUT", "/api/v1/sites/{site_id}/chairs/{chair_id}"),
    ("POST", "/admin/sites/{site_id}"),
    ("POST", "/admin/sites/{site_id}/hours"),
    ("POST", "/admin/sites/{site_id}/closed-dates"),
    ("POST", "/admin/sites/{site_id}/closed-dates/{closed_id}/delete"),
    ("POST", "/admin/sites/{site_id}/chairs"),
    ("POST", "/admin/sites/{site_id}/chairs/{chair_id}"),
    ("POST", "/admin/sites/{site_id}/chairs/{chair_id}/active"),
}
# Routes whose {site_id} or {lot_id} names shared data (the site directory, stock availability).
SHARED_READS = {
    ("GET", "/api/v1/sites/{site_id}"),
    ("GET", "/api/v1/inventory/lots/{lot_id}"),
    ("GET", "/inventory/lots/{lot_id}"),
}
SOUTH_TEXT = ("Solveig", "Southgate", "TST0002", "solveig", "southgate")


def _south(world: World) -> dict[str, Any]:
    """South's objects, made through the API by users who are not limited to sites."""
    sol = world.patients["sol"]
    south = world.sites["south"]
    nurse, prescriber, pharmacist, scheduler = (
        world.client(n) for n in ("nurse", "prescriber", "pharmacist", "scheduler")
    )
    for kind, value in (("weight_kg", 64), ("height_cm", 168)):
        r = nurse.post(
            f"/api/v1/patients/{sol}/measurements",
            json={"kind": kind, "value": value, "measured_on": dt.date.today().isoformat()},
        )
        assert r.status_code == 201, r.text
    order = prescriber.post(
        "/api/v1/orders",
        json={
            "patient_id": sol,
            "prescriber_id": world.prescriber_id,
            "indication_id": "cidp",
            "phase": "maintenance",
            "product_id": "privigen",
        },
    )
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    r = pharmacist.post(f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"})
    assert r.status_code in (200, 201), r.text
    course = scheduler.post("/api/v1/courses", json={"order_id": oid}).json()
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    assert option["site"] == "south"
    booking = {k: option[k] for k in ("site", "dates", "starts", "chairs")}
    booked = scheduler.post(f"/api/v1/courses/{course['id']}/bookings", json=booking)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["appointments"][0]
    # a second waiting course (re-used as the target of the booking routes)
    order2 = prescriber.post(
        "/api/v1/orders",
        json={
            "patient_id": sol,
            "prescriber_id": world.prescriber_id,
            "indication_id": "cidp",
            "phase": "maintenance",
            "product_id": "privigen",
        },
    ).json()
    pharmacist.post(
        f"/api/v1/orders/{order2['id']}/verifications", json={"version": 1, "decision": "verified"}
    )
    course2 = scheduler.post("/api/v1/courses", json={"order_id": order2["id"]})
    assert course2.status_code == 201, course2.text
    record = nurse.post(f"/api/v1/appointments/{appointment['id']}/infusion")
    assert record.status_code == 201, record.text
    rid = record.json()["id"]
    entry = nurse.post(
        f"/api/v1/infusions/{rid}/entries",
        json={"client_id": "south-weight-1", "kind": "weight", "payload": {"weight_kg": 70}},
    )
    assert entry.status_code == 201, entry.text
    tasks = [t for t in pharmacist.get("/api/v1/tasks").json() if t["patient_id"] == sol]
    assert tasks, "the weight change should have made a pharmacist task"
    first13 = "0300000000888"
    lot = pharmacist.post(
        "/api/v1/inventory/lots",
        json={
            "product_id": "privigen",
            "lot_number": "SOUTH1",
            "gtin": first13 + str(gtin_check_digit(first13)),
            "label_expiry": (dt.date.today() + dt.timedelta(days=400)).isoformat(),
            "vial_size_g": 10,
            "site_id": south,
            "count": 20,
            "storage_place": "South fridge",
            "acquisition_cost_cents": 90000,
            "supplier": "Synthetic Supplier",
        },
    )
    assert lot.status_code == 201, lot.text
    lot_id = int(lot.json()["id"])
    # a ledger move that names South's patient and appointment
    wasted = pharmacist.post(
        f"/api/v1/inventory/lots/{lot_id}/waste",
        json={"site_id": south, "count": 1, "waste_reason": "broken", "appointment_id": appointment["id"]},
    )
    assert wasted.status_code == 201, wasted.text
    run = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": option["dates"][0], "days": 7, "time_limit_s": 1}
    )
    assert run.status_code == 202, run.text
    with world.db.session() as session:
        referral = Referral(
            patient_id=sol,
            received_on=dt.date(2026, 11, 1),
            prescriber_id=world.prescriber_id,
            icd10_code="G61.81",
            diagnosis_text="CIDP",
            indication_id="cidp",
            urgency="routine",
        )
        referral.documents = [
            ReferralDocument(
                filename="letter.pdf",
                content_type="application/pdf",
                size_bytes=9,
                sha256="0" * 64,
                content=b"%PDF-1.4\n",
            )
        ]
        session.add(referral)
        session.commit()
        referral_id, document_id = referral.id, referral.documents[0].id
        from igflow.sites.models import ClosedDate, Site

        site = session.get(Site, south)
        assert site is not None
        chair_id = site.chairs[0].id
        closed = ClosedDate(site_id=south, date=dt.date(2099, 1, 5), reason="Isolation closure")
        session.add(closed)
        session.commit()
        closed_id = closed.id
    world.add_user("target.south", ["nurse"], ["south"])
    from igflow.authorizations.models import PriorAuthLetter, PriorAuthRequest
    from igflow.directory.models import Payer
    from igflow.patients.models import Coverage

    with world.db.session() as session:
        payer = Payer(code="south-payer", name="South payer")
        session.add(payer)
        session.flush()
        coverage = Coverage(patient_id=sol, payer_id=payer.id, member_id="S-1", benefit="medical", rank=1)
        session.add(coverage)
        session.flush()
        pa = PriorAuthRequest(
            patient_id=sol,
            order_id=oid,
            coverage_id=coverage.id,
            policy_id="generic",
            created_by_user_id=world.users["admin"],
            attestations={},
        )
        session.add(pa)
        session.flush()
        letter = PriorAuthLetter(
            request_id=pa.id,
            patient_id=sol,
            size_bytes=9,
            sha256="0" * 64,
            content=b"%PDF-1.4\n",
            created_by_user_id=world.users["admin"],
        )
        session.add(letter)
        from igflow.home.models import HomeNurse

        home_nurse = HomeNurse(
            site_id=south,
            name="Nadia South (synthetic)",
            home_lat=33.77,
            home_lon=-118.19,
            skills=["ivig_home"],
            max_visits_per_day=3,
        )
        session.add(home_nurse)
        from igflow.appointments.models import SiteClosure, UnavailableDate

        away = UnavailableDate(patient_id=sol, date=dt.date.today() + dt.timedelta(days=40), reason="test")
        closure = SiteClosure(
            site_id=south,
            start_date=dt.date.today() + dt.timedelta(days=60),
            end_date=dt.date.today() + dt.timedelta(days=60),
            reason="test",
        )
        from igflow.messages.models import OutboundMessage

        message = OutboundMessage(
            patient_id=sol,
            kind="test",
            channel="email",
            to_address="sol@example.invalid",
            subject="test",
            body="test",
            dedupe_key="isolation:1",
            status="failed",
        )
        session.add_all([away, closure, message])
        session.commit()
        coverage_id, pa_id, letter_id, payer_id = coverage.id, pa.id, letter.id, payer.id
        nurse_id, unavailable_id, closure_id = home_nurse.id, away.id, closure.id
        message_id = message.id
    delivery_id = _south_delivery(world, sol, lot_id)
    return {
        "ids": {
            **fhir_isolation_ids(world),  # FHIR read routes' path parameters
            "patient_id": sol,
            "order_id": oid,
            "course_id": course2.json()["id"],
            "appointment_id": appointment["id"],
            "record_id": rid,
            "task_id": tasks[0]["id"],
            "lot_id": lot_id,
            "run_id": run.json()["result_id"],
            "job_id": run.json()["id"],
            "referral_id": referral_id,
            "document_id": document_id,
            "site_id": south,
            "chair_id": chair_id,
            "closed_id": closed_id,
            "user_id": world.users["target.south"],
            "token_id": 999_999,
            "link_id": 999_999,  # a caregiver link: the route also names South's patient
            "measure_id": "mg-adl",  # /my/measures/{measure_id}: the patient's own, no site data
            "kind": "patients",  # /imports/templates/{kind}.csv: an empty template, no site data
            "client_pk": 999_999,  # a FHIR backend client (admin only, no site data)
            "protocol_id": 999_999,
            "coverage_id": coverage_id,
            "request_id": pa_id,
            "letter_id": letter_id,
            "payer_id": payer_id,
            "delivery_id": delivery_id,
            "nurse_id": nurse_id,
            "unavailable_id": unavailable_id,
            "closure_id": closure_id,
            "message_id": message_id,
        },
        "date": appointment["date"],
        "booking": booking,
        "secret": {
            "patient_id": {sol},
            "appointment_id": {appointment["id"]},
            "course_id": {course["id"], course2.json()["id"]},
            "order_id": {oid, order2["id"]},
            "record_id": {rid},
            "task_id": {t["id"] for t in tasks},
            "coverage_id": {coverage_id},
            "request_id": {pa_id},
            "delivery_id": {delivery_id},
        },
    }


def _south_delivery(world: World, sol: int, lot_id: int) -> int:
    """A delivery of one of South's vials to Solveig's home (a home-infusion site made for it)."""
    from igflow.sites.models import Site

    with world.db.session() as session:
        session.add(Site(code="home-iso", name="Home service", kind="home", timezone="America/Los_Angeles"))
        session.commit()
    planned = world.client("pharmacist").post(
        "/api/v1/deliveries",
        json={
            "patient_id": sol,
            "from_site_id": world.sites["south"],
            "needed_by": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "lines": [{"lot_id": lot_id, "vials": 1}],
        },
    )
    assert planned.status_code == 201, planned.text
    return int(planned.json()["id"])


def _delivery_bodies(s: dict[str, Any], south: int) -> dict[tuple[str, str], dict[str, Any]]:
    """Bodies of the delivery routes that South's pharmacist could send."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for prefix in ("/api/v1", ""):
        base = f"{prefix}/deliveries/{{delivery_id}}"
        out |= {
            ("POST", f"{base}/ship"): {"carrier": "C", "carrier_reference": "R"},
            ("POST", f"{base}/excursion"): {"note": "test"},
            ("POST", f"{base}/release"): {"reason": "test"},
            ("POST", f"{base}/waste"): {"reason": "test"},
            ("POST", f"{base}/cancel"): {"reason": "test"},
        }
    needed = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    out[("POST", "/api/v1/deliveries")] = {
        "patient_id": s["ids"]["patient_id"],
        "from_site_id": south,
        "needed_by": needed,
        "lines": [{"lot_id": s["ids"]["lot_id"], "vials": 1}],
    }
    out[("POST", "/deliveries")] = {
        "patient_id": s["ids"]["patient_id"],
        "order_id": s["ids"]["order_id"],
        "from_site_id": south,
        "needed_by": needed,
    }
    return out


def _bodies(world: World, s: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Request bodies that South's own staff could send successfully (JSON for the API, forms for pages)."""
    ids, south, north = s["ids"], world.sites["south"], world.sites["north"]
    day = s["date"]
    return {
        ("POST", "/schedule/closures"): {
            "site_id": south,
            "start_date": (dt.date.today() + dt.timedelta(days=70)).isoformat(),
            "end_date": (dt.date.today() + dt.timedelta(days=70)).isoformat(),
            "reason": "test",
        },
        ("POST", "/courses/{course_id}/window"): {"earliest": day, "latest": day, "reason": "test"},
        ("POST", "/api/v1/appointments/{appointment_id}/move"): {
            "site": "south",
            "date": day,
            "start": "09:00",
            "chair": 1,
            "reason": "test",
        },
        ("POST", "/patients/{patient_id}/unavailable-dates"): {"date": day, "reason": "test"},
        ("PUT", "/api/v1/appointments/{appointment_id}/status"): {"status": "cancelled", "reason": "test"},
        ("POST", "/api/v1/courses/{course_id}/bookings"): s["booking"],
        ("POST", "/api/v1/prior-auth"): {"order_id": ids["order_id"], "coverage_id": ids["coverage_id"]},
        ("POST", "/api/v1/patients/{patient_id}/coverages"): {"payer_id": 1, "member_id": "X", "rank": 2},
        ("POST", "/api/v1/coverages/{coverage_id}/end"): {"effective_to": day, "reason": "test"},
        ("PUT", "/api/v1/home/nurses/{nurse_id}"): {
            "name": "Renamed",
            "home_lat": 33.8,
            "home_lon": -118.2,
            "max_visits_per_day": 2,
        },
        ("POST", "/api/v1/home/nurses/{nurse_id}/absences"): {"date": day, "reason": "sick"},
        ("POST", "/home/nurses/{nurse_id}/absences"): {"date": day, "reason": "sick"},
        ("PUT", "/api/v1/prior-auth/{request_id}/requested"): {
            "requested_infusions": 1,
            "requested_grams": 10,
            "requested_start": day,
            "requested_end": day,
        },
        ("POST", "/api/v1/prior-auth/{request_id}/attestations"): {"requirement_id": "smn", "note": "x"},
        ("POST", "/api/v1/prior-auth/{request_id}/draft"): {"reason": "test"},
        ("POST", "/api/v1/prior-auth/{request_id}/decision"): {"outcome": "denied", "reason": "test"},
        ("POST", "/api/v1/prior-auth/{request_id}/appeal"): {"reason": "test"},
        ("POST", "/api/v1/prior-auth/{request_id}/appeal-decision"): {
            "outcome": "appeal_denied",
            "reason": "t",
        },
        ("POST", "/api/v1/prior-auth/{request_id}/withdraw"): {"reason": "test"},
        ("POST", "/api/v1/patients/{patient_id}/prior-therapies"): {"therapy": "prednisolone"},
        ("PUT", "/api/v1/referral-documents/{document_id}/category"): {"category": "lab_report"},
        ("POST", "/referral-documents/{document_id}/category"): {"category": "lab_report"},
        ("POST", "/patients/{patient_id}/prior-therapies"): {"therapy": "prednisolone"},
        ("POST", "/patients/{patient_id}/caregivers"): {"caregiver": "carer.south", "note": "asked"},
        ("POST", "/patients/{patient_id}/caregivers/{link_id}/revoke"): {"note": "patient asked"},
        ("POST", "/patients/{patient_id}/coverages"): {"payer_id": "1", "member_id": "X", "rank": "2"},
        ("POST", "/api/v1/courses"): {"order_id": ids["order_id"]},
        ("POST", "/api/v1/infusions/{record_id}/entries"): {
            "client_id": "north-weight-1",
            "kind": "weight",
            "payload": {"weight_kg": 71},
        },
        ("POST", "/api/v1/infusions/{record_id}/pharmacist-release"): {
            "client_id": "north-release-1",
            "decision": "proceed",
            "note": "test",
        },
        ("POST", "/api/v1/inventory/lots/{lot_id}/returns"): {
            "appointment_id": ids["appointment_id"],
            "count": 1,
        },
        ("POST", "/api/v1/inventory/lots/{lot_id}/status"): {"action": "quarantine", "reason": "test"},
        ("PUT", "/api/v1/inventory/lots/{lot_id}/storage"): {"storage_place": "Elsewhere"},
        ("POST", "/api/v1/inventory/lots/{lot_id}/transfers"): {
            "from_site_id": south,
            "to_site_id": north,
            "count": 1,
        },
        ("POST", "/api/v1/inventory/lots/{lot_id}/waste"): {
            "site_id": south,
            "count": 1,
            "waste_reason": "broken",
        },
        ("POST", "/api/v1/inventory/dispenses"): {
            "appointment_id": ids["appointment_id"],
            "lot_id": ids["lot_id"],
            "count": 1,
        },
        ("POST", "/api/v1/inventory/scan-checks"): {
            "appointment_id": ids["appointment_id"],
            "scan": "x" * 20,
        },
        ("POST", "/api/v1/inventory/lots"): {
            "product_id": "privigen",
            "lot_number": "SOUTH2",
            "gtin": "0300000000888" + str(gtin_check_digit("0300000000888")),
            "label_expiry": (dt.date.today() + dt.timedelta(days=400)).isoformat(),
            "vial_size_g": 10,
            "site_id": south,
            "count": 5,
            "acquisition_cost_cents": 90000,
            "supplier": "Synthetic Supplier",
        },
        ("PUT", "/api/v1/inventory/par-levels"): {
            "site_id": south,
            "product_id": "privigen",
            "vial_size_g": 10,
            "par_count": 4,
        },
        ("POST", "/api/v1/inventory/allocations"): {"start": day, "days": 7},
        ("POST", "/api/v1/planning-runs"): {
            "start_date": day,
            "days": 7,
            "time_limit_s": 1,
            "free_appointment_ids": [ids["appointment_id"]],
        },
        ("POST", "/api/v1/orders/{order_id}/verifications"): {"version": 1, "decision": "verified"},
        ("POST", "/api/v1/orders/{order_id}/continuation-decisions"): {"kind": "continue", "reason": "test"},
        ("POST", "/api/v1/patients/{patient_id}/outcomes"): {
            "measure_id": "incat-adjusted",
            "parts": {"arm": 1, "leg": 1},
            "measured_on": dt.date.today().isoformat(),
            "method": "chair",
        },
        ("POST", "/orders/{order_id}/continuation-decisions"): {"kind": "continue", "reason": "test"},
        ("POST", "/patients/{patient_id}/outcomes"): {
            "measure_id": "incat-adjusted",
            "part.arm": "1",
            "part.leg": "1",
            "measured_on": dt.date.today().isoformat(),
            "method": "chair",
        },
        ("PATCH", "/api/v1/patients/{patient_id}"): {"phone": "555-0100", "version": 1},
        ("POST", "/api/v1/patients/{patient_id}/measurements"): {
            "kind": "weight_kg",
            "value": 65,
            "measured_on": dt.date.today().isoformat(),
        },
        ("PUT", "/api/v1/referrals/{referral_id}/decision"): {"status": "in_review", "reason": "test"},
        ("POST", "/api/v1/tasks/{task_id}/done"): {"outcome": {}, "note": "test"},
        ("POST", "/appointments/{appointment_id}/status"): {"status": "cancelled", "reason": "test"},
        ("POST", "/chair/records/{record_id}/entries"): {
            "kind": "weight",
            "weight_kg": "71",
            "client_id": "north-page-weight-1",
        },
        ("POST", "/courses/{course_id}/book"): {
            "site": s["booking"]["site"],
            "dates": s["booking"]["dates"],
            "starts": s["booking"]["starts"],
            "chairs": s["booking"]["chairs"],
        },
        ("POST", "/infusions/{record_id}/release"): {
            "decision": "proceed",
            "note": "test",
            "client_id": "north-page-release-1",
        },
        ("POST", "/inventory/lots/{lot_id}/status"): {"action": "quarantine", "reason": "test"},
        ("POST", "/orders/{order_id}/verify"): {"version": "1", "decision": "verified"},
        ("POST", "/patients/{patient_id}/edit"): {
            "version": "1",
            "given_name": "Test",
            "family_name": "Changed",
            "date_of_birth": "1970-01-01",
            "sex": "female",
        },
        ("POST", "/patients/{patient_id}/measurements"): {
            "kind": "weight_kg",
            "value": "65",
            "measured_on": dt.date.today().isoformat(),
        },
        ("POST", "/referrals/{referral_id}/decision"): {"status": "in_review", "reason": "test"},
        ("POST", "/tasks/{task_id}/done"): {"note": "test"},
        ("POST", "/schedule/requests/{task_id}/answer"): {"result": "done", "reply": "test"},
        **_delivery_bodies(s, south),
        **_site_setup_bodies(),
    }


def _site_setup_bodies() -> dict[tuple[str, str], dict[str, Any]]:
    """Changes to South's set-up that South's own site manager could make."""
    far = dt.date(2099, 2, 1).isoformat()
    hours = [{"weekday": d, "open": "08:00", "close": "17:00", "nurses": 2} for d in ("mon", "tue")]
    page_hours = {"patients_per_nurse": "4", "starts_per_nurse_per_slot": "1"}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        page_hours |= {f"open_{day}": "08:00", f"close_{day}": "17:00", f"nurses_{day}": "2"}
    return {
        ("PUT", "/api/v1/sites/{site_id}"): {
            "code": "south",
            "name": "South Centre",
            "kind": "centre",
            "timezone": "America/Los_Angeles",
            "hours": hours,
        },
        ("PUT", "/api/v1/sites/{site_id}/details"): {"name": "South Centre", "timezone": "America/Chicago"},
        ("PUT", "/api/v1/sites/{site_id}/hours"): {
            "hours": hours,
            "patients_per_nurse": 4,
            "starts_per_nurse_per_slot": 1,
        },
        ("POST", "/api/v1/sites/{site_id}/closed-dates"): {"date": far, "reason": "Staff day"},
        ("POST", "/api/v1/sites/{site_id}/chairs"): {"label": "S9", "kind": "recliner"},
        ("PUT", "/api/v1/sites/{site_id}/chairs/{chair_id}"): {"label": "S1", "kind": "bed", "active": False},
        ("POST", "/admin/sites/{site_id}"): {"name": "South Centre", "timezone": "America/Chicago"},
        ("POST", "/admin/sites/{site_id}/hours"): page_hours,
        ("POST", "/admin/sites/{site_id}/closed-dates"): {"date": far, "reason": "Staff day"},
        ("POST", "/admin/sites/{site_id}/chairs"): {"label": "S9", "kind": "recliner"},
        ("POST", "/admin/sites/{site_id}/chairs/{chair_id}"): {"label": "S1", "kind": "bed"},
        ("POST", "/admin/sites/{site_id}/chairs/{chair_id}/active"): {"active": "false"},
    }


def _query(world: World, s: dict[str, Any], path: str) -> str:
    """Query strings the routes need to reach their service (dates, South's site)."""
    south, day = world.sites["south"], s["date"]
    return {
        "/api/v1/sites/{site_id}/board": f"?date={day}",
        "/api/v1/sites/{site_id}/infusions": f"?date={day}",
        "/api/v1/sites/{site_id}/load": f"?week={day}",
        "/api/v1/inventory/pick-list": f"?site_id={south}&date={day}",
        "/api/v1/inventory/needs": f"?site_id={south}&start={day}&days=7",
        "/api/v1/inventory/shortfalls": f"?start={day}&days=7",
        "/api/v1/inventory/shortage": f"?start={day}&days=7",
        "/api/v1/inventory/reorder": f"?start={day}&days=7",
        "/api/v1/inventory/trace": "?lot=SOUTH1",
        "/api/v1/inventory/trace.csv": "?lot=SOUTH1",
        "/api/v1/referrals": f"?patient_id={s['ids']['patient_id']}",
        "/board": f"?site={south}&date={day}",
        "/load": f"?site={south}&week={day}",
        "/chair": f"?site={south}&date={day}",
        "/inventory/picks": f"?site={south}",
        "/inventory/recall": "?lot=SOUTH1",
        "/patients": "?q=Solv",
        "/api/v1/patients": "?q=Solv",
    }.get(path, "")


def _leaks(body: str, secret: dict[str, set[int]], asked: set[tuple[str, int]]) -> list[str]:
    """South's data in a response body: names, MRN, and ids under their keys (JSON) or in links (HTML)."""
    found = [t for t in SOUTH_TEXT if t in body]
    try:
        data = json.loads(body)
    except ValueError:
        data = None

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                plural = key[:-1] if key.endswith("_ids") else None
                name = plural if plural else key
                if name in secret:
                    values = value if isinstance(value, list) else [value]
                    found.extend(f"{key}={v}" for v in values if isinstance(v, int) and v in secret[name])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    for name, values in secret.items():
        word = name.removesuffix("_id")
        for v in values:
            if (name, v) in asked:
                continue  # "appointment 12 not found" echoes what was asked, nothing more
            if re.search(rf"\b{word}[ /=:#-]+{v}\b", body, re.IGNORECASE):
                found.append(f"{word} {v} in text")
    return found


def _send(client: Any, method: str, url: str, body: dict[str, Any] | None) -> Any:
    if method in ("POST", "PUT", "PATCH", "DELETE") and url.endswith("/documents"):
        return client.post(url, files={"file": ("x.pdf", io.BytesIO(b"%PDF-1.4 test"), "application/pdf")})
    if method in ("POST", "PUT", "PATCH"):
        if url.startswith("/api/"):
            return client.request(method, url, json=body or {})
        return client.request(method, url, data=body or {})
    return client.request(method, url)


def _walk(world: World, role: str, s: dict[str, Any]) -> tuple[int, list[str]]:
    user = f"{role}.north"
    if user not in world.users:
        world.add_user(user, [role], ["north"])
    bodies = _bodies(world, s)
    wrong: list[str] = []
    walked = 0
    for path, methods, _route in iter_routes(world.app):
        params = set(re.findall(r"{(\w+)}", path))
        for method in sorted(methods - {"HEAD"}):
            if path in ("/login", "/logout"):
                continue  # sign-in and sign-out: no site data, and /logout would end the session
            walked += 1
            url = path.format(**{p: s["ids"][p] for p in params}) + _query(world, s, path)
            body = bodies.get((method, path))
            # what the request itself names may be echoed ("appointment 12 not found"), nothing more
            asked = {(p, s["ids"][p]) for p in params if p in s["secret"]}
            for key, value in (body or {}).items():
                for name in s["secret"]:
                    if name in key:  # appointment_id, free_appointment_ids
                        values = value if isinstance(value, list) else [value]
                        asked |= {(name, v) for v in values if isinstance(v, int)}
            asked |= {(k, int(v)) for k, v in re.findall(r"(\w+_id)=(\d+)", url) if k in s["secret"]}
            client = world.client(user, raise_server_exceptions=False)
            response = _send(client, method, url, body)
            label = f"{method} {path} as {user}"
            if response.status_code >= 500:
                wrong.append(f"{label}: {response.status_code} {response.text[:300]}")
                continue
            must_refuse = (
                bool(params & SCOPED_PARAMS)
                or path in SITE_DATA_ROUTES
                or ("lot_id" in params and method != "GET")
                or (method, path) in BODY_SCOPED
                or (method, path) in SITE_SETUP_WRITES
            ) and (method, path) not in SHARED_READS
            if must_refuse and response.status_code not in (403, 404):
                wrong.append(
                    f"{label}: expected 404 or 403, got {response.status_code} {response.text[:200]}"
                )
            leaks = _leaks(response.text, s["secret"], asked)
            if leaks:
                wrong.append(f"{label}: South's data in the body: {sorted(set(leaks))[:6]}")
    return walked, wrong


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_a_site_limited_user_reaches_nothing_of_another_site_on_any_route(world: World, role: str) -> None:
    s = _south(world)
    walked, wrong = _walk(world, role, s)
    assert walked >= 160  # every route of the app, generated from the route table
    assert wrong == [], "\n".join(wrong)


def test_the_walk_sees_south_when_the_user_is_not_limited(world: World) -> None:
    """The leak check itself: an unlimited nurse does see South's chair day list and patient."""
    s = _south(world)
    nurse = world.client("nurse")
    day_list = nurse.get(f"/api/v1/sites/{world.sites['south']}/infusions?date={s['date']}")
    assert day_list.status_code == 200
    assert _leaks(day_list.text, s["secret"], set())
    chart = nurse.get(f"/api/v1/patients/{world.patients['sol']}")
    assert any(t in chart.text for t in SOUTH_TEXT)


# --- one regression test per leak found by the security review (issue 9) ----------------------------------


def _limited(world: World, role: str) -> Any:
    if f"{role}.north" not in world.users:
        world.add_user(f"{role}.north", [role], ["north"])
    return world.client(f"{role}.north")


def test_another_centres_chair_board_is_not_found(world: World) -> None:
    s = _south(world)
    nurse = _limited(world, "nurse")
    other = nurse.get(f"/api/v1/sites/{world.sites['south']}/board?date={s['date']}")
    assert other.status_code == 404
    assert other.json()["detail"] == f"site {world.sites['south']} not found"
    assert not _leaks(other.text, s["secret"], set())
    own = nurse.get(f"/api/v1/sites/{world.sites['north']}/board?date={s['date']}")
    assert own.status_code == 200
    load = nurse.get(f"/api/v1/sites/{world.sites['south']}/load?week={s['date']}")
    assert load.status_code == 404


def test_another_centres_day_list_is_not_found(world: World) -> None:
    s = _south(world)
    nurse = _limited(world, "nurse")
    other = nurse.get(f"/api/v1/sites/{world.sites['south']}/infusions?date={s['date']}")
    assert other.status_code == 404
    assert not _leaks(other.text, s["secret"], set())
    assert nurse.get(f"/api/v1/sites/{world.sites['north']}/infusions?date={s['date']}").status_code == 200


def test_a_lot_ledger_shows_other_sites_availability_but_not_their_patients(world: World) -> None:
    s = _south(world)
    lot_url = f"/api/v1/inventory/lots/{s['ids']['lot_id']}"
    full = world.client("pharmacist").get(lot_url).json()
    assert any(m["patient_id"] == world.patients["sol"] for m in full["moves"])
    limited = _limited(world, "pharmacist").get(lot_url)
    assert limited.status_code == 200
    body = limited.json()
    assert [b["on_hand"] for b in body["stock"] if b["site_id"] == world.sites["south"]] == [19]
    assert body["moves"] == []  # every move of this lot is at South
    assert not _leaks(limited.text, s["secret"], set())


def test_another_sites_stock_cannot_be_written_off(world: World) -> None:
    s = _south(world)
    lot_url = f"/api/v1/inventory/lots/{s['ids']['lot_id']}"
    for role in ("pharmacist", "nurse"):
        response = _limited(world, role).post(
            f"{lot_url}/waste", json={"site_id": world.sites["south"], "count": 5, "waste_reason": "broken"}
        )
        assert response.status_code == 403, response.text
    transfer = world.client("pharmacist.north").post(
        f"{lot_url}/transfers",
        json={"from_site_id": world.sites["south"], "to_site_id": world.sites["north"], "count": 5},
    )
    assert transfer.status_code == 403
    stock = world.client("pharmacist").get(lot_url).json()["stock"]
    assert [b["on_hand"] for b in stock if b["site_id"] == world.sites["south"]] == [19]


def test_a_site_limited_scheduler_neither_reads_nor_publishes_other_centres_runs(world: World) -> None:
    s = _south(world)
    scheduler = _limited(world, "scheduler")
    run_id = s["ids"]["run_id"]  # made by an unlimited scheduler: it covers North and South
    for method, url in (
        ("GET", f"/api/v1/planning-runs/{run_id}"),
        ("POST", f"/api/v1/planning-runs/{run_id}/publish"),
        ("POST", f"/api/v1/planning-runs/{run_id}/discard"),
        ("GET", f"/planning/{run_id}"),
    ):
        response = scheduler.request(method, url)
        assert response.status_code == 404, (method, url, response.text)
    assert f"/planning/{run_id}" not in scheduler.get("/planning").text
    assert world.client("scheduler").get(f"/api/v1/planning-runs/{run_id}").json()["status"] == "draft"


def test_a_site_limited_scheduler_cannot_free_another_centres_appointment(world: World) -> None:
    s = _south(world)
    scheduler = _limited(world, "scheduler")
    appointment_id = s["ids"]["appointment_id"]
    response = scheduler.post(
        "/api/v1/planning-runs",
        json={
            "start_date": s["date"],
            "days": 7,
            "time_limit_s": 1,
            "free_appointment_ids": [appointment_id],
        },
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"appointment {appointment_id} not found"
    board = world.client("scheduler").get(f"/api/v1/sites/{world.sites['south']}/board?date={s['date']}")
    assert [a["status"] for a in board.json()["appointments"] if a["id"] == appointment_id] == ["booked"]


def test_a_site_limited_schedulers_run_covers_only_their_centres_and_publishes(world: World) -> None:
    from igflow.appointments.models import PlanningRun
    from igflow.security import scope

    s = _south(world)
    scheduler = _limited(world, "scheduler")
    job = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": s["date"], "days": 7, "time_limit_s": 1}
    )
    assert job.status_code == 202, job.text
    run_id = job.json()["result_id"]
    with world.db.session() as session:
        run = session.get(PlanningRun, run_id)
        assert run is not None
        assert scope.run_site_ids(run) == {world.sites["north"]}
    read = scheduler.get(f"/api/v1/planning-runs/{run_id}")
    assert read.status_code == 200
    assert not _leaks(read.text, s["secret"], set())
    published = scheduler.post(f"/api/v1/planning-runs/{run_id}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"


def test_not_found_names_the_record_asked_for_never_its_patient(world: World) -> None:
    s = _south(world)
    appointment_id = s["ids"]["appointment_id"]
    scheduler = _limited(world, "scheduler")
    cancel = scheduler.put(
        f"/api/v1/appointments/{appointment_id}/status", json={"status": "cancelled", "reason": "test"}
    )
    assert cancel.status_code == 404
    assert cancel.json()["detail"] == f"appointment {appointment_id} not found"
    course = scheduler.post("/api/v1/courses", json={"order_id": s["ids"]["order_id"]})
    assert course.status_code == 404
    assert "patient" not in course.json()["detail"]
    check_in = _limited(world, "nurse").post(f"/api/v1/appointments/{appointment_id}/infusion")
    assert check_in.json()["detail"] == f"appointment {appointment_id} not found"


def test_every_model_with_a_patient_or_a_site_is_scoped_or_exempt_with_a_reason() -> None:
    """A new table with a patient_id or site_id column must say how site scope applies to it."""
    import igflow.models  # noqa: F401  (every capability's tables)
    from igflow.models import Base
    from igflow.security import scope

    scoped = {model.__name__ for model in scope._RULES}
    unclassified = sorted(
        mapper.class_.__name__
        for mapper in Base.registry.mappers
        if {c.name for c in mapper.local_table.columns} & {"patient_id", "site_id"}
        and mapper.class_.__name__ not in scoped | set(scope.UNSCOPED)
    )
    assert unclassified == []
