"""The chair, on-time and outcome report pages, downloads and API: figures from a small data set written
straight into the tables (times known to the minute, the arithmetic in the comments), filters and their
errors, site limits, the index of reports by permission, and the audit of every download."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.infusions.models import InfusionRecord
from igflow.orders.models import PlanVersion
from igflow.outcomes.models import ContinuationDecision
from igflow.security.models import AuditEvent
from tests.api.test_scheduling_api import _patient, _verified_order
from tests.conftest import World
from tests.support.visible_text import visible_text

DAY = dt.date(2026, 11, 2)  # a Monday: both test centres are open 08:00-17:00 with 2 nurses
ZONE = ZoneInfo("America/Los_Angeles")  # the test centres' time zone
PERIOD = f"start={DAY.isoformat()}&end={DAY.isoformat()}"


def _local(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=ZONE).astimezone(dt.UTC)


def _course(
    session: Any, order_id: int, patient_id: int, status: str, target: dt.date, cycle: int = 1
) -> tuple[Course, CourseSession]:
    version = session.execute(select(PlanVersion).where(PlanVersion.order_id == order_id)).scalars().first()
    course = Course(
        order_id=order_id,
        plan_version_id=version.id,
        patient_id=patient_id,
        cycle=cycle,
        priority=2,
        target=target,
        earliest=target - dt.timedelta(days=3),
        latest=target + dt.timedelta(days=3),
        window_reason="test: 3 days either side of the target",
        status=status,
    )
    session.add(course)
    session.flush()
    cs = CourseSession(course_id=course.id, day_index=1, duration_min=120, dose_g=30.0)
    session.add(cs)
    session.flush()
    return course, cs


def _appointment(
    session: Any,
    cs: CourseSession,
    patient_id: int,
    site_id: int,
    chair_id: int,
    start: int,
    minutes: int,
    status: str,
) -> Appointment:
    appt = Appointment(
        course_session_id=cs.id,
        patient_id=patient_id,
        site_id=site_id,
        chair_id=chair_id,
        date=DAY,
        start_min=start,
        duration_min=minutes,
        status=status,
        source="test",
        status_reason="patient unwell" if status == "cancelled" else "",
    )
    session.add(appt)
    session.flush()
    return appt


@pytest.fixture
def data(world: World) -> dict[str, Any]:
    nan = _patient(world, "nan", "REP001", "north")
    sam = _patient(world, "sam", "REP002", "south")
    north_order = _verified_order(world, nan, indication="pid")
    south_order = _verified_order(world, sam, indication="pid")
    with world.db.session() as session:
        from igflow.sites.models import Site

        north, south = session.get(Site, world.sites["north"]), session.get(Site, world.sites["south"])
        n1, n2, s1 = north.chairs[0].id, north.chairs[1].id, south.chairs[0].id
        plan = (
            session.execute(select(PlanVersion).where(PlanVersion.order_id == north_order)).scalars().first()
        )
        setup = int(plan.plan["days"][0].get("setup_min") or 0)
        # North: a completed course given on its target date (on time) at 09:00 for 120 minutes ...
        given, given_cs = _course(session, north_order, nan, "completed", DAY)
        a1 = _appointment(session, given_cs, nan, north.id, n1, 540, 120, "completed")
        # ... and a booked day at 10:00 for 60 minutes of a later course, and a cancelled one (not in use)
        ahead = dt.date.today() + dt.timedelta(days=10)  # its window is still open
        later, later_cs = _course(session, north_order, nan, "waiting", ahead, cycle=2)
        _appointment(session, later_cs, nan, north.id, n2, 600, 60, "booked")
        _appointment(session, later_cs, nan, north.id, n2, 540, 60, "cancelled")
        session.add(
            InfusionRecord(
                appointment_id=a1.id,
                patient_id=nan,
                order_id=north_order,
                plan_version_id=plan.id,
                day_index=1,
                product_id="gammagard-liquid",
                status="signed",
                created_at=_local(DAY, 8, 50),  # checked in 08:50
                started_at=_local(DAY, 9, 30),  # infusion started 09:30
                created_by_user_id=world.users["nurse"],
            )
        )
        # South: a course booked at 09:00 for 60 minutes and never given (its window has passed: missed)
        missed, missed_cs = _course(session, south_order, sam, "booked", DAY)
        _appointment(session, missed_cs, sam, south.id, s1, 540, 60, "booked")
        # North's order is past its review date: decided 60 days ago with a 28-day interval
        session.add(
            ContinuationDecision(
                order_id=north_order,
                patient_id=nan,
                kind="continue",
                reason="stable on treatment",
                decided_on=dt.date.today() - dt.timedelta(days=60),
                decided_by_user_id=world.users["prescriber"],
                details={"review_in_days": 28},
            )
        )
        session.commit()
        ids = {"later": later.id, "given": given.id, "missed": missed.id}
    world.add_user("sched.north", ["scheduler"], ["north"])
    world.add_user("pharm.north", ["pharmacist"], ["north"])
    return {"setup": setup, **ids}


def _rows(html: str) -> str:
    return visible_text(html)


def test_utilisation_figures_by_hand(world: World, data: dict[str, Any]) -> None:
    body = world.client("scheduler").get(f"/api/v1/reports/utilisation?{PERIOD}").json()
    tables = {t["title"]: t["rows"] for t in body["tables"]}
    by_centre = {r["centre"]: r for r in tables["Utilisation by centre"]}
    north = by_centre["North Centre"]
    # North: 4 chairs, 2 nurses x 4 patients = 8 -> 4 staffed chairs x 9 h (08:00-17:00) = 36 chair-hours;
    # in use 120 + 60 minutes = 3 chair-hours (the cancelled day is not); 3 / 36 = 8.3 %
    assert (north["capacity_h"], north["used_h"], north["share_pct"]) == (36.0, 3.0, 8.3)
    # the peak: 10:00-11:00, two chairs (the 09:00 infusion's second hour and the 10:00 booking)
    assert (north["peak_hour"], north["peak_mean"], north["peak_chairs"]) == ("10:00–11:00", 2.0, 2)
    # South: 3 chairs x 9 h = 27 chair-hours; 1 chair-hour in use; 1 / 27 = 3.7 %
    assert (by_centre["South Centre"]["capacity_h"], by_centre["South Centre"]["share_pct"]) == (27.0, 3.7)
    (start,) = tables["First-case start and wait"]
    # the first infusion: booked 09:00, started 09:30: 30 minutes after the booked time, less the plan's
    # set-up; checked in 08:50: a 40-minute wait
    assert start["delay_median"] == 30 - data["setup"]
    assert (start["wait_median"], start["waits"]) == (40, 1)
    (first,) = tables["First case of each day"]
    assert (first["date"], first["booked"], first["started"]) == (DAY.isoformat(), "09:00", "09:30")


def test_the_utilisation_page_shows_charts_with_their_tables(world: World, data: dict[str, Any]) -> None:
    page = world.client("scheduler").get(f"/reports/utilisation?{PERIOD}")
    assert page.status_code == 200
    # per centre (North, South) a weekday and an hour chart; one chart of first-case delays
    assert page.text.count('<svg class="chart"') == 5
    assert (
        'aria-label="North Centre: share of staffed chair time in use, by weekday: 1 bar, in %' in page.text
    )
    text = _rows(page.text)
    assert "North Centre" in text and "South Centre" in text and "10:00–11:00" in text
    assert "Download this table (CSV)" in text


def test_a_site_limited_user_sees_only_their_centres(world: World, data: dict[str, Any]) -> None:
    client = world.client("sched.north")
    body = client.get(f"/api/v1/reports/utilisation?{PERIOD}").json()
    centres = {r["centre"] for t in body["tables"] for r in t["rows"] if "centre" in r}
    assert centres == {"North Centre"}
    page = client.get(f"/reports/utilisation?{PERIOD}")
    assert "South Centre" not in page.text
    on_time = client.get(f"/reports/on-time?{PERIOD}")
    assert "South Centre" not in on_time.text and "Southgate" not in on_time.text
    # another centre asked for by name is refused beside the centre field
    refused = client.get(f"/reports/utilisation?{PERIOD}&centre=south")
    assert refused.status_code == 422
    assert "Not one of the centres you can see" in refused.text
    outcomes = world.client("pharm.north").get("/api/v1/reports/outcomes").json()
    assert {r["centre"] for r in outcomes["tables"][1]["rows"]} == {"North Centre"}


def test_on_time_figures_and_the_waiting_list(world: World, data: dict[str, Any]) -> None:
    body = world.client("scheduler").get(f"/api/v1/reports/on-time?{PERIOD}").json()
    tables = {t["title"]: t["rows"] for t in body["tables"]}
    by_centre = {r["group"]: r for r in tables["On time by centre"]}
    # North: its course given on the target date -> 1 of 1 on time; South: not given and its window
    # (30 Oct to 5 Nov) has passed -> 0 of 1; by indication (both PID): 1 of 2 = 50 %
    assert (by_centre["North Centre"]["on_time"], by_centre["North Centre"]["share_pct"]) == (1, 100.0)
    assert (by_centre["South Centre"]["missed"], by_centre["South Centre"]["share_pct"]) == (0 + 1, 0.0)
    (pid,) = tables["On time by indication"]
    assert (pid["judged"], pid["share_pct"]) == (2, 50.0)
    # waiting: the second cycle, its booked day cancelled for "patient unwell"
    assert tables["Courses waiting, by reason"] == [
        {"reason": "A booked day was cancelled", "courses": 1, "window_passed": 0, "longest_wait_days": 0}
    ]
    page = world.client("scheduler").get(f"/reports/on-time?{PERIOD}")
    assert "A booked day was cancelled: patient unwell" in _rows(page.text)
    assert f'href="/courses/{data["later"]}"' in page.text


def test_outcomes_lists_orders_past_their_review_date(world: World, data: dict[str, Any]) -> None:
    page = world.client("prescriber").get("/reports/outcomes")
    assert page.status_code == 200
    text = _rows(page.text)
    # decided 60 days ago with a 28-day interval: due 32 days ago
    assert "Sched, Nan" in text and "the 28-day review interval set at the last decision" in text
    due = (dt.date.today() - dt.timedelta(days=32)).isoformat()
    body = world.client("prescriber").get("/api/v1/reports/outcomes").json()
    (past,) = body["tables"][1]["rows"]
    assert (past["due_on"], past["days_overdue"]) == (due, 32)
    assert world.client("scheduler").get("/reports/outcomes").status_code == 403


def test_csv_download_has_a_header_row_and_iso_dates_and_is_audited(
    world: World, data: dict[str, Any]
) -> None:
    client = world.client("scheduler")
    response = client.get(f"/reports/utilisation/download?format=csv&table=5&{PERIOD}&centre=north")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        'filename="chair-utilisation-2026-11-02-to-2026-11-02.csv"' in response.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "Centre",
        "Date",
        "Booked chair time (site time)",
        "Planned set-up (min)",
        "Infusion started (site time)",
        "Delay (min)",
    ]
    assert rows[1][:3] == ["North Centre", "2026-11-02", "09:00"]
    with world.db.session() as session:
        event = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "report.download")
                .order_by(AuditEvent.id.desc())
            )
            .scalars()
            .first()
        )
        assert event is not None and event.resource_id == "utilisation" and event.patient_id is None
        assert '"centre":"north"' in event.detail and '"format":"csv"' in event.detail
        assert "REP001" not in event.detail and "Nan" not in event.detail


def test_xlsx_download_reads_back_with_openpyxl(world: World, data: dict[str, Any]) -> None:
    response = world.client("scheduler").get(f"/reports/on-time/download?format=xlsx&{PERIOD}")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["On time by indication", "On time by centre", "Courses waiting, by reason"]
    sheet = book["On time by centre"]
    header = [c.value for c in sheet[1]]
    assert header[0] == "Centre" and header[-1] == "On time (%)"
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}
    assert values["North Centre"][-1] == 100.0


def test_a_start_after_the_end_is_shown_beside_the_field(world: World, data: dict[str, Any]) -> None:
    page = world.client("scheduler").get("/reports/utilisation?start=2026-11-10&end=2026-11-01")
    assert page.status_code == 422
    assert 'id="err-start"' in page.text and "is after the end" in page.text
    assert '<svg class="chart"' not in page.text
    bad = world.client("scheduler").get("/reports/on-time?start=11/10/2026")
    assert bad.status_code == 422 and 'id="err-start"' in bad.text
    refused = world.client("scheduler").get("/api/v1/reports/on-time?start=2026-11-10&end=2026-11-01")
    assert refused.status_code == 422 and refused.json()["field"] == "start"
    wrong = world.client("scheduler").get(f"/reports/on-time/download?format=pdf&{PERIOD}")
    assert wrong.status_code == 422


def test_the_default_period_is_the_last_90_days(world: World) -> None:
    page = world.client("nurse").get("/reports/utilisation")
    assert page.status_code == 200
    today = dt.date.today()
    assert f'value="{today.isoformat()}"' in page.text
    assert f'value="{(today - dt.timedelta(days=89)).isoformat()}"' in page.text


def test_the_index_lists_the_reports_each_role_may_open(world: World) -> None:
    def links(user: str) -> set[str]:
        html = world.client(user).get("/reports").text
        return {
            p
            for p in (
                "/reports/utilisation",
                "/reports/on-time",
                "/reports/outcomes",
                "/reports/cost",
                "/reports/reactions",
            )
            if f'href="{p}"' in html
        }

    assert links("scheduler") == {"/reports/utilisation", "/reports/on-time"}
    assert links("prescriber") == {"/reports/outcomes", "/reports/reactions"}
    assert links("pharmacist") >= {
        "/reports/utilisation",
        "/reports/on-time",
        "/reports/outcomes",
        "/reports/cost",
    }
    assert links("admin") == set()
    assert "No report is open to your role" in world.client("admin").get("/reports").text
    assert world.client("patient.ann").get("/reports").status_code == 403
    assert 'href="/reports"' in world.client("scheduler").get("/").text


def test_the_report_pages_read_in_words(world: World, data: dict[str, Any]) -> None:
    from tests.support.visible_text import offending

    pages = {
        "scheduler": (f"/reports/utilisation?{PERIOD}", f"/reports/on-time?{PERIOD}", "/reports"),
        "prescriber": ("/reports/outcomes", "/reports"),
    }
    for user, paths in pages.items():
        for path in paths:
            page = world.client(user).get(path)
            assert page.status_code == 200, path
            assert offending(page.text) == [], path
