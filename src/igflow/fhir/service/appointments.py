"""Appointment: sessions at a site, narrowed by the appointment rule (its site) and the patient rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.fhir.mapping.appointment import FROM_FHIR, R4_STATUSES, to_appointment
from igflow.fhir.mapping.location import CHAIR_PREFIX, SITE_PREFIX
from igflow.fhir.search import BadRequest, Params, parse_reference, prefixed_id
from igflow.fhir.service.engine import Item, Source, all_of, date_filter, ids_filter, reference_filter
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Site


def _location(params: Params) -> ColumnElement[bool]:
    """``location=Location/site-3`` (the site) or ``Location/chair-7`` (one chair)."""
    clauses = []
    for group in params.all("location"):
        parts = []
        for raw in group:
            ident = parse_reference("location", raw, "Location")
            site, chair = prefixed_id(ident, SITE_PREFIX), prefixed_id(ident, CHAIR_PREFIX)
            if site is not None:
                parts.append(Appointment.site_id == site)
            if chair is not None:
                parts.append(Appointment.chair_id == chair)
        clauses.append(or_(*parts) if parts else false())
    return all_of(clauses)


def _status(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("status"):
        unknown = [v for v in group if v not in R4_STATUSES]
        if unknown:
            raise BadRequest(f"status: {unknown[0]!r} is not an R4 appointment status", "status")
        ours = [FROM_FHIR[v] for v in group if v in FROM_FHIR]
        clauses.append(Appointment.status.in_(ours) if ours else false())
    return all_of(clauses)


def _build(_session: Session, rows: list[Any]) -> list[Item]:
    return [
        Item(
            to_appointment(appointment, timezone=timezone, order_id=order_id, day_index=day_index),
            appointment.patient_id,
        )
        for appointment, timezone, day_index, order_id in rows
    ]


def appointment_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query: Any = (
        select(Appointment, Site.timezone, CourseSession.day_index, Course.order_id)
        .join(Site, Site.id == Appointment.site_id)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
    )
    query = scope.by_patient(scope.rows(query, principal, Appointment), principal, Appointment.patient_id)
    query = query.where(
        ids_filter(params, Appointment.id),
        reference_filter(params, "patient", "Patient", Appointment.patient_id),
        date_filter(params, "date", Appointment.date),
        _location(params),
        _status(params),
    )
    return [Source(query.order_by(Appointment.date, Appointment.start_min, Appointment.id), _build)]
