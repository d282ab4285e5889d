"""Each role gets exactly what it should, on every route of the app (API and pages).

The expected table below is written by hand from the role descriptions, not derived from the code's
permission map: if either drifts, this test fails. A new route must be added here too.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest

from igflow.app import iter_routes
from igflow.referrals.models import Referral, ReferralDocument
from igflow.security.models import ApiToken
from tests.api.matrix_costs import COST_MATRIX
from tests.api.matrix_home_deliveries import HOME_DELIVERIES_MATRIX, home_delivery_ids
from tests.api.matrix_home_visits import HOME_VISITS_MATRIX, home_visit_ids
from tests.api.matrix_imports import IMPORTS_MATRIX, import_ids
from tests.api.matrix_infusions import INFUSION_MATRIX, infusion_ids
from tests.api.matrix_inventory import INVENTORY_MATRIX, inventory_ids
from tests.api.matrix_jobs import JOBS_MATRIX, job_ids
from tests.api.matrix_outcomes import OUTCOME_MATRIX
from tests.api.matrix_portal import PORTAL_MATRIX, portal_ids
from tests.api.matrix_prior_auth import PRIOR_AUTH_MATRIX, prior_auth_ids
from tests.api.matrix_protocols import PROTOCOL_MATRIX, protocol_ids
from tests.api.matrix_reports import REPORTS_MATRIX
from tests.api.matrix_reports_b import REPORTS_B_MATRIX
from tests.api.test_fhir_route_tables import FHIR_MATRIX, fhir_matrix_ids
from tests.conftest import World

ANON = "anonymous"
ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, AUDIT, PATIENT = (
    "admin",
    "pharmacist",
    "nurse",
    "scheduler",
    "intake",
    "prescriber",
    "auditor",
    "patient.ann",
)
PRIOR = "prior_auth"
SIGNED_IN = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, AUDIT, PATIENT, PRIOR}
STAFF = {ADMIN, PHARM, NURSE, SCHED, INTAKE, PRESC, PRIOR}
CLINICAL = {PHARM, NURSE, INTAKE, PRESC}
PATIENT_LIST = CLINICAL | {SCHED}
EVERYONE = SIGNED_IN | {ANON}

# (method, path template, roles allowed)
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/users", {ADMIN}),
    ("POST", "/api/v1/users", {ADMIN}),
    ("PUT", "/api/v1/users/{target_user}/roles", {ADMIN}),
    ("PUT", "/api/v1/users/{target_user}/sites", {ADMIN}),
    ("PUT", "/api/v1/users/{target_user}/active", {ADMIN}),
    ("PUT", "/api/v1/users/{target_user}/password", {ADMIN}),
    ("GET", "/api/v1/tokens", {ADMIN}),
    ("POST", "/api/v1/tokens", {ADMIN}),
    ("DELETE", "/api/v1/tokens/{token}", {ADMIN}),
    ("GET", "/api/v1/fhir-clients", {ADMIN}),
    ("POST", "/api/v1/fhir-clients", {ADMIN}),
    ("POST", "/api/v1/fhir-clients/{no_row}/disable", {ADMIN}),
    ("GET", "/admin/fhir-clients", {ADMIN}),
    ("POST", "/admin/fhir-clients", {ADMIN}),
    ("POST", "/admin/fhir-clients/{no_row}/disable", {ADMIN}),
    ("GET", "/api/v1/audit/events", {AUDIT}),
    ("GET", "/api/v1/audit/verify", {AUDIT}),
    ("GET", "/api/v1/me", SIGNED_IN),
    ("GET", "/api/v1/patients", PATIENT_LIST),
    ("POST", "/api/v1/patients", {PHARM, INTAKE}),
    ("GET", "/api/v1/patients/{ann}", PATIENT_LIST),
    ("PATCH", "/api/v1/patients/{ann}", {PHARM, INTAKE}),
    ("GET", "/api/v1/patients/{ann}/measurements", CLINICAL),
    ("POST", "/api/v1/patients/{ann}/measurements", CLINICAL),
    ("GET", "/api/v1/me/patient", {PATIENT}),
    ("GET", "/api/v1/referrals", CLINICAL),
    ("POST", "/api/v1/referrals", {INTAKE, PRESC}),
    ("GET", "/api/v1/referrals/{referral}", CLINICAL),
    ("PUT", "/api/v1/referrals/{referral}/decision", {PHARM, INTAKE}),
    ("POST", "/api/v1/referrals/{referral}/documents", {INTAKE, PRESC}),
    ("GET", "/api/v1/referrals/{referral}/documents/{document}", CLINICAL),
    ("POST", "/api/v1/dose-plans/preview", CLINICAL),
    ("POST", "/api/v1/orders", {INTAKE, PRESC}),
    ("GET", "/api/v1/orders/{order}", CLINICAL),
    ("GET", "/api/v1/patients/{ann}/orders", CLINICAL),
    ("POST", "/api/v1/orders/{order}/verifications", {PHARM}),
    ("POST", "/api/v1/orders/{order}/plan-versions", CLINICAL),
    ("GET", "/api/v1/verification-queue", {PHARM}),
    ("GET", "/dose", CLINICAL),
    ("GET", "/patients/{ann}/orders/new", {INTAKE, PRESC}),
    ("POST", "/patients/{ann}/orders/new", {INTAKE, PRESC}),
    ("GET", "/orders/{order}", CLINICAL),
    ("POST", "/orders/{order}/verify", {PHARM}),
    ("POST", "/orders/{order}/plan", CLINICAL),
    ("GET", "/verification-queue", {PHARM}),
    ("POST", "/api/v1/courses", {SCHED}),
    ("GET", "/api/v1/courses", {SCHED, NURSE, PHARM}),
    ("GET", "/api/v1/courses/{course}", {SCHED, NURSE, PHARM}),
    ("GET", "/api/v1/courses/{course}/suggestions", {SCHED, NURSE, PHARM}),
    ("POST", "/api/v1/courses/{course}/bookings", {SCHED}),
    ("PUT", "/api/v1/appointments/{appointment}/status", {SCHED}),
    ("GET", "/api/v1/sites/{north}/board", {SCHED, NURSE, PHARM}),
    ("GET", "/api/v1/sites/{north}/load", {SCHED, NURSE, PHARM}),
    ("POST", "/api/v1/planning-runs", {SCHED}),
    ("GET", "/api/v1/planning-runs/{run}", {SCHED}),
    ("POST", "/api/v1/planning-runs/{run}/publish", {SCHED}),
    ("POST", "/api/v1/planning-runs/{run}/discard", {SCHED}),
    ("GET", "/api/v1/patients/{ann}/appointments.ics", {SCHED, NURSE, PHARM}),
    ("GET", "/api/v1/me/appointments.ics", {PATIENT}),
    ("GET", "/schedule", {SCHED, NURSE, PHARM}),
    ("POST", "/schedule/courses", {SCHED}),
    ("GET", "/courses/{course}", {SCHED, NURSE, PHARM}),
    ("POST", "/courses/{course}/book", {SCHED}),
    ("POST", "/appointments/{appointment}/status", {SCHED}),
    ("POST", "/courses/{course}/window", {SCHED}),
    ("GET", "/appointments/{appointment}/move", {SCHED}),
    ("POST", "/appointments/{appointment}/move", {SCHED}),
    ("GET", "/api/v1/appointments/{appointment}/move-options", {SCHED, NURSE, PHARM}),
    ("POST", "/api/v1/appointments/{appointment}/move", {SCHED}),
    ("GET", "/schedule/closures", {SCHED}),
    ("POST", "/schedule/closures", {SCHED}),
    ("GET", "/schedule/closures/{no_row}", {SCHED}),
    ("POST", "/schedule/closures/{no_row}/notify", {SCHED}),
    ("GET", "/mailbox", {SCHED, NURSE, PHARM}),
    ("POST", "/mailbox/{no_row}/resend", {SCHED}),
    ("GET", "/patients/{ann}/scheduling", {SCHED, NURSE, PHARM}),
    ("POST", "/patients/{ann}/scheduling", {SCHED}),
    ("POST", "/patients/{ann}/unavailable-dates", {SCHED}),
    ("POST", "/patients/{ann}/unavailable-dates/{no_row}/remove", {SCHED}),
    ("GET", "/board", {SCHED, NURSE, PHARM}),
    ("GET", "/load", {SCHED, NURSE, PHARM}),
    ("GET", "/planning", {SCHED}),
    ("POST", "/planning", {SCHED}),
    ("GET", "/planning/{run}", {SCHED}),
    ("POST", "/planning/{run}/publish", {SCHED}),
    ("POST", "/planning/{run}/discard", {SCHED}),
    ("GET", "/my/appointments.ics", {PATIENT}),
    ("GET", "/api/v1/sites", STAFF),
    ("POST", "/api/v1/sites", {ADMIN}),
    ("GET", "/api/v1/sites/{north}", STAFF),
    ("PUT", "/api/v1/sites/{north}", {ADMIN}),
    ("POST", "/api/v1/sites/{north}/chairs", {ADMIN}),
    ("PUT", "/api/v1/sites/{north}/chairs/{chair}", {ADMIN}),
    ("PUT", "/api/v1/sites/{north}/details", {ADMIN}),
    ("PUT", "/api/v1/sites/{north}/hours", {ADMIN}),
    ("POST", "/api/v1/sites/{north}/closed-dates", {ADMIN}),
    ("DELETE", "/api/v1/sites/{north}/closed-dates/{closed_date}", {ADMIN}),
    ("GET", "/api/v1/prescribers", {ADMIN, PHARM, NURSE, INTAKE, PRESC}),
    ("POST", "/api/v1/prescribers", {INTAKE}),
    ("GET", "/api/v1/payers", {ADMIN, PHARM, NURSE, INTAKE, PRESC}),
    ("POST", "/api/v1/payers", {INTAKE}),
    ("GET", "/healthz", EVERYONE),
    ("GET", "/favicon.ico", EVERYONE),
    ("GET", "/login", EVERYONE),
    ("POST", "/login", EVERYONE),
    ("POST", "/logout", SIGNED_IN),
    ("GET", "/", SIGNED_IN),
    ("GET", "/patients", PATIENT_LIST),
    ("GET", "/patients/new", {PHARM, INTAKE}),
    ("POST", "/patients/new", {PHARM, INTAKE}),
    ("GET", "/patients/{ann}", PATIENT_LIST),
    ("POST", "/patients/{ann}/measurements", CLINICAL),
    ("POST", "/patients/{ann}/home-location", {PHARM, INTAKE}),
    ("GET", "/patients/{ann}/edit", {PHARM, INTAKE}),
    ("POST", "/patients/{ann}/edit", {PHARM, INTAKE}),
    ("GET", "/patients/{ann}/history", CLINICAL | {PRIOR}),
    ("GET", "/patients/{ann}/contact", {PHARM, INTAKE}),
    ("POST", "/patients/{ann}/contact", {PHARM, INTAKE}),
    ("GET", "/my/messages", {PATIENT}),
    ("POST", "/my/messages", {PATIENT}),
    ("GET", "/my/diary", {PATIENT}),
    ("POST", "/my/diary/{no_row}", {PATIENT}),
    ("GET", "/my/requests", {PATIENT}),
    ("POST", "/my/requests", {PATIENT}),
    ("GET", "/schedule/requests", {SCHED}),
    ("POST", "/schedule/requests/{no_row}/answer", {SCHED}),
    ("GET", "/my", {PATIENT}),
    ("GET", "/referrals", CLINICAL),
    ("GET", "/referrals/new", {INTAKE, PRESC}),
    ("POST", "/referrals/new", {INTAKE, PRESC}),
    ("GET", "/referrals/{referral}", CLINICAL),
    ("POST", "/referrals/{referral}/decision", {PHARM, INTAKE}),
    ("GET", "/referrals/{referral}/documents/{document}", CLINICAL),
    ("GET", "/admin/sites", STAFF),
    ("POST", "/admin/sites/{north}/chairs", {ADMIN}),
    ("POST", "/admin/sites/{north}/chairs/{chair}/active", {ADMIN}),
    ("GET", "/admin/sites/{north}", STAFF),
    ("POST", "/admin/sites/{north}", {ADMIN}),
    ("POST", "/admin/sites/{north}/hours", {ADMIN}),
    ("POST", "/admin/sites/{north}/closed-dates", {ADMIN}),
    ("POST", "/admin/sites/{north}/closed-dates/{closed_date}/delete", {ADMIN}),
    ("POST", "/admin/sites/{north}/chairs/{chair}", {ADMIN}),
    ("GET", "/admin/users", {ADMIN}),
    ("POST", "/admin/users", {ADMIN}),
    ("POST", "/admin/users/{target_user}/active", {ADMIN}),
    ("GET", "/admin/users/{target_user}", {ADMIN}),
    ("POST", "/admin/users/{target_user}/roles", {ADMIN}),
    ("POST", "/admin/users/{target_user}/sites", {ADMIN}),
    ("POST", "/admin/users/{target_user}/password", {ADMIN}),
    ("GET", "/audit", {AUDIT}),
    ("GET", "/openapi.json", STAFF | {AUDIT}),
    ("GET", "/docs", STAFF | {AUDIT}),
]


# The prior-authorisation specialist: the chart reads a packet is built from (patients, referrals and their
# documents, orders and their response, measurements, outcomes), the schedule (to see what an
# authorisation covers), coverage, prior authorisation, prior therapies and the payer directory. Reviewed
# route by route; recomputing a plan is open to every order reader (a GET never writes).
PRIOR_ALLOWED: set[tuple[str, str]] = {
    ("GET", "/api/v1/courses"),
    ("GET", "/api/v1/courses/{course}"),
    ("GET", "/api/v1/courses/{course}/suggestions"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/orders/{order}"),
    ("GET", "/api/v1/orders/{order}/response"),
    ("GET", "/api/v1/patients"),
    ("GET", "/api/v1/patients/{ann}"),
    ("GET", "/api/v1/patients/{ann}/appointments.ics"),
    ("GET", "/api/v1/patients/{ann}/coverages"),
    ("GET", "/api/v1/patients/{ann}/measurements"),
    ("GET", "/api/v1/patients/{ann}/orders"),
    ("GET", "/api/v1/patients/{ann}/outcomes"),
    ("GET", "/api/v1/patients/{ann}/prior-auth"),
    ("GET", "/api/v1/patients/{ann}/prior-therapies"),
    ("GET", "/api/v1/payers"),
    ("GET", "/api/v1/prescribers"),
    ("GET", "/api/v1/prior-auth/expiring"),
    ("GET", "/api/v1/prior-auth/queue"),
    ("GET", "/api/v1/prior-auth/{pa}"),
    ("GET", "/api/v1/prior-auth/{pa}/pas-bundle"),
    ("GET", "/api/v1/referrals"),
    ("GET", "/api/v1/referrals/{referral}"),
    ("GET", "/api/v1/referrals/{referral}/documents/{document}"),
    ("GET", "/api/v1/sites/{north}/board"),
    ("GET", "/api/v1/sites/{north}/load"),
    ("GET", "/board"),
    ("GET", "/courses/{course}"),
    ("GET", "/patients/{ann}/scheduling"),
    ("GET", "/api/v1/appointments/{appointment}/move-options"),
    ("GET", "/mailbox"),
    ("GET", "/load"),
    ("GET", "/orders/{order}"),
    ("GET", "/patients"),
    ("GET", "/patients/{ann}"),
    ("GET", "/prior-auth"),
    ("GET", "/prior-auth/letters/{pa_letter}.pdf"),
    ("GET", "/prior-auth/payers"),
    ("GET", "/prior-auth/{pa}"),
    ("GET", "/prior-auth/{pa}/pas-bundle.json"),
    ("GET", "/referrals"),
    ("GET", "/referrals/{referral}"),
    ("GET", "/referrals/{referral}/documents/{document}"),
    ("GET", "/schedule"),
    ("POST", "/api/v1/coverages/{coverage}/end"),
    ("POST", "/api/v1/orders/{order}/plan-versions"),
    ("POST", "/api/v1/patients/{ann}/coverages"),
    ("POST", "/api/v1/patients/{ann}/prior-therapies"),
    ("POST", "/api/v1/payers"),
    ("POST", "/api/v1/prescribers"),
    ("POST", "/api/v1/prior-auth"),
    ("POST", "/api/v1/prior-auth/{pa}/appeal"),
    ("POST", "/api/v1/prior-auth/{pa}/appeal-decision"),
    ("POST", "/api/v1/prior-auth/{pa}/attestations"),
    ("POST", "/api/v1/prior-auth/{pa}/decision"),
    ("POST", "/api/v1/prior-auth/{pa}/draft"),
    ("POST", "/api/v1/prior-auth/{pa}/pas-response"),
    ("POST", "/api/v1/prior-auth/{pa}/ready"),
    ("POST", "/api/v1/prior-auth/{pa}/submit"),
    ("POST", "/api/v1/prior-auth/{pa}/withdraw"),
    ("POST", "/orders/{order}/plan"),
    ("POST", "/patients/{ann}/coverages"),
    ("POST", "/patients/{ann}/prior-auth"),
    ("POST", "/patients/{ann}/prior-therapies"),
    ("POST", "/prior-auth/payers/{payer}"),
    ("POST", "/prior-auth/{pa}/appeal-decision"),
    ("POST", "/prior-auth/{pa}/attest"),
    ("POST", "/prior-auth/{pa}/decision"),
    ("POST", "/prior-auth/{pa}/letter"),
    ("POST", "/prior-auth/{pa}/move"),
    ("POST", "/prior-auth/{pa}/pas-response"),
    ("POST", "/prior-auth/{pa}/requested"),
    ("POST", "/referral-documents/{document}/category"),
    ("PUT", "/api/v1/payers/{payer}/prior-auth-settings"),
    ("PUT", "/api/v1/prior-auth/{pa}/requested"),
    ("PUT", "/api/v1/referral-documents/{document}/category"),
}

# Capabilities keep their own rows (and the ids their rows need) beside their tests.
MATRIX += INVENTORY_MATRIX + INFUSION_MATRIX + JOBS_MATRIX + PROTOCOL_MATRIX + OUTCOME_MATRIX + COST_MATRIX
MATRIX += PRIOR_AUTH_MATRIX
MATRIX += HOME_DELIVERIES_MATRIX
MATRIX += HOME_VISITS_MATRIX
MATRIX += FHIR_MATRIX
MATRIX += IMPORTS_MATRIX
MATRIX += PORTAL_MATRIX
MATRIX += REPORTS_MATRIX
MATRIX += REPORTS_B_MATRIX
MATRIX = [(m, p, allowed | {PRIOR} if (m, p) in PRIOR_ALLOWED else allowed) for m, p, allowed in MATRIX]


def _template(path: str) -> str:
    """'/api/v1/patients/{ann}' -> '/api/v1/patients/{}' for comparison with the app's own templates."""
    out, depth = [], 0
    for ch in path:
        if ch == "{":
            depth += 1
            out.append("{")
        elif ch == "}":
            depth -= 1
            out.append("}")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def test_matrix_covers_every_route(app: Any) -> None:
    in_app = {(m, _template(p)) for p, methods, _ in iter_routes(app) for m in methods if m != "HEAD"}
    in_matrix = {(m, _template(p)) for m, p, _ in MATRIX}
    assert in_app - in_matrix == set(), "routes missing from the role matrix"
    assert in_matrix - in_app == set(), "matrix rows for routes that do not exist"


