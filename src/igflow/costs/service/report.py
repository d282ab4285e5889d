"""The cost report: monthly drug cost per site and payer, and each patient's cost per cycle and per year,
over the appointments the principal may see (their sites, their patients).

A booked or completed day counts in the month of its appointment, at the appointment's site, for the payer
of the patient's primary coverage in force on that day (``patients.service.coverage_periods`` and the
pure ``payer_on``); a day with vials dispensed counts as dispensed (with its waste), a booked day without
as planned. Days without a price in force are counted apart, never as zero.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.costs import core
from igflow.costs.schemas import ReportOut, ReportPatientOut, ReportRowOut
from igflow.costs.service._common import DayCost, course_days, prices, today
from igflow.directory import service as directory_service
from igflow.errors import InvalidInput
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites import service as sites_service

MAX_MONTHS = 36
NO_PAYER = "No coverage on record"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(text: str, name: str) -> date:
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidInput(f"{name}: '{text}' is not a month such as 2026-03", name)
    return date(int(match.group(1)), int(match.group(2)), 1)


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_of(start: str | None, end: str | None, on: date | None = None) -> tuple[date, date]:
    """(first day of the first month, last day of the last month). Default: the eleven months before this
    one, this one and the two after (booked days to come)."""
    this = (on or today()).replace(day=1)
    first = _month(start, "start") if start else _shift(this, -11)
    last = _month(end, "end") if end else _shift(this, 2)
    if last < first:
        raise InvalidInput("end: the last month is before the first", "end")
    if (last.year - first.year) * 12 + last.month - first.month + 1 > MAX_MONTHS:
        raise InvalidInput(f"end: a report covers at most {MAX_MONTHS} months", "end")
    return first, _shift(last, 1) - timedelta(days=1)


@dataclass
class _Cell:
    dispensed: core.Total = field(default_factory=core.Total)
    planned: core.Total = field(default_factory=core.Total)


def _days_in(session: Session, principal: Principal, first: date, last: date) -> list[DayCost]:
    """The days with an appointment in the period at the principal's sites, of patients they may see."""
    query = (
        select(Course)
        .join(CourseSession, CourseSession.course_id == Course.id)
        .join(Appointment, Appointment.course_session_id == CourseSession.id)
        .where(Appointment.date >= first, Appointment.date <= last)
        .distinct()
    )
    query = scope.by_patient(scope.rows(query, principal, Appointment), principal, Course.patient_id)
    courses = list(session.execute(query).scalars())
    return [
        d
        for d in course_days(session, courses, prices(session))
        if d.appointment_id is not None and first <= d.on <= last and scope.sees_site(principal, d.site_id)
    ]


def report(
    session: Session, principal: Principal, start: str | None = None, end: str | None = None
) -> ReportOut:
    started = time.perf_counter()
    first, last = months_of(start, end)
    days = _days_in(session, principal, first, last)
    coverages = {
        pid: [core.CoveragePeriod(*c) for c in rows]
        for pid, rows in patients_service.coverage_periods(session, {d.patient_id for d in days}).items()
    }
    cells: dict[tuple[str, int, int | None], _Cell] = defaultdict(_Cell)
    per_patient: dict[int, list[DayCost]] = defaultdict(list)
    for d in days:
        payer = core.payer_on(coverages.get(d.patient_id, []), d.on)
        assert d.site_id is not None
        cell = cells[(core.month_of(d.on), d.site_id, payer)]
        (cell.dispensed if d.dispensed else cell.planned).add(d.cost)
        per_patient[d.patient_id].append(d)
    sites = {s.id: s.name for s in sites_service.list_sites(session)}
    payers = {p.id: p.name for p in directory_service.list_payers(session)}
    rows = [
        ReportRowOut(
            month=month,
            site_id=site_id,
            site_name=sites.get(site_id, ""),
            payer_id=payer_id,
            payer_name=payers.get(payer_id, "") if payer_id is not None else NO_PAYER,
            doses=cell.dispensed.counted + cell.planned.counted,
            dispensed_cents=cell.dispensed.cents,
            waste_cents=cell.dispensed.waste_cents,
            planned_cents=cell.planned.cents,
            unknown=len(cell.dispensed.unknown) + len(cell.planned.unknown),
        )
        for (month, site_id, payer_id), cell in sorted(
            cells.items(), key=lambda kv: (kv[0][0], sites.get(kv[0][1], ""), payers.get(kv[0][2] or 0, ""))
        )
    ]
    patients = [_patient_row(pid, mine) for pid, mine in sorted(per_patient.items())]
    audit.record(
        session,
        principal.actor,
        "cost.report.read",
        "cost_report",
        detail={"start": first.isoformat(), "end": last.isoformat(), "returned_ids": sorted(per_patient)},
    )
    session.commit()
    return ReportOut(
        start=core.month_of(first),
        end=core.month_of(last),
        rows=rows,
        patients=patients,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _patient_row(patient_id: int, days: list[DayCost]) -> ReportPatientOut:
    t = core.total(d.cost for d in days)
    cycles = len({d.course_id for d in days})
    return ReportPatientOut(
        patient_id=patient_id,
        cycles=cycles,
        total_cents=t.cents,
        per_cycle_cents=(t.cents * 2 + cycles) // (2 * cycles) if cycles and t.complete else None,
        years={y: yt.cents for y, yt in core.per_year(d.cost for d in days).items()},
        unknown=len(t.unknown),
    )
