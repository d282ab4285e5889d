"""A patient's drug cost per cycle (one course) and per calendar year (audited read, site scope)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Course
from igflow.costs import core
from igflow.costs.schemas import CycleCostOut, PatientCostOut, YearCostOut
from igflow.costs.service._common import course_days, prices
from igflow.costs.service.doses import total_out
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.principal import Principal


def patient_cost(session: Session, principal: Principal, patient_id: int) -> PatientCostOut:
    """Every course of the patient (a cycle), costed day by day as dispensed or as planned, and the sums per
    calendar year of the days' dates. Courses are narrowed by site scope like every patient-owned row."""
    patient = patients_service.check_access(session, principal, patient_id)
    courses = list(
        session.execute(
            scope.rows(
                select(Course).where(Course.patient_id == patient.id).order_by(Course.target, Course.id),
                principal,
                Course,
            )
        ).scalars()
    )
    days = course_days(session, courses, prices(session))
    per_course = core.grouped((d.course_id, d.cost) for d in days)
    first: dict[int, date] = {}
    for d in days:
        first.setdefault(d.course_id, d.on)
    cycles = [
        CycleCostOut(
            course_id=c.id,
            order_id=c.order_id,
            cycle=c.cycle,
            first_day=first.get(c.id, c.target),
            status=c.status,
            total=total_out(per_course.get(c.id, core.Total())),
        )
        for c in courses
    ]
    years = [YearCostOut(year=y, total=total_out(t)) for y, t in core.per_year(d.cost for d in days).items()]
    audit.record(
        session,
        principal.actor,
        "cost.patient.read",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"returned_ids": [c.id for c in courses]},
    )
    session.commit()
    return PatientCostOut(patient_id=patient.id, cycles=cycles, years=years)