def _ids(world: World) -> dict[str, int]:
    world.add_user("target", ["nurse"])
    with world.db.session() as session:
        referral = Referral(
            patient_id=world.patients["ann"],
            received_on=date(2026, 11, 1),
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
        token = ApiToken(
            user_id=world.users["svc"],
            name="t",
            prefix="igf_x",
            token_hash="f" * 64,
            roles=["pharmacist"],
            expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
        session.add(token)
        session.commit()
        from igflow.sites.models import ClosedDate, Site

        north = session.get(Site, world.sites["north"])
        assert north is not None
        chair_id = north.chairs[0].id
        closed = ClosedDate(site_id=north.id, date=date(2099, 1, 5), reason="Matrix closure")
        session.add(closed)
        session.commit()
        closed_date_id = closed.id
    nurse = world.client("nurse")
    for kind, value in (("weight_kg", 70), ("height_cm", 170)):
        url = f"/api/v1/patients/{world.patients['ann']}/measurements"
        nurse.post(url, json={"kind": kind, "value": value, "measured_on": "2026-11-01"})
    order = world.client("prescriber").post(
        "/api/v1/orders",
        json={
            "patient_id": world.patients["ann"],
            "prescriber_id": world.prescriber_id,
            "indication_id": "cidp",
            "phase": "maintenance",
            "product_id": "privigen",
        },
    )
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    world.client("pharmacist").post(
        f"/api/v1/orders/{oid}/verifications", json={"version": 1, "decision": "verified"}
    )
    scheduler = world.client("scheduler")
    course = scheduler.post("/api/v1/courses", json={"order_id": oid}).json()
    option = scheduler.get(f"/api/v1/courses/{course['id']}/suggestions").json()[0]
    booked = scheduler.post(
        f"/api/v1/courses/{course['id']}/bookings",
        json={k: option[k] for k in ("site", "dates", "starts", "chairs")},
    ).json()
    run = scheduler.post(
        "/api/v1/planning-runs", json={"start_date": option["dates"][0], "days": 7, "time_limit_s": 1}
    )
    ids = {
        "course": course["id"],
        "appointment": booked["appointments"][0]["id"],
        "run": run.json()["result_id"],  # the planning job ran inline (the tests' immediate queue)
        "order": order.json()["id"],
        "ann": world.patients["ann"],
        "referral": referral.id,
        "document": referral.documents[0].id,
        "token": token.id,
        "north": world.sites["north"],
        "chair": chair_id,
        "closed_date": closed_date_id,
        "target_user": world.users["target"],
        "no_row": 999_999,  # a row that does not exist: the allowed roles get 404, the others 403
    }
    ids.update(inventory_ids(world, ids))
    ids.update(infusion_ids(world, ids))
    ids.update(job_ids(world, ids))
    ids.update(protocol_ids(world, ids))
    ids.update(prior_auth_ids(world, ids))
    ids.update(home_delivery_ids(world, ids))
    ids.update(home_visit_ids(world, ids))
    ids.update(fhir_matrix_ids(world, ids))
    ids.update(import_ids(world, ids))
    ids.update(portal_ids())
    return ids


def _request(client: Any, method: str, url: str) -> Any:
    if method == "POST" and url == "/login" and not client.csrf:
        client.get("/login")  # the sign-in form sets its own CSRF cookie before there is a session
        return client.post(url, data={"csrf_token": client.cookies.get("igflow_csrf")})
    if method == "POST" and url.endswith("/documents"):
        return client.post(url, files={"file": ("x.pdf", io.BytesIO(b"%PDF-1.4 test"), "application/pdf")})
    if method in ("POST", "PUT", "PATCH"):
        if url.startswith("/api/"):
            return client.request(method, url, json={})
        return client.request(method, url, data={})
    return client.request(method, url)


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_each_role_gets_exactly_its_routes(world: World, role: str) -> None:
    ids = _ids(world)
    wrong: list[str] = []
    for method, path, allowed in MATRIX:
        url = path.format(**ids)
        client = world.client(None if role == ANON else role)
        response = _request(client, method, url)
        status = response.status_code
        if role in allowed:
            if status in (401, 403) or (
                status == 303 and "/login?next=" in response.headers.get("location", "")
            ):
                wrong.append(f"{method} {path}: {role} should be allowed, got {status}")
        elif role == ANON:
            expected = 401 if url.startswith(("/api/", "/fhir/")) else 303  # APIs answer 401
            if status != expected or (status == 303 and "/login?next=" not in response.headers["location"]):
                wrong.append(f"{method} {path}: anonymous should get {expected}, got {status}")
        elif status != 403:
            wrong.append(f"{method} {path}: {role} should be refused (403), got {status}")
    assert wrong == []
