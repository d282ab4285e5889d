"""The prior-authorisation, drug and safety reports as pages and downloads: words not codes, CSV with a header
row and ISO dates, XLSX read back with openpyxl, a site-limited user sees only their centre, refused filters
say what is wrong beside the field, and every download is audited with its filters and no patient data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from igflow.authorizations.models import PriorAuthEvent, PriorAuthRequest
from igflow.directory.models import Payer
from igflow.patients.models import Coverage
from igflow.security.models import AuditEvent
from tests.api.test_costs_api import VITALS, _price
from tests.api.test_infusions_api import Chart, _lots_for
from tests.api.test_scheduling_api import _course, _patient, _verified_order, book_first_option
from tests.conftest import World

TODAY = dt.date.today()
UTC = dt.UTC


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1]))


def _infusion(world: World) -> dict[str, Any]:
    """A Gammagard infusion at North charted through the API: vials dispensed, a rate step up, a grade 2
    reaction with headache, ended with 90 % of the volume (so some partial-vial waste)."""
    _price(world, 8250)
    pid = _patient(world, "rex", "RPT001")
    oid = _verified_order(world, pid)
    course = _course(world, oid)
    booked = book_first_option(world, course["id"])
    plan = world.client("pharmacist").get(f"/api/v1/orders/{oid}").json()["versions"][-1]["plan"]
    scans = _lots_for(world, plan)
    appointment = booked["appointments"][0]
    record = world.client("nurse").post(f"/api/v1/appointments/{appointment['id']}/infusion").json()
    chart = Chart(world, record["id"])
    steps = plan["days"][0]["steps"]
    for kind, payload in [
        ("checklist", {"identifiers": ["name", "date_of_birth"], "hydration": True, "iv_access": "22G"}),
        ("weight", {"weight_kg": plan["weight_kg"]}),
        ("vitals", VITALS),
        *[("vial", {"scan_text": s}) for s in scans],
        ("start", {}),
        ("rate_change", {"rate_ml_per_h": steps[1]["rate_ml_per_h"]}),
        ("reaction", {"grade": 2, "symptoms": ["headache"], "action_taken": "slow_to_previous_step"}),
        (
            "end",
            {
                "volume_infused_ml": round(plan["days"][0]["volume_ml"] * 0.9, 1),
                "vials_wasted": 0,
                "confirm_volume": True,
            },
        ),
    ]:
        response = chart(kind, payload)
        assert response.status_code == 201, (kind, response.text)
    day = dt.date.fromisoformat(appointment["date"])
    return {
        "patient": pid,
        "order": oid,
        "date": day,
        "period": f"start={day.isoformat()}&end={day.isoformat()}",
    }


def _requests(world: World) -> dict[str, Any]:
    """Two prior-authorisation requests of a North patient written straight to the tables: one approved
    (ending in 20 days, decided 3 days after submission), one denied then approved on appeal."""
    pid = _patient(world, "pia", "RPT002")
    oid = _verified_order(world, pid)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with world.db.session() as session:
        payer = Payer(code="acme", name="Acme Health Plan", reauth_lead_days=45)
        session.add(payer)
        session.flush()
        coverage = Coverage(patient_id=pid, payer_id=payer.id, member_id="M1", benefit="medical")
        session.add(coverage)
        session.flush()
        user = world.users["prior_auth"]
        approved = PriorAuthRequest(
            patient_id=pid,
            order_id=oid,
            coverage_id=coverage.id,
            policy_id="generic",
            status="approved",
            created_by_user_id=user,
            created_at=now - dt.timedelta(days=10),
            start_date=TODAY - dt.timedelta(days=5),
            end_date=TODAY + dt.timedelta(days=20),
        )
        appealed = PriorAuthRequest(
            patient_id=pid,
            order_id=oid,
            coverage_id=coverage.id,
            policy_id="generic",
            status="appeal_approved",
            created_by_user_id=user,
            created_at=now - dt.timedelta(days=9),
        )
        session.add_all([approved, appealed])
        session.flush()
        for request, status, days_ago, reason in [
            (approved, "submitted", 8, ""),
            (approved, "approved", 5, ""),
            (appealed, "submitted", 8, ""),
            (appealed, "denied", 7, "Step therapy not documented"),
            (appealed, "appeal_submitted", 6, ""),
            (appealed, "appeal_approved", 2, ""),
        ]:
            session.add(
                PriorAuthEvent(
                    request_id=request.id,
                    to_status=status,
                    by_user_id=user,
                    at=now - dt.timedelta(days=days_ago),
                    reason=reason,
                )
            )
        session.commit()
        return {"patient": pid, "payer": payer.id}


def test_the_three_pages_show_words_not_codes(world: World) -> None:
    s = _infusion(world)
    _requests(world)
    pharmacist = world.client("pharmacist")
    drug = pharmacist.get(f"/reports/drug?{s['period']}")
    assert drug.status_code == 200, drug.text
    text = _text(drug.text)
    assert "Gammagard Liquid 10%" in text and "North Centre" in text and "Primary immunodeficiency" in text
    assert "No coverage on record" in text and "Partial-vial waste" in text
    assert 'href="/reports/cost"' in drug.text and "<svg" in drug.text
    assert "gammagard-liquid" not in text and "partial_vial" not in text
    safety = pharmacist.get(f"/reports/safety?{s['period']}")
    assert safety.status_code == 200
    text = _text(safety.text)
    assert "1 infusion charted" in text and "step 2" in text and "later infusions" in text
    assert "Headache: 1 (100 %" in text and 'href="/reports/reactions"' in safety.text
    assert "moderate-or-severe" not in text and "Source:" in text
    prior = pharmacist.get("/reports/prior-auth")
    assert prior.status_code == 200
    text = _text(prior.text)
    assert (
        "approved on appeal" in text and "Acme Health Plan" in text and "Step therapy not documented" in text
    )
    assert "appeal_approved" not in text and "Sched" in text
    # the appeal overturned a denial: 1 of 1; the approval took 3 days (8 - 5)
    assert "Days to decision by payer" in text


def test_csv_has_a_header_row_and_iso_dates(world: World) -> None:
    _requests(world)
    response = world.client("prior_auth").get("/reports/prior-auth/download?format=csv&table=expiring")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "Patient",
        "Product",
        "Payer",
        "Centre",
        "Ends on",
        "Days left",
        "Re-authorise from",
        "Re-authorisation requested",
    ]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Ends on"] == (TODAY + dt.timedelta(days=20)).isoformat()
    # the payer's own lead time (45 days) before the end: 25 days ago
    assert row["Re-authorise from"] == (TODAY - dt.timedelta(days=25)).isoformat()
    assert row["Payer"] == "Acme Health Plan" and row["Centre"] == "North Centre" and row["Days left"] == "20"
    turnaround = world.client("prior_auth").get("/reports/prior-auth/download?format=csv&table=turnaround")
    rows = list(csv.reader(io.StringIO(turnaround.text)))
    assert rows[0] == ["Payer", "Decisions", "Median (days)", "90th percentile (days)"]
    # both requests submitted 8 days ago; decided 5 and 7 days ago -> 3.0 and 1.0 days; median 2.0, p90 3.0
    assert rows[1] == ["Acme Health Plan", "2", "2.0", "3.0"]


def test_xlsx_reads_back_with_a_sheet_per_table(world: World) -> None:
    s = _infusion(world)
    response = world.client("pharmacist").get(f"/reports/drug/download?format=xlsx&{s['period']}")
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:4] == [
        "Grams by product",
        "Grams by indication",
        "Grams by payer",
        "Grams by centre",
    ]
    sheet = book["Grams by product"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Product", "Infusion days", "Grams dispensed (g)"] and sheet["A1"].font.bold
    assert sheet["A2"].value == "Gammagard Liquid 10%" and sheet["B2"].value == 1
    grams, waste = sheet["C2"].value, sheet["D2"].value
    assert grams > 0 and 0 < waste < grams
    safety = world.client("nurse").get(f"/reports/safety/download?format=xlsx&{s['period']}")
    sheets = load_workbook(io.BytesIO(safety.content)).sheetnames
    assert sheets == ["Reaction rates", "Published baseline"]


def test_a_site_limited_user_sees_only_their_centre(world: World) -> None:
    s = _infusion(world)
    _requests(world)
    world.add_user("pharmacist.south", ["pharmacist"], ["south"])
    south = world.client("pharmacist.south")
    drug = _text(south.get(f"/reports/drug?{s['period']}").text)
    assert "North Centre" not in drug and "No vial was dispensed" in drug
    safety = _text(south.get(f"/reports/safety?{s['period']}").text)
    assert "0 infusions charted" in safety
    prior = _text(south.get("/reports/prior-auth").text)
    # (the payer directory is shared, so the payer is still a filter choice; its requests are not shown)
    assert "Step therapy not documented" not in prior and "Sched" not in prior
    assert "No request was opened in this period" in prior and "No authorisation ends within 60 days" in prior
    rows = list(csv.reader(io.StringIO(south.get(f"/reports/safety/download?format=csv&{s['period']}").text)))
    assert all(r[3] == "0" for r in rows[1:4])  # all infusions: n = 0
    # the other centre is not a choice for them
    north = south.get(f"/reports/drug?centre={world.sites['north']}")
    assert north.status_code == 422 and "choose a centre from the list" in _text(north.text).lower()


def test_bad_filters_are_refused_beside_the_field(world: World) -> None:
    pharmacist = world.client("pharmacist")
    page = pharmacist.get("/reports/safety?start=2026-05-02&end=2026-05-01")
    assert page.status_code == 422
    assert 'id="err-start"' in page.text and "is after the last day" in page.text
    assert 'aria-invalid="true"' in page.text and "default period" in _text(page.text)
    assert pharmacist.get("/reports/drug?start=yesterday").status_code == 422
    assert "is not a date such as" in pharmacist.get("/reports/drug?start=yesterday").text
    bad = pharmacist.get("/reports/drug/download?format=csv&start=2026-05-02&end=2026-05-01")
    assert bad.status_code == 422 and "is after the last day" in bad.text
    assert pharmacist.get("/reports/drug/download?format=pdf").status_code == 422
    assert "choose one of csv, xlsx" in pharmacist.get("/reports/drug/download?format=pdf").text
    assert pharmacist.get("/reports/drug/download?format=csv&table=nope").status_code == 422
    assert pharmacist.get("/reports/prior-auth?product=no-such").status_code == 422


def test_every_download_is_audited_with_its_filters_and_no_patient_data(world: World) -> None:
    s = _infusion(world)
    nurse = world.client("nurse")
    assert (
        nurse.get(
            f"/reports/safety/download?format=csv&{s['period']}&centre={world.sites['north']}"
        ).status_code
        == 200
    )
    with world.db.session() as session:
        rows = list(
            session.execute(select(AuditEvent).where(AuditEvent.action == "report.download")).scalars()
        )
    assert len(rows) == 1
    row = rows[0]
    detail = json.loads(row.detail)
    assert row.resource_type == "report" and row.resource_id == "safety" and row.patient_id is None
    assert detail["filters"] == {
        "start": s["date"].isoformat(),
        "end": s["date"].isoformat(),
        "centre": world.sites["north"],
    }
    assert detail["format"] == "csv" and detail["table"] == "rates"
    assert "returned_ids" not in detail and str(s["patient"]) not in row.detail
