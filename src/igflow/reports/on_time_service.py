"""The on-time therapy report's rows, read through the site scope: maintenance courses with their window
and first infusion, and the courses waiting now with the reason words the data holds (a closure's reason, a
cancellation's reason)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, SiteClosure
from igflow.infusions.models import InfusionRecord
from igflow.orders.models import Order
from igflow.reports import on_time, service
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.table import Table
from igflow.security import scope
from igflow.security.principal import Principal


@dataclass
class WaitingItem:
    row: on_time.WaitingRow
    window: str


@dataclass
class OnTimeReport:
    filters: service.Filters
    today: dt.date
    rows: list[on_time.CourseRow]
    waiting: list[on_time.WaitingRow]
    names: dict[int, str]

    def site_name(self, site_id: int | None) -> str:
        return self.names.get(site_id, "No centre") if site_id is not None else "No centre"

    @property
    def total(self) -> on_time.Group:
        return on_time.overall(self.rows, self.today)

    def by_indication(self) -> list[on_time.Group]:
        return on_time.by(self.rows, self.today, lambda r: r.indication_id)

    def by_centre(self) -> list[on_time.Group]:
        return on_time.by(self.rows, self.today, lambda r: self.site_name(r.site_id))

    def waiting_groups(self) -> list[dict[str, object]]:
        return on_time.waiting_groups(self.waiting, self.today)

    def waiting_items(self) -> list[WaitingItem]:
        order = {"window passed": 0, "in its window": 1, "window not open yet": 2}
        items = [WaitingItem(r, on_time.window_state(r, self.today)) for r in self.waiting]
        return sorted(items, key=lambda i: (order[i.window], i.row.latest, i.row.course_id))

    def tables(self) -> list[Table]:
        from igflow.web.render import indication_name

        return [
            on_time.group_table("On time by indication", "Indication", self.by_indication(), indication_name),
            on_time.group_table("On time by centre", "Centre", self.by_centre(), lambda k: k),
            on_time.waiting_table(self.waiting_groups()),
        ]

    def share_bars(self, groups: list[on_time.Group], words: Any) -> list[Bar]:
        return [
            Bar(words(g.key), round(g.share * 100, 1), text=f"{round(g.share * 100, 1):g} % of {g.judged}")
            for g in groups
            if g.share is not None
        ]

    def charts(self) -> dict[str, Any]:
        from igflow.web.render import indication_name

        return {
            "indication": bar_chart_svg(
                self.share_bars(self.by_indication(), indication_name),
                title="Maintenance courses given on time, by indication",
                unit="%",
                axis_max=100,
                label_width=300,
            ),
            "centre": bar_chart_svg(
                self.share_bars(self.by_centre(), lambda k: k),
                title="Maintenance courses given on time, by centre",
                unit="%",
                axis_max=100,
                label_width=240,
            ),
            "waiting": bar_chart_svg(
                [Bar(str(g["reason"]), float(g["courses"])) for g in self.waiting_groups()],  # type: ignore[arg-type]
                title="Courses waiting now, by reason",
                unit="courses",
                label_width=300,
            ),
        }


def _given(session: Session, course_ids: list[int]) -> dict[int, tuple[dt.date, int]]:
    """Per course: the date and centre of its first infusion (a chart with a start)."""
    out: dict[int, tuple[dt.date, int]] = {}
    for chunk in service.chunks(course_ids):
        for course_id, day, site_id in session.execute(
            select(CourseSession.course_id, Appointment.date, Appointment.site_id)
            .join(Appointment, Appointment.course_session_id == CourseSession.id)
            .join(InfusionRecord, InfusionRecord.appointment_id == Appointment.id)
            .where(CourseSession.course_id.in_(chunk), InfusionRecord.started_at.is_not(None))
            .order_by(Appointment.date)
        ):
            out.setdefault(course_id, (day, site_id))
    return out


def _booked_sites(session: Session, course_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in service.chunks(course_ids):
        for course_id, site_id in session.execute(
            select(CourseSession.course_id, Appointment.site_id)
            .join(Appointment, Appointment.course_session_id == CourseSession.id)
            .where(CourseSession.course_id.in_(chunk), Appointment.status.in_(service.IN_CHAIR))
            .order_by(Appointment.date)
        ):
            out.setdefault(course_id, site_id)
    return out


def _reasons(
    session: Session, courses: list[Course]
) -> dict[int, tuple[str, str, dt.date | None, int | None]]:
    """Per waiting course: (reason kind, the recorded words, since when, at which centre)."""
    ids = [c.id for c in courses]
    closures: dict[int, SiteClosure] = {}
    for closure in session.execute(select(SiteClosure).order_by(SiteClosure.id)).scalars():
        for course_id in closure.released_course_ids or []:
            closures[int(course_id)] = closure
    last: dict[int, Appointment] = {}
    for chunk in service.chunks(ids):
        for course_id, appt in session.execute(
            select(CourseSession.course_id, Appointment)
            .join(Appointment, Appointment.course_session_id == CourseSession.id)
            .where(CourseSession.course_id.in_(chunk), Appointment.status.in_(("cancelled", "no_show")))
            .order_by(Appointment.id)
        ):
            last[course_id] = appt
    out: dict[int, tuple[str, str, dt.date | None, int | None]] = {}
    for course in courses:
        appt = last.get(course.id)
        since = (
            (appt.changed_at or appt.created_at).date()
            if appt is not None and (appt.changed_at or appt.created_at)
            else None
        )
        site = appt.site_id if appt is not None else None
        closure = closures.get(course.id)
        if closure is not None:
            out[course.id] = ("closure", closure.reason, since or closure.created_at.date(), closure.site_id)
        elif appt is not None and appt.status == "no_show":
            out[course.id] = ("no_show", appt.status_reason, since, site)
        elif appt is not None and appt.status_reason.lower().startswith("moved"):
            out[course.id] = ("moved", appt.status_reason, since, site)
        elif appt is not None:
            out[course.id] = ("cancelled", appt.status_reason, since, site)
        else:
            out[course.id] = ("not_booked", "", None, None)
    return out


def on_time_report(
    session: Session, principal: Principal, filters: service.Filters, on: dt.date | None = None
) -> OnTimeReport:
    now = on or service.today()
    allowed = service.site_ids(session, principal, filters)
    names = {s.id: s.name for s in service.visible_centres(session, principal)}
    query = (
        select(Course, Order.indication_id, Order.product_id)
        .join(Order, Order.id == Course.order_id)
        .where(Order.phase == "maintenance", Course.target >= filters.start, Course.target <= filters.end)
        .order_by(Course.id)
    )
    found = list(session.execute(scope.rows(service.order_filters(query, filters), principal, Course)))
    ids = [c.id for c, _i, _p in found]
    given = _given(session, ids)
    booked = _booked_sites(session, ids)
    first = service.first_centres(session, {c.patient_id for c, _i, _p in found})
    rows = []
    for course, indication_id, product_id in found:
        gone = given.get(course.id)
        site_id = gone[1] if gone else booked.get(course.id, first.get(course.patient_id))
        if not service.visible(principal, site_id, allowed):
            continue
        rows.append(
            on_time.CourseRow(
                course_id=course.id,
                patient_id=course.patient_id,
                site_id=site_id,
                indication_id=indication_id,
                product_id=product_id,
                target=course.target,
                earliest=course.earliest,
                latest=course.latest,
                status=course.status,
                given_on=gone[0] if gone else None,
            )
        )
    waiting_query = (
        select(Course, Order.indication_id, Order.setting)
        .join(Order, Order.id == Course.order_id)
        .where(Course.status == "waiting")
        .order_by(Course.id)
    )
    waiting_found = list(
        session.execute(scope.rows(service.order_filters(waiting_query, filters), principal, Course))
    )
    reasons = _reasons(session, [c for c, _i, _s in waiting_found])
    first_w = service.first_centres(session, {c.patient_id for c, _i, _s in waiting_found})
    waiting = []
    for course, indication_id, setting in waiting_found:
        kind, words, since, site_id = reasons[course.id]
        if kind == "not_booked" and setting == "home":
            kind = "home"
        site_id = site_id if site_id is not None else first_w.get(course.patient_id)
        if not service.visible(principal, site_id, allowed):
            continue
        created = course.created_at.date()
        waiting.append(
            on_time.WaitingRow(
                course_id=course.id,
                patient_id=course.patient_id,
                site_id=site_id,
                indication_id=indication_id,
                cycle=course.cycle,
                target=course.target,
                earliest=course.earliest,
                latest=course.latest,
                waiting_since=max(created, since) if since else created,
                reason=kind,
                words=words,
            )
        )
    report = OnTimeReport(filters, now, rows, waiting, names)
    return report
