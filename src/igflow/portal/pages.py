"""Pages of patients' requests: the patient asks on /my/requests; schedulers answer on
/schedule/requests (nurses answer call-back requests in their work queue)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments.service import views as appointment_views
from igflow.clinical.triage import triage_catalog
from igflow.errors import IgflowError, InvalidInput
from igflow.patients import service as patients_service
from igflow.portal import diary
from igflow.portal import requests as patient_requests
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import form_action, form_values
from igflow.web.i18n import N_
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

_LABELS = {  # shown in the patient's language (``labels|translated`` in the template)
    "kind": N_("What you are asking for"),
    "appointment_id": N_("Which appointment"),
    "preferred_dates": N_("Dates that would suit you"),
    "message": N_("Anything the team should know"),
}


def _my_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    patient_id = principal.patient_id
    if patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    context = {
        "requests": patient_requests.mine(session, principal),
        "upcoming": appointment_views.upcoming_for_patient(session, patient_id),
        "values": values,
        "errors": errors,
        "labels": _LABELS,
        "kinds": patient_requests.KIND_WORDS,
        "result_words": patient_requests.RESULT_WORDS,
    }
    return render(request, "portal/requests.html", context, status_code=status_code)


def _dates(values: list[str]) -> list[dt.date]:
    out = []
    for text in values:
        if not text.strip():
            continue
        try:
            out.append(dt.date.fromisoformat(text.strip()))
        except ValueError:
            raise InvalidInput(f"preferred_dates: {text!r} is not a date", "preferred_dates") from None
    return out


@router.get("/my/requests", response_class=HTMLResponse)
def my_requests(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _my_page(request, session, principal, {}, {})


@router.post("/my/requests", response_class=HTMLResponse)
async def my_requests_ask(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form(), lists=("preferred_dates",))

    def act() -> Any:
        appointment = str(values.get("appointment_id") or "")
        return patient_requests.ask(
            session,
            principal,
            values.get("kind", ""),
            int(appointment) if appointment.isdigit() else None,
            _dates(values.get("preferred_dates", [])),
            str(values.get("message", "")),
        )

    return await form_action(
        session,
        act,
        "/my/requests?sent=1",
        lambda failure: _my_page(request, session, principal, values, failure.errors, failure.status_code),
    )


def _queue_page(
    request: Request,
    session: Session,
    principal: Principal,
    errors: dict[int, dict[str, str]],
    status_code: int = 200,
) -> Response:
    rows = patient_requests.waiting(session, principal, "scheduler")
    names = patients_service.display_names(session, {t.patient_id for t, _ in rows})
    context = {
        "rows": rows,
        "names": names,
        "errors": errors,
        "result_words": patient_requests.RESULT_WORDS,
    }
    return render(request, "portal/queue.html", context, status_code=status_code)


@router.get("/schedule/requests", response_class=HTMLResponse)
def scheduler_requests(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _queue_page(request, session, principal, {})


@router.post("/schedule/requests/{task_id}/answer", response_class=HTMLResponse)
async def scheduler_answer(
    request: Request,
    task_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: patient_requests.answer(
            session,
            principal,
            task_id,
            "scheduler",
            values.get("result", ""),
            str(values.get("reply", "")),
        ),
        "/schedule/requests?answered=1",
        lambda failure: _queue_page(
            request, session, principal, {task_id: failure.errors}, failure.status_code
        ),
    )


# --- the symptom diary -----------------------------------------------------------------------------------

ANSWER_WORDS = {  # translated where shown (``_(...)`` in portal/diary.html)
    "no": N_("No"),
    "yes": N_("Yes"),
    "none": N_("None"),
    "mild": N_("Mild"),
    "moderate": N_("Moderate"),
    "severe": N_("Bad"),
}


def _diary_page(
    request: Request,
    session: Session,
    principal: Principal,
    saved: dict[int, Any],
    errors: dict[int, str],
    values: dict[int, dict[str, str]],
    status_code: int = 200,
) -> Response:
    patient_id = principal.patient_id
    if patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    catalog = triage_catalog()
    infusions = diary.open_infusions(session, patient_id)
    shown = {i.appointment_id for i in infusions}
    context = {
        "infusions": infusions,
        "page_errors": [message for aid, message in errors.items() if aid not in shown],
        "catalog": catalog,
        "answer_words": ANSWER_WORDS,
        "saved": saved,
        "errors": errors,
        "values": values,
        "new_client_id": lambda: uuid.uuid4().hex,
    }
    return render(request, "portal/diary.html", context, status_code=status_code)


@router.get("/my/diary", response_class=HTMLResponse)
def my_diary(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _diary_page(request, session, principal, {}, {}, {})


@router.post("/my/diary/{appointment_id}", response_class=HTMLResponse)
async def my_diary_save(
    request: Request,
    appointment_id: int,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    form = form_values(await request.form())
    client_id = str(form.pop("client_id", ""))
    answers = {k: str(v) for k, v in form.items()}
    partial = request.headers.get("hx-request") == "true"
    try:
        report, triage = await run_in_threadpool(
            diary.save, session, principal, appointment_id, client_id, answers
        )
    except IgflowError as exc:
        session.rollback()
        if partial:
            return render(
                request, "portal/_diary_result.html", {"error": exc.message}, status_code=exc.status_code
            )
        return _diary_page(
            request, session, principal, {}, {appointment_id: exc.message}, {appointment_id: answers}, 422
        )
    result = {"level": triage.level, "matched": triage.matched, "report": report}
    if partial:
        return render(request, "portal/_diary_result.html", {"result": result})
    return _diary_page(request, session, principal, {appointment_id: result}, {}, {appointment_id: answers})
