"""JSON API of the appointments capability."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from igflow.appointments import service
from igflow.appointments.schemas import (
    BookIn,
    CancelOut,
    CourseIn,
    CourseOut,
    MoveIn,
    PlanningIn,
    PlanningRunOut,
    SlotOptionOut,
    StatusIn,
)
from igflow.errors import Forbidden
from igflow.jobs import planning as planning_job
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.jobs.schemas import JobOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["scheduling"])


@router.post("/courses", response_model=CourseOut, status_code=201)
def create_course(
    data: CourseIn,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> CourseOut:
    course = service.create_course(session, principal, data.order_id, data.not_before)
    return service.course_out(session, course)


@router.get("/courses", response_model=list[CourseOut])
def waiting_courses(
    principal: Principal = require(Perm.SCHEDULE_READ), session: Session = Depends(get_session)
) -> list[CourseOut]:
    return service.waiting_courses(session, principal)


@router.get("/courses/{course_id}", response_model=CourseOut)
def read_course(
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> CourseOut:
    return service.read_course(session, principal, course_id)


@router.get("/courses/{course_id}/suggestions", response_model=list[SlotOptionOut])
def suggestions(
    course_id: int,
    top: int = Query(default=5, ge=1, le=20),
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> list[SlotOptionOut]:
    return service.suggest(session, principal, course_id, top)


@router.post("/courses/{course_id}/bookings", response_model=CourseOut, status_code=201)
def book(
    course_id: int,
    data: BookIn,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> CourseOut:
    return service.book(session, principal, course_id, data)


@router.put("/appointments/{appointment_id}/status", response_model=CancelOut)
def change_status(
    appointment_id: int,
    data: StatusIn,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> CancelOut:
    appointment, repair = service.change_status(
        session,
        principal,
        appointment_id,
        data.status,
        data.reason,
        whole_course=data.whole_course,
        patient_unavailable=data.patient_unavailable,
    )
    return CancelOut(appointment=appointment, repair=repair)


@router.get("/appointments/{appointment_id}/move-options", response_model=list[SlotOptionOut])
def move_options(
    appointment_id: int,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> list[SlotOptionOut]:
    """Other places for one booked day, the course's other days staying where they are."""
    return service.suggest_move(session, principal, appointment_id)


@router.post("/appointments/{appointment_id}/move", response_model=CourseOut)
def move_appointment(
    appointment_id: int,
    data: MoveIn,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> CourseOut:
    """Move one booked day to another place in one step (the old place is released, the new one held)."""
    return service.move_session(
        session,
        principal,
        appointment_id,
        BookIn(site=data.site, dates=[data.date], starts=[data.start], chairs=[data.chair]),
        data.reason,
    )


@router.get("/sites/{site_id}/board")
def chair_board(
    site_id: int,
    date: dt.date,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    board = service.chair_board(session, principal, site_id, date)
    return {
        "site_id": board["site"].id,
        "date": board["date"].isoformat(),
        "open_min": board["open_min"],
        "close_min": board["close_min"],
        "chairs": [{"id": c.id, "label": c.label, "active": c.active} for c in board["chairs"]],
        "appointments": board["appointments"],
    }


@router.get("/sites/{site_id}/load")
def week_load(
    site_id: int,
    week: dt.date,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    monday = week - dt.timedelta(days=week.weekday())
    return [
        {**day, "date": day["date"].isoformat()}
        for day in service.week_load(session, principal, site_id, monday)
    ]


def _run_out(session: Session, run: Any) -> PlanningRunOut:
    moves, unscheduled = service.run_moves(session, run)
    return PlanningRunOut(
        id=run.id,
        start_date=run.start_date,
        days=run.days,
        status=run.status,
        figures=run.figures,
        result=run.result,
        moves=moves,
        unscheduled=unscheduled,
    )


@router.post("/planning-runs", response_model=JobOut, status_code=202)
def run_planning(
    data: PlanningIn,
    response: Response,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> JobOut:
    """Queue a planning run; poll the returned job (``GET /jobs/{id}``) for progress and its draft run."""
    service.check_free_appointments(session, principal, data.free_appointment_ids)
    job = jobs_service.submit(session, queue, principal, planning_job.KIND_NAME, planning_job.params_of(data))
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return jobs_service.job_out(job)


@router.get("/planning-runs/{run_id}", response_model=PlanningRunOut)
def read_run(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> PlanningRunOut:
    return _run_out(session, service.get_run(session, principal, run_id))


@router.post("/planning-runs/{run_id}/publish", response_model=PlanningRunOut)
def publish_run(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> PlanningRunOut:
    return _run_out(session, service.publish(session, principal, run_id))


@router.post("/planning-runs/{run_id}/discard", response_model=PlanningRunOut)
def discard_run(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> PlanningRunOut:
    return _run_out(session, service.discard(session, principal, run_id))


# Declared in the OpenAPI document, so that clients (and schemathesis) expect iCalendar, not JSON.
ICALENDAR_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "An iCalendar file", "content": {"text/calendar": {"schema": {"type": "string"}}}}
}


def calendar_response(body: str, filename: str = "igflow-appointments.ics") -> Response:
    """An iCalendar file download (used by the API and the patient's page)."""
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/patients/{patient_id}/appointments.ics", responses=ICALENDAR_RESPONSE, response_class=Response)
def patient_calendar(
    patient_id: int,
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return calendar_response(
        service.ics_for_patient(session, principal, patient_id, request.url.hostname or "igflow")
    )


@router.get("/me/appointments.ics", responses=ICALENDAR_RESPONSE, response_class=Response)
def my_calendar(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise Forbidden("This account is not linked to a patient record.")
    return calendar_response(
        service.ics_for_patient(session, principal, principal.patient_id, request.url.hostname or "igflow")
    )
