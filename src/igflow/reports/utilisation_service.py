"""The chair utilisation report's rows, read through the site scope for the centres the user sees: their
set-up (capacity), the appointments holding chairs, and the chart's check-in and start times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.infusions.models import InfusionRecord
from igflow.orders.models import Order, PlanVersion
from igflow.reports import service, stats, utilisation
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.table import Table
from igflow.security import scope
from igflow.security.principal import Principal


def _minutes(moment: dt.datetime | None, day: dt.date, zone: ZoneInfo) -> int | None:
    """A UTC moment as minutes after the site-local midnight of ``day``."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return round((aware - midnight).total_seconds() / 60)


def _setup_min(plan: dict[str, Any], day_index: int) -> int:
    for day in plan.get("days") or []:
        if int(day.get("day", 0)) == day_index:
            return round(float(day.get("setup_min") or 0))
    return 0


@dataclass
class UtilisationReport:
    filters: service.Filters
    figures: utilisation.Utilisation
    first_cases: list[utilisation.FirstCase]
    waits: dict[int, list[int]]
    infusions: int  # infusion records at these centres in the period
    checked_in: int  # of which with a check-in time

    def tables(self) -> list[Table]:
        names = self.figures.names
        return [
            utilisation.centre_table(self.figures),
            utilisation.weekday_table(self.figures),
            utilisation.hour_table(self.figures),
            utilisation.start_table(names, self.first_cases, self.waits),
            utilisation.first_case_table(names, self.first_cases),
        ]

    def _centres(self) -> list[int]:
        names = self.figures.names
        return sorted({s for s, _w in self.figures.by_weekday}, key=lambda s: names.get(s, ""))

    def weekday_bars(self, site_id: int) -> list[Bar]:
        return [
            Bar(utilisation.WEEKDAY_NAMES[w], round((c.share or 0) * 100, 1))
            for (s, w), c in sorted(self.figures.by_weekday.items())
            if s == site_id
        ]

    def hour_bars(self, site_id: int) -> list[Bar]:
        return [
            Bar(f"{utilisation.hhmm(h * 60)}–{utilisation.hhmm(h * 60 + 60)}", round(c.mean_chairs, 1))
            for (s, h), c in sorted(self.figures.by_hour.items())
            if s == site_id and c.mean_chairs is not None
        ]

    def charts(self) -> dict[str, Any]:
        """One weekday chart and one hour chart per centre (short labels), and the first-case delays."""
        names = self.figures.names
        delays = [Bar(names.get(r["centre_id"], ""), float(r["median"])) for r in self._delay_medians()]
        return {
            "weekday": [
                bar_chart_svg(
                    self.weekday_bars(s),
                    title=f"{names.get(s, '')}: share of staffed chair time in use, by weekday",
                    unit="%",
                    axis_max=100,
                )
                for s in self._centres()
            ],
            "hour": [
                bar_chart_svg(
                    self.hour_bars(s),
                    title=f"{names.get(s, '')}: chairs in use on average, by hour (site time)",
                    unit="chairs",
                )
                for s in self._centres()
            ],
            "delay": bar_chart_svg(
                delays, title="First-case delay, median, by centre", unit="min", label_width=240
            ),
        }

    def _delay_medians(self) -> list[dict[str, Any]]:
        out = []
        names = self.figures.names
        for site_id in sorted({c.site_id for c in self.first_cases}, key=lambda s: names.get(s, "")):
            median = stats.median([c.delay_min for c in self.first_cases if c.site_id == site_id])
            if median is not None:
                out.append({"centre_id": site_id, "median": median})
        return out


def utilisation_report(session: Session, principal: Principal, filters: service.Filters) -> UtilisationReport:
    site_ids = service.site_ids(session, principal, filters)
    sites = [s for s in service.visible_centres(session, principal) if s.id in site_ids]
    setups = [
        utilisation.CentreSetup(
            site_id=s.id,
            name=s.name,
            chairs=sum(1 for c in s.chairs if c.active),
            patients_per_nurse=s.patients_per_nurse,
            hours={
                h.weekday: utilisation.OpeningHours(
                    h.open_time.hour * 60 + h.open_time.minute,
                    h.close_time.hour * 60 + h.close_time.minute,
                    h.nurses,
                )
                for h in s.hours
            },
            closed=frozenset(c.date for c in s.closed_dates),
        )
        for s in sites
    ]
    days = utilisation.centre_days(setups, filters.start, filters.end)
    query = (
        select(Appointment.site_id, Appointment.date, Appointment.start_min, Appointment.duration_min)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Order, Order.id == Course.order_id)
        .where(
            Appointment.site_id.in_(site_ids),
            Appointment.chair_id.is_not(None),
            Appointment.status.in_(service.IN_CHAIR),
            Appointment.date >= filters.start,
            Appointment.date <= filters.end,
        )
    )
    query = scope.rows(service.order_filters(query, filters), principal, Appointment)
    uses = [utilisation.ChairUse(*row) for row in session.execute(query)]
    figures = utilisation.utilisation(days, uses, {s.id: s.name for s in sites})
    zones = {s.id: ZoneInfo(s.timezone) for s in sites}
    times_query = (
        select(
            Appointment.site_id,
            Appointment.date,
            Appointment.start_min,
            InfusionRecord.day_index,
            InfusionRecord.created_at,
            InfusionRecord.started_at,
            PlanVersion.plan,
        )
        .join(InfusionRecord, InfusionRecord.appointment_id == Appointment.id)
        .join(PlanVersion, PlanVersion.id == InfusionRecord.plan_version_id)
        .join(Order, Order.id == InfusionRecord.order_id)
        .where(
            Appointment.site_id.in_(site_ids),
            Appointment.chair_id.is_not(None),
            Appointment.date >= filters.start,
            Appointment.date <= filters.end,
        )
    )
    times_query = scope.rows(service.order_filters(times_query, filters), principal, Appointment)
    times = [
        utilisation.InfusionTimes(
            site_id=site_id,
            day=day,
            booked_start_min=start_min,
            setup_min=_setup_min(plan or {}, day_index),
            checked_in_min=_minutes(checked_in, day, zones[site_id]),
            started_min=_minutes(started, day, zones[site_id]),
        )
        for site_id, day, start_min, day_index, checked_in, started, plan in session.execute(times_query)
    ]
    report = UtilisationReport(
        filters=filters,
        figures=figures,
        first_cases=utilisation.first_cases(times),
        waits=utilisation.waits(times),
        infusions=len(times),
        checked_in=sum(1 for t in times if t.checked_in_min is not None),
    )
    return report
