"""Patients ask, staff decide: a request to reschedule or cancel an appointment, or for a call back.

A request never changes the schedule by itself. It becomes a task in the schedulers' queue (reschedule,
cancel) or the nurses' queue (call back); whoever answers it does the change in igflow (move the day,
cancel it) and writes a reply, which the patient reads on their page and is told of through the outbox.
A request is a ``work_task`` of kind ``patient_request`` (open -> done), so it shares the task state
machine, site scope and audit of every other task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput
from igflow.i18n import N_
from igflow.infusions.models import WorkTask
from igflow.infusions.service import TASK
from igflow.messages import service as messages_service
from igflow.messages import texts as message_texts
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

Kind = Literal["reschedule", "cancel", "call_back"]
TASK_KIND = "patient_request"
QUEUE_OF_KIND: dict[str, str] = {"reschedule": "scheduler", "cancel": "scheduler", "call_back": "nurse"}
# the patient's page shows these in the patient's language (``_(r.words)``); staff titles use the English
KIND_WORDS = {
    "reschedule": N_("to move an appointment"),
    "cancel": N_("to cancel an appointment"),
    "call_back": N_("for a call back"),
}
MAX_PREFERRED_DATES = 3
MAX_MESSAGE_CHARS = 500
LATEST_PREFERRED_DAYS = 365  # a preferred date further ahead than this is a typing slip
ANSWER_WITHIN = dt.timedelta(days=1)  # operational default: the queue shows it due within a day


@dataclass(frozen=True)
class Request:
    id: int
    kind: str
    words: str
    appointment_id: int | None
    appointment_date: dt.date | None
    preferred_dates: list[dt.date]
    message: str
    asked_at: dt.datetime
    answered: bool
    result: str
    reply: str
    answered_at: dt.datetime | None


def _patient_of(principal: Principal) -> int:
    if not principal.can(Perm.PATIENT_SELF) or principal.patient_id is None:
        raise Forbidden("Only a patient asks through their own page.", "form")
    return principal.patient_id


def _appointment(
    session: Session, patient_id: int, appointment_id: int | None, kind: str
) -> Appointment | None:
    if appointment_id is None:
        if kind != "call_back":
            raise InvalidInput("appointment_id: choose the appointment you mean", "appointment_id")
        return None
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        raise InvalidInput("appointment_id: choose one of your appointments", "appointment_id")
    if appointment.status != "booked" or appointment.date < utcnow().date():
        raise InvalidInput(
            "appointment_id: this appointment is no longer booked; choose an upcoming one", "appointment_id"
        )
    return appointment


def _check_dates(kind: str, dates: list[dt.date], today: dt.date) -> list[dt.date]:
    if kind != "reschedule":
        return []
    if len(dates) > MAX_PREFERRED_DATES:
        raise InvalidInput(f"preferred_dates: give at most {MAX_PREFERRED_DATES} dates", "preferred_dates")
    latest = today + dt.timedelta(days=LATEST_PREFERRED_DAYS)
    for day in dates:
        if not today < day <= latest:
            raise InvalidInput(
                f"preferred_dates: {day.isoformat()} is not between tomorrow and {latest.isoformat()}",
                "preferred_dates",
            )
    return sorted(set(dates))


def ask(
    session: Session,
    principal: Principal,
    kind: Kind,
    appointment_id: int | None,
    preferred_dates: list[dt.date],
    message: str,
) -> WorkTask:
    patient_id = _patient_of(principal)
    if kind not in QUEUE_OF_KIND:
        raise InvalidInput("kind: choose what you are asking for", "kind")
    message = message.strip()
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"message: at most {MAX_MESSAGE_CHARS} characters", "message")
    if "\x00" in message:
        raise InvalidInput("message: contains a character that cannot be stored", "message")
    appointment = _appointment(session, patient_id, appointment_id, kind)
    dates = _check_dates(kind, preferred_dates, utcnow().date())
    for open_task in _open(session, patient_id):
        if (
            open_task.detail.get("request") == kind
            and open_task.detail.get("appointment_id") == appointment_id
        ):
            raise Conflict(
                "kind: you have already asked this and the team has not answered yet; they will reply here",
                "kind",
            )
    when = f" on {appointment.date.strftime('%a %d %b')}" if appointment else ""
    task = WorkTask(
        kind=TASK_KIND,
        queue=QUEUE_OF_KIND[kind],
        patient_id=patient_id,
        title=f"The patient asks {KIND_WORDS[kind]}{when}",
        detail={
            "request": kind,
            "appointment_id": appointment_id,
            "course_id": None,
            "preferred_dates": [d.isoformat() for d in dates],
            "message": message,
            "href": f"/appointments/{appointment_id}/move"
            if kind == "reschedule" and appointment_id
            else None,
        },
        due_from=utcnow(),
        due_by=utcnow() + ANSWER_WITHIN,
        status="open",
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "patient_request.create",
        "work_task",
        task.id,
        patient_id=patient_id,
        detail={"kind": kind},
    )
    session.commit()
    return task


def _open(session: Session, patient_id: int) -> list[WorkTask]:
    return list(
        session.execute(
            select(WorkTask).where(
                WorkTask.kind == TASK_KIND, WorkTask.patient_id == patient_id, WorkTask.status == "open"
            )
        ).scalars()
    )


def _shape(task: WorkTask, dates_of: dict[int, dt.date]) -> Request:
    detail: dict[str, Any] = task.detail or {}
    outcome: dict[str, Any] = task.outcome or {}
    appointment_id = detail.get("appointment_id")
    return Request(
        id=task.id,
        kind=detail.get("request", ""),
        words=KIND_WORDS.get(detail.get("request", ""), N_("a request")),
        appointment_id=appointment_id,
        appointment_date=dates_of.get(appointment_id) if appointment_id else None,
        preferred_dates=[dt.date.fromisoformat(d) for d in detail.get("preferred_dates", [])],
        message=detail.get("message", ""),
        asked_at=task.created_at,
        answered=task.status == "done",
        result=str(outcome.get("result", "")),
        reply=str(outcome.get("reply") or outcome.get("note") or ""),
        answered_at=task.completed_at,
    )


def _dates(session: Session, tasks: list[WorkTask]) -> dict[int, dt.date]:
    ids = {t.detail.get("appointment_id") for t in tasks} - {None}
    if not ids:
        return {}
    rows = session.execute(select(Appointment.id, Appointment.date).where(Appointment.id.in_(ids)))
    return {appointment_id: day for appointment_id, day in rows}


def mine(session: Session, principal: Principal) -> list[Request]:
    """The patient's own requests, newest first, with the team's replies."""
    patient_id = _patient_of(principal)
    tasks = list(
        session.execute(
            select(WorkTask)
            .where(WorkTask.kind == TASK_KIND, WorkTask.patient_id == patient_id)
            .order_by(WorkTask.id.desc())
            .limit(50)
        ).scalars()
    )
    audit.record(
        session, principal.actor, "patient_request.list", "patient", patient_id, patient_id=patient_id
    )
    session.commit()
    dates_of = _dates(session, tasks)
    return [_shape(t, dates_of) for t in tasks]


def waiting(session: Session, principal: Principal, queue: str) -> list[tuple[WorkTask, Request]]:
    """Open requests in a staff queue, oldest first, within the principal's sites."""
    query = (
        select(WorkTask)
        .where(WorkTask.kind == TASK_KIND, WorkTask.queue == queue, WorkTask.status == "open")
        .order_by(WorkTask.id)
    )
    tasks = list(session.execute(scope.rows(query, principal, WorkTask)).scalars())
    audit.record(
        session,
        principal.actor,
        "patient_request.list",
        "work_task",
        detail={"returned_ids": [t.id for t in tasks]},
    )
    session.commit()
    dates_of = _dates(session, tasks)
    return [(t, _shape(t, dates_of)) for t in tasks]


