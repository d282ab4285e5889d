"""An order's cycles and its response by the pure core (``evaluate_course``); reads only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import Catalog
from igflow.catalog.models import IndicationOutcomes
from igflow.clinical.response import (
    Reading,
    ResponseInputError,
    ResponseSummary,
    evaluate_course,
    validate_value,
)
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.orders.models import Order
from igflow.outcomes.models import ContinuationDecision, OutcomeReading, ResponseReview
from igflow.outcomes.service._common import (
    current_catalog,
    effective,
    indication_entry,
    load_order,
    rows_of,
    score_of,
    today_utc,
)
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.security import audit
from igflow.security.principal import Principal


@dataclass(frozen=True)
class Cycle:
    number: int
    started_on: date
    completed_on: date


@dataclass
class OrderResponse:
    """What the order's Response panel and the API show."""

    order: Order
    summary: ResponseSummary
    cycles: list[Cycle]
    entry: IndicationOutcomes
    baseline: dict[str, OutcomeReading] = field(default_factory=dict)
    latest: dict[str, OutcomeReading] = field(default_factory=dict)
    reviews: list[ResponseReview] = field(default_factory=list)
    decisions: list[ContinuationDecision] = field(default_factory=list)
    open_task_ids: set[int] = field(default_factory=set)

    @property
    def unanswered(self) -> list[ResponseReview]:
        """Reviews raised after the last decision (or with none): they flag the order."""
        last = self.decisions[-1].decided_at if self.decisions else None
        return [r for r in self.reviews if last is None or r.raised_at > last]

    @property
    def flagged(self) -> bool:
        return any(r.flags_order for r in self.unanswered)


def _signed(signing: int | None) -> Any:
    """Signed records, and the one being signed in this transaction (its status changes after the hook)."""
    if signing is None:
        return InfusionRecord.status == "signed"
    return or_(InfusionRecord.status == "signed", InfusionRecord.id == signing)


def completed_cycles(session: Session, order_id: int, signing: int | None = None) -> list[Cycle]:
    """The order's courses whose every day has a signed infusion record, in the order they completed."""
    sessions: dict[int, set[int]] = {}
    for course_id, session_id in session.execute(
        select(Course.id, CourseSession.id)
        .join(CourseSession, CourseSession.course_id == Course.id)
        .where(Course.order_id == order_id)
    ):
        sessions.setdefault(course_id, set()).add(session_id)
    signed: dict[int, dict[int, date]] = {}
    for course_id, session_id, day in session.execute(
        select(Course.id, CourseSession.id, Appointment.date)
        .join(CourseSession, CourseSession.course_id == Course.id)
        .join(Appointment, Appointment.course_session_id == CourseSession.id)
        .join(InfusionRecord, InfusionRecord.appointment_id == Appointment.id)
        .where(Course.order_id == order_id, _signed(signing))
    ):
        signed.setdefault(course_id, {})[session_id] = day
    spans = sorted(
        (max(days.values()), min(days.values()))
        for course_id, days in signed.items()
        if set(days) == sessions.get(course_id)
    )
    return [Cycle(k, start, end) for k, (end, start) in enumerate(spans, start=1)]


def first_infusion_date(session: Session, order_id: int, signing: int | None = None) -> date | None:
    return session.execute(
        select(Appointment.date)
        .join(InfusionRecord, InfusionRecord.appointment_id == Appointment.id)
        .where(InfusionRecord.order_id == order_id, _signed(signing))
        .order_by(Appointment.date)
        .limit(1)
    ).scalar_one_or_none()


def cycle_of(day: date, cycles: list[Cycle], first_infusion: date | None) -> int | None:
    """The cycle a reading of ``day`` is after (0: baseline); None while the first cycle was under way."""
    done = sum(1 for c in cycles if c.completed_on < day)
    if done == 0 and first_infusion is not None and day > first_infusion:
        return None
    return done


def _is_adult(patient: Patient, today: date, catalog: Catalog) -> bool | None:
    adult_age = catalog.administration.screening.adult_age_years.value
    if adult_age is None:
        return None
    return patients_service.age_years(patient.date_of_birth, today) >= adult_age


def evaluate(session: Session, order: Order, today: date, signing: int | None = None) -> OrderResponse:
    """The order's response by the pure core, from its cycles and the patient's readings."""
    catalog = current_catalog()
    entry = indication_entry(order.indication_id, catalog)
    cycles = completed_cycles(session, order.id, signing)
    first = first_infusion_date(session, order.id, signing)
    chosen: dict[tuple[str, int], OutcomeReading] = {}
    for reading in effective(rows_of(session, order.patient_id, entry.measure_ids)):
        if reading.order_id not in (None, order.id):
            continue
        cycle = cycle_of(reading.measured_on, cycles, first)
        if cycle is None:
            continue
        try:
            validate_value(catalog.outcomes.measure(reading.measure_id), score_of(reading))
        except ResponseInputError:
            continue  # outside a scale the catalog has since narrowed: not judged
        chosen[(reading.measure_id, cycle)] = reading  # rows come in date order: the latest stays
    readings: dict[str, list[Reading]] = {}
    for (measure_id, cycle), reading in chosen.items():
        readings.setdefault(measure_id, []).append(Reading(cycle, score_of(reading)))
    patient = session.get(Patient, order.patient_id)
    assert patient is not None
    summary = evaluate_course(
        catalog.outcomes,
        order.indication_id,
        readings,
        len(cycles),
        patient_is_adult=_is_adult(patient, today, catalog),
    )
    view = OrderResponse(order=order, summary=summary, cycles=cycles, entry=entry)
    for (measure_id, cycle), reading in sorted(chosen.items(), key=lambda kv: kv[0][1]):
        if cycle == 0:
            view.baseline[measure_id] = reading
        else:
            view.latest[measure_id] = reading
    view.reviews = list(
        session.execute(
            select(ResponseReview).where(ResponseReview.order_id == order.id).order_by(ResponseReview.id)
        ).scalars()
    )
    view.decisions = _decisions(session, order.id)
    task_ids = [r.task_id for r in view.reviews]
    if task_ids:
        view.open_task_ids = set(
            session.execute(
                select(WorkTask.id).where(WorkTask.id.in_(task_ids), WorkTask.status == "open")
            ).scalars()
        )
    return view


def _decisions(session: Session, order_id: int) -> list[ContinuationDecision]:
    return list(
        session.execute(
            select(ContinuationDecision)
            .where(ContinuationDecision.order_id == order_id)
            .order_by(ContinuationDecision.id)
        ).scalars()
    )


def response(session: Session, principal: Principal, order_id: int) -> OrderResponse:
    """The order's response (audited read; writes nothing else)."""
    order = load_order(session, principal, order_id)
    view = evaluate(session, order, today_utc())
    audit.record(
        session,
        principal.actor,
        "outcome.response.read",
        "order",
        order.id,
        patient_id=order.patient_id,
        detail={"outcome": view.summary.outcome.value, "cycles_completed": len(view.cycles)},
    )
    session.commit()
    return view
