"""Pages of the appointments capability: scheduling, courses and bookings, chair board, load, planning."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments import service as appointments_service
from igflow.appointments.routes import calendar_response
from igflow.appointments.schemas import BookIn, ClosureIn, PlanningIn, StatusIn, UnavailableIn, WindowIn
from igflow.appointments.service import closures as closures_service
from igflow.appointments.service import preferences as preferences_service
from igflow.appointments.service import window as window_service
from igflow.costs import panels as cost_panels
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.infusions import service as infusions_service
from igflow.jobs import planning as planning_job
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.patients import service as patients_service
from igflow.security.deps import (
    get_session,
    require,
)
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.charts import chair_board_svg, indication_colours, load_svg
from igflow.web.forms import FormFailure, form_action
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


# --- scheduling ---------------------------------------------------------------------------------------


@router.get("/schedule", response_class=HTMLResponse)
def schedule_home(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    ready = appointments_service.ready_to_schedule(session, principal)
    waiting = appointments_service.waiting_courses(session, principal)
    names = patients_service.display_names(
        session, [r["patient_id"] for r in ready] + [c.patient_id for c in waiting]
    )
    context = {
        "ready": ready,
        "waiting": waiting,
        "names": names,
        "sites": sites_service.centres(session, only=principal.site_ids),
        "error": None,
    }
    return render(request, "schedule/index.html", context)


@router.post("/schedule/courses")
async def schedule_create_course(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    order_id = str(form.get("order_id", ""))
    if not order_id.isdigit():
        raise InvalidInput("order_id: choose an order", "order_id")
    course = await run_in_threadpool(appointments_service.create_course, session, principal, int(order_id))
    return RedirectResponse(f"/courses/{course.id}", status_code=303)


def _authorisation_view(session: Session, course: Any, options: list[Any]) -> dict[str, Any] | None:
    """What the scheduler sees of the prior authorisation: the one covering the course (or that none
    does), and for each option what booking it would exceed. None when the patient has no coverage."""
    from igflow.appointments.models import Course
    from igflow.appointments.service._common import _sessions
    from igflow.authorizations import service as authorizations_service

    row = session.get(Course, course.id)
    if row is None:
        return None
    sessions = _sessions(session, row.id)
    used = appointments_service.authorisation_uses(session, row.order_id, exclude_course_id=row.id)
    per_option = []
    for option in options:
        check = appointments_service.authorisation_check(
            session, row, list(zip(sessions, option.dates, strict=False)), used
        )
        if check is None:
            return None
        per_option.append(check)
    if per_option:
        return {
            "summary": per_option[0].summary,
            "options": [c.messages for c in per_option],
            "hard_stop": per_option[0].hard_stop,
        }
    if not authorizations_service.needs_authorisation(session, row.patient_id):
        return None
    day = course.appointments[0].date if course.appointments else course.earliest
    covering = authorizations_service.covering_on(session, row.order_id, day)
    return {"summary": covering.summary if covering else "", "options": [], "hard_stop": False}


def _course_page(
    request: Request,
    session: Session,
    principal: Principal,
    course_id: int,
    error: str | None,
    status_code: int = 200,
    window_values: dict[str, Any] | None = None,
) -> Response:
    course = appointments_service.read_course(session, principal, course_id)
    options = []
    no_place = None
    bounds = None
    if course.status == "waiting":
        row = appointments_service.course_row(session, principal, course_id)
        bounds = window_service.clinical_bounds(session, row)
        refusal = None
        try:
            options = appointments_service.suggest(session, principal, course_id)
        except InvalidInput as exc:
            refusal = exc.message
        if not options:
            no_place = window_service.no_place_reason(session, row)
            if no_place is None and refusal:
                error = error or refusal
    return render(
        request,
        "schedule/course.html",
        {
            "course": course,
            "options": options,
            "no_place": no_place,
            "bounds": bounds,
            "window_values": window_values or {},
            "authorisation": _authorisation_view(session, course, options),
            "patient_name": patients_service.display_name(session, course.patient_id),
            "error": error,
            "cost": cost_panels.course_panel(session, principal, course_id)
            if principal.can(Perm.COST_READ)
            else None,
        },
        status_code=status_code,
    )


@router.get("/courses/{course_id}", response_class=HTMLResponse)
def course_page(
    request: Request,
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _course_page(request, session, principal, course_id, None)


@router.post("/courses/{course_id}/book", response_class=HTMLResponse)
async def course_book(
    request: Request,
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    fields = {
        "site": form.get("site", ""),
        "dates": form.getlist("dates"),
        "starts": form.getlist("starts"),
        "chairs": form.getlist("chairs"),
        "acknowledge_authorisation": form.get("acknowledge_authorisation") == "yes",
    }
    return await form_action(
        session,
        lambda: appointments_service.book(session, principal, course_id, BookIn.model_validate(fields)),
        f"/courses/{course_id}",
        lambda failure: _course_page(
            request, session, principal, course_id, failure.message, failure.status_code
        ),
    )


@router.post("/courses/{course_id}/window", response_class=HTMLResponse)
async def course_window(
    request: Request,
    course_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("earliest", "latest", "reason")}

    def change() -> Any:
        data = WindowIn.model_validate(values)
        return window_service.set_window(
            session, principal, course_id, data.earliest, data.latest, data.reason
        )

    return await form_action(
        session,
        change,
        f"/courses/{course_id}",
        lambda failure: _course_page(
            request, session, principal, course_id, failure.message, failure.status_code, values
        ),
    )


@router.get("/patients/{patient_id}/scheduling", response_class=HTMLResponse)
def patient_scheduling(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _scheduling_page(request, session, principal, patient_id, None)


def _scheduling_page(
    request: Request,
    session: Session,
    principal: Principal,
    patient_id: int,
    failure: FormFailure | None,
    values: dict[str, Any] | None = None,
) -> Response:
    wishes = preferences_service.read(session, principal, patient_id)
    return render(
        request,
        "schedule/patient_scheduling.html",
        {
            "wishes": wishes,
            "patient_name": patients_service.display_name(session, patient_id),
            "weekday_names": preferences_service.WEEKDAY_NAMES,
            "errors": failure.errors if failure else {},
            "values": values or {},
        },
        status_code=failure.status_code if failure else 200,
    )


@router.post("/patients/{patient_id}/scheduling", response_class=HTMLResponse)
async def patient_scheduling_save(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values: dict[str, Any] = {
        "weekdays": [int(d) for d in form.getlist("weekdays") if str(d).isdigit()],
        "preferred_from": str(form.get("preferred_from", "")),
        "preferred_to": str(form.get("preferred_to", "")),
        "same_time_every_cycle": form.get("same_time_every_cycle") == "yes",
        "note": str(form.get("note", "")),
    }
    return await form_action(
        session,
        lambda: preferences_service.save(
            session, principal, patient_id, preferences_service.PreferenceIn.model_validate(values)
        ),
        f"/patients/{patient_id}/scheduling",
        lambda failure: _scheduling_page(request, session, principal, patient_id, failure, values),
    )


@router.post("/patients/{patient_id}/unavailable-dates", response_class=HTMLResponse)
async def patient_unavailable_add(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = {"date": str(form.get("date", "")), "reason": str(form.get("reason", ""))}

    def add() -> Any:
        data = UnavailableIn.model_validate(values)
        return preferences_service.add_unavailable(session, principal, patient_id, data.date, data.reason)

    return await form_action(
        session,
        add,
        f"/patients/{patient_id}/scheduling",
        lambda failure: _scheduling_page(request, session, principal, patient_id, failure, values),
    )


@router.post("/patients/{patient_id}/unavailable-dates/{unavailable_id}/remove", response_class=HTMLResponse)
async def patient_unavailable_remove(
    request: Request,
    patient_id: int,
    unavailable_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await form_action(
        session,
        lambda: preferences_service.remove_unavailable(session, principal, patient_id, unavailable_id),
        f"/patients/{patient_id}/scheduling",
        lambda failure: _scheduling_page(request, session, principal, patient_id, failure),
    )


def _move_page(
    request: Request,
    session: Session,
    principal: Principal,
    appointment_id: int,
    failure: FormFailure | None = None,
    reason: str = "",
) -> Response:
    course_id = appointments_service.appointment_course(session, principal, appointment_id)
    course = appointments_service.read_course(session, principal, course_id)
    appt = next(a for a in course.appointments if a.id == appointment_id)
    options: list[Any] = []
    refusal = None
    try:
        options = appointments_service.suggest_move(session, principal, appointment_id)
    except (InvalidInput, Conflict) as exc:
        refusal = exc.message
    return render(
        request,
        "schedule/move.html",
        {
            "course": course,
            "appointment": appt,
            "options": options,
            "refusal": refusal,
            "error": failure.message if failure else None,
            "reason": reason,
            "patient_name": patients_service.display_name(session, course.patient_id),
        },
        status_code=failure.status_code if failure else 200,
    )


@router.get("/appointments/{appointment_id}/move", response_class=HTMLResponse)
def appointment_move_page(
    request: Request,
    appointment_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _move_page(request, session, principal, appointment_id)


@router.post("/appointments/{appointment_id}/move", response_class=HTMLResponse)
async def appointment_move(
    request: Request,
    appointment_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    fields = {
        "site": form.get("site", ""),
        "dates": form.getlist("dates"),
        "starts": form.getlist("starts"),
        "chairs": form.getlist("chairs"),
    }
    reason = str(form.get("reason", ""))

    def move() -> Any:
        return appointments_service.move_session(
            session, principal, appointment_id, BookIn.model_validate(fields), reason
        )

    return await form_action(
        session,
        move,
        lambda course: f"/courses/{course.id}",
        lambda failure: _move_page(request, session, principal, appointment_id, failure, reason),
    )


@router.post("/appointments/{appointment_id}/status", response_class=HTMLResponse)
async def appointment_status(
    request: Request,
    appointment_id: int,
    principal: Principal = require(Perm.SCHEDULE_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """Cancel one day, or the whole course, or mark a no-show: first a confirmation page that says which
    days are released and which stay booked, then (``confirm=yes``) the change and the repair list."""
    form = await request.form()
    fields = {
        "status": form.get("status", ""),
        "reason": form.get("reason", ""),
        "whole_course": form.get("scope") == "course",
        "patient_unavailable": form.get("patient_unavailable") == "yes",
    }
    appt = await run_in_threadpool(
        appointments_service.appointment_course, session, principal, appointment_id
    )

    def refused(failure: FormFailure) -> Response:
        return _course_page(request, session, principal, appt, failure.message, failure.status_code)

    if form.get("confirm") != "yes":

        def preview() -> dict[str, Any]:
            data = StatusIn.model_validate(fields)
            return appointments_service.preview_status_change(
                session,
                principal,
                appointment_id,
                data.status,
                whole_course=data.whole_course,
                patient_unavailable=data.patient_unavailable,
            )

        return await form_action(
            session,
            preview,
            lambda plan: render(
                request,
                "schedule/confirm_status.html",
                {
                    "plan": plan,
                    "fields": fields,
                    "patient_name": patients_service.display_name(session, plan["appointment"].patient_id),
                },
            ),
            refused,
        )

    def apply() -> Any:
        data = StatusIn.model_validate(fields)
        return appointments_service.change_status(
            session,
            principal,
            appointment_id,
            data.status,
            data.reason,
            whole_course=data.whole_course,
            patient_unavailable=data.patient_unavailable,
        )

    return await form_action(
        session,
        apply,
        lambda result: render(
            request,
            "schedule/repair.html",
            {
                "appointment": result[0],
                "repair": result[1],
                "course": appointments_service.read_course(session, principal, appt),
            },
        ),
        refused,
    )


def _site_for(session: Session, principal: Principal, site_id: int | None) -> Any:
    centres = sites_service.centres(session, only=principal.site_ids)
    if not centres:
        raise InvalidInput("no infusion centre is open to you")
    site = next((s for s in centres if s.id == site_id), centres[0])
    return site, centres


@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request,
    site: int | None = None,
    date: str = "",
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    chosen, centres = _site_for(session, principal, site)
    today = appointments_service.site_today(chosen.timezone)
    try:
        day = dt.date.fromisoformat(date) if date else today
    except ValueError:
        raise InvalidInput("date: use the form YYYY-MM-DD", "date") from None
    board = appointments_service.chair_board(session, principal, chosen.id, day)
    states = infusions_service.states_for_appointments(session, [a["id"] for a in board["appointments"]])
    for item in board["appointments"]:
        item["live"] = states.get(item["id"], {}).get("state", "")
    now_min = None
    if day == today:
        local = utcnow().astimezone(ZoneInfo(chosen.timezone))
        now_min = local.hour * 60 + local.minute
    colours = indication_colours(a["indication"] for a in board["appointments"])
    legend = sorted({(a["indication_name"], colours[a["indication"]]) for a in board["appointments"]})
    return render(
        request,
        "schedule/board.html",
        {
            "board": board,
            "svg": chair_board_svg(board, now_min),
            "sites": centres,
            "legend": legend,
            "chair_labels": {c.id: c.label for c in board["chairs"]},
            "prev_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
        },
    )


@router.get("/load", response_class=HTMLResponse)
def load_page(
    request: Request,
    site: int | None = None,
    week: str = "",
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    chosen, centres = _site_for(session, principal, site)
    try:
        day = dt.date.fromisoformat(week) if week else appointments_service.site_today(chosen.timezone)
    except ValueError:
        raise InvalidInput("week: use the form YYYY-MM-DD", "week") from None
    monday = day - dt.timedelta(days=day.weekday())
    days = appointments_service.week_load(session, principal, chosen.id, monday)
    return render(
        request,
        "schedule/load.html",
        {
            "site": chosen,
            "sites": centres,
            "monday": monday,
            "week": days,
            "svgs": [load_svg(d) if d["open"] else "" for d in days],
            "slot_minutes": appointments_service.policy().slot_minutes,
        },
    )


def _planning_context(session: Session, principal: Principal, error: str | None) -> dict[str, Any]:
    runs = appointments_service.list_runs(session, principal, limit=20)
    jobs = [
        j
        for j in jobs_service.list_jobs(session, principal, planning_job.KIND_NAME, limit=10)
        if j.state in ("queued", "running") or (j.state in ("failed", "cancelled") and j.result_id is None)
    ][:5]
    return {
        "runs": runs,
        "jobs": jobs,
        "state_labels": jobs_service.STATE_LABELS,
        "today": utcnow().date(),
        "error": error,
    }


@router.get("/planning", response_class=HTMLResponse)
def planning_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "schedule/planning.html", _planning_context(session, principal, None))


@router.post("/planning", response_class=HTMLResponse)
async def planning_run(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    """Queue the run and show its progress page (the solve happens in a worker, not in this request)."""
    form = await request.form()
    fields = {
        "start_date": form.get("start_date", ""),
        "days": form.get("days", ""),
        "time_limit_s": form.get("time_limit_s") or None,
    }

    def submit() -> str:
        params = planning_job.params_of(PlanningIn.model_validate(fields))
        job = jobs_service.submit(session, queue, principal, planning_job.KIND_NAME, params)
        done = job.state == "succeeded" and job.result_id is not None
        return f"/planning/{job.result_id}" if done else f"/jobs/{job.id}"

    return await form_action(
        session,
        submit,
        lambda target: target,
        lambda failure: render(
            request, "schedule/planning.html", _planning_context(session, principal, failure.message), 422
        ),
    )


def _closures_page(
    request: Request,
    session: Session,
    principal: Principal,
    failure: FormFailure | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "schedule/closures.html",
        {
            "closures": closures_service.list_closures(session, principal),
            "centres": sites_service.centres(session, only=principal.site_ids),
            "site_names": {c.id: c.name for c in sites_service.centres(session)},
            "errors": failure.errors if failure else {},
            "values": values or {},
        },
        status_code=failure.status_code if failure else 200,
    )


@router.get("/schedule/closures", response_class=HTMLResponse)
def closures_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return _closures_page(request, session, principal)


@router.post("/schedule/closures", response_class=HTMLResponse)
async def closures_submit(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    """Close a centre for a date range: first what it affects, then (``confirm=yes``) the closure and its
    re-plan, queued as a planning run."""
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("site_id", "start_date", "end_date", "reason")}

    def parsed() -> ClosureIn:
        return ClosureIn.model_validate(values)

    def refused(failure: FormFailure) -> Response:
        return _closures_page(request, session, principal, failure, values)

    if form.get("confirm") != "yes":

        def look() -> dict[str, Any]:
            data = parsed()
            return closures_service.preview(session, principal, data.site_id, data.start_date, data.end_date)

        return await form_action(
            session,
            look,
            lambda plan: render(request, "schedule/closure_confirm.html", {"plan": plan, "values": values}),
            refused,
        )

    def close() -> str:
        data = parsed()
        closure = closures_service.close(
            session, principal, data.site_id, data.start_date, data.end_date, data.reason
        )
        job = jobs_service.submit(
            session, queue, principal, planning_job.KIND_NAME, closures_service.replan_params(closure)
        )
        closures_service.record_job(session, closure.id, job.id)
        return f"/schedule/closures/{closure.id}"

    return await form_action(session, close, lambda target: target, refused)


@router.post("/schedule/closures/{closure_id}/notify")
def closure_notify(
    closure_id: int,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    closures_service.tell_new_places(session, principal, closure_id)
    return RedirectResponse("/mailbox", status_code=303)


@router.get("/schedule/closures/{closure_id}", response_class=HTMLResponse)
def closure_page(
    request: Request,
    closure_id: int,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    view = closures_service.view(session, principal, closure_id)
    job = jobs_service.get_job(session, principal, view["closure"].job_id) if view["closure"].job_id else None
    run = (
        appointments_service.get_run(session, principal, job.result_id)
        if job is not None and job.result_id is not None
        else None
    )
    return render(request, "schedule/closure.html", {**view, "job": job, "run": run})


@router.get("/planning/{run_id}", response_class=HTMLResponse)
def planning_run_page(
    request: Request,
    run_id: int,
    principal: Principal = require(Perm.SCHEDULE_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    run = appointments_service.get_run(session, principal, run_id)
    moves, unscheduled = appointments_service.run_moves(session, run)
    outside = appointments_service.waiting_outside(session, principal, run) if run.status == "draft" else []
    names = patients_service.display_names(session, [m["patient_id"] for m in moves + unscheduled + outside])
    context = {
        "run": run,
        "moves": moves,
        "unscheduled": unscheduled,
        "outside": outside,
        "courses_placed": len({m["course_id"] for m in moves}),
        "courses_left": len({u["course_id"] for u in unscheduled}),
        "site_names": {c.code: c.name for c in sites_service.centres(session)},
        "names": names,
        "error": None,
    }
    return render(request, "schedule/run.html", context)


@router.post("/planning/{run_id}/publish")
def planning_publish(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> Response:
    appointments_service.publish(session, principal, run_id)
    return RedirectResponse(f"/planning/{run_id}", status_code=303)


@router.post("/planning/{run_id}/discard")
def planning_discard(
    run_id: int, principal: Principal = require(Perm.SCHEDULE_PLAN), session: Session = Depends(get_session)
) -> Response:
    appointments_service.discard(session, principal, run_id)
    return RedirectResponse("/planning", status_code=303)


@router.get("/my/appointments.ics")
def my_calendar(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    body = appointments_service.ics_for_patient(
        session, principal, principal.patient_id, request.url.hostname or "igflow"
    )
    return calendar_response(body, "my-infusions.ics")