Result = Literal["done", "declined"]
RESULT_WORDS = {"done": N_("done"), "declined": N_("not possible")}


def answer(
    session: Session, principal: Principal, task_id: int, queue: str, result: Result, reply: str
) -> WorkTask:
    """Close a request with the reply the patient reads; the patient is told through the outbox."""
    task = scope.get(session, principal, WorkTask, task_id, "request")
    if task.kind != TASK_KIND or task.queue != queue:
        raise InvalidInput("form: this is not a patient request in your queue", "form")
    reply = reply.strip()
    if not reply:
        raise InvalidInput("reply: write what the patient will read (what was done, or why not)", "reply")
    if len(reply) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"reply: at most {MAX_MESSAGE_CHARS} characters", "reply")
    if result not in RESULT_WORDS:
        raise InvalidInput("result: say whether it was done", "result")
    TASK.move(
        session,
        task,
        "done",
        outcome={"result": result, "reply": reply},
        completed_by_user_id=principal.user_id,
        completed_at=utcnow(),
    )
    subject, body = message_texts.request_answered(message_texts.language_for(session, task.patient_id))
    messages_service.notify_patient(
        session, task.patient_id, "request_answer", subject, body, f"request-answer:{task.id}"
    )
    audit.record(
        session,
        principal.actor,
        "patient_request.answer",
        "work_task",
        task.id,
        patient_id=task.patient_id,
        detail={"result": result},
    )
    session.commit()
    return task
