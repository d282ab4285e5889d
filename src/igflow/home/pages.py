"""Pages of home visits: the home-infusion service's overview, the day's routes on a map, a nurse's own day
on her phone, routing runs beside the by-hand dispatch, and the nurses' hours, skills and days off."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import InvalidInput
from igflow.home import map as route_map
from igflow.home.models import NURSE_SKILLS
from igflow.home.schemas import AbsenceIn, NurseIn, RoutingIn, ShiftIn
from igflow.home.service import nurses as nurses_service
from igflow.home.service import routes_view
from igflow.home.service import runs as runs_service
from igflow.home.service import visits as visits_service
from igflow.infusions import service as infusions_service
from igflow.jobs import routing as routing_job
from igflow.jobs import service as jobs_service
from igflow.jobs.deps import get_queue
from igflow.jobs.queue import JobQueue
from igflow.patients import service as patients_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites.models import Site
from igflow.sites.pages import placed_errors, validated  # form helpers (belong in igflow.web.forms)
from igflow.web.forms import form_action, form_values
from igflow.web.render import number, render

router = APIRouter(include_in_schema=False)

SKILL_WORDS = {
    "ivig_home": "IVIG at home",
    "scig_training": "SCIG training",
    "paediatric": "Children",
    "first_dose": "First doses",
}
KIND_WORDS = {"ivig": "IVIG infusion", "scig_training": "SCIG training", "scig_check": "SCIG check visit"}


def hhmm(minutes: int | None) -> str:
    if minutes is None:
        return ""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day(value: str | None) -> dt.date:
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("date: not a date (YYYY-MM-DD)", "date") from None


class _DrawnRoute:
    """A route with its nurse's home base, for the map."""

    def __init__(self, route: Any, home_lat: float, home_lon: float) -> None:
        self.nurse_name = route.nurse_name
        self.stops = route.stops
        self.home_lat = home_lat
        self.home_lon = home_lon


def _map(session: Session, routes: list[_DrawnRoute]) -> route_map.RouteMap:
    drawn = []
    for r in routes:
        pts: list[tuple[float, float, str, str]] = [
            (r.home_lat, r.home_lon, "H", f"{r.nurse_name}: home base")
        ]
        for i, s in enumerate(r.stops, start=1):
            pts.append((s.lat, s.lon, str(i), f"{i}. {s.patient_name}, {hhmm(s.start_min)}"))
        pts.append((r.home_lat, r.home_lon, "H", f"{r.nurse_name}: home base"))
        drawn.append((r.nurse_name, pts))
    rows = session.execute(select(Site).where(Site.kind == "centre", Site.lat.is_not(None))).scalars()
    centres = [(s.lat, s.lon, s.name) for s in rows if s.lat is not None and s.lon is not None]
    return route_map.project(drawn, centres)


def _drawn(session: Session, principal: Principal, routes: list[Any]) -> route_map.RouteMap:
    nurses = {n.id: n for n in nurses_service.list_nurses(session, principal)}
    drawable = [_DrawnRoute(r, nurses[r.nurse_id].home_lat, nurses[r.nurse_id].home_lon) for r in routes]
    return _map(session, drawable)


def _overview_context(
    session: Session, principal: Principal, day: dt.date, error: str | None
) -> dict[str, Any]:
    routes, unassigned = routes_view.day_view(session, principal, day)
    return {
        "day": day,
        "routes": routes,
        "unassigned": unassigned,
        "waiting": visits_service.waiting_home_courses(session, principal, day),
        "runs": runs_service.list_runs(session, principal) if principal.can(Perm.HOME_PLAN) else [],
        "nurses": nurses_service.list_nurses(session, principal),
        "hhmm": hhmm,
        "kind_words": KIND_WORDS,
        "skill_words": SKILL_WORDS,
        "error": error,
    }


@router.get("/home", response_class=HTMLResponse)
def overview(
    request: Request,
    date: str | None = Query(default=None),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "home/overview.html", _overview_context(session, principal, _day(date), None))


@router.get("/home/routes", response_class=HTMLResponse)
def routes_page(
    request: Request,
    date: str | None = Query(default=None),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    day = _day(date)
    routes, unassigned = routes_view.day_view(session, principal, day)
    context = {
        "day": day,
        "routes": routes,
        "unassigned": unassigned,
        "map": _drawn(session, principal, routes),
        "hhmm": hhmm,
        "kind_words": KIND_WORDS,
    }
    return render(request, "home/routes.html", context)


@router.get("/home/my-day", response_class=HTMLResponse)
def my_day(
    request: Request,
    date: str | None = Query(default=None),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    """A home nurse's own visits of the day, in route order, phone first; charting opens the chair record."""
    day = _day(date)
    nurse = nurses_service.nurse_for_user(session, principal.user_id)
    routes, _ = routes_view.day_view(session, principal, day, nurse_id=nurse.id) if nurse else ([], [])
    states = infusions_service.states_for_appointments(
        session, [s.appointment_id for r in routes for s in r.stops if s.appointment_id is not None]
    )
    context = {
        "day": day,
        "nurse": nurse,
        "route": routes[0] if routes else None,
        "states": states,
        "map": _drawn(session, principal, routes) if routes else None,
        "hhmm": hhmm,
        "kind_words": KIND_WORDS,
    }
    return render(request, "home/my_day.html", context)


@router.post("/home/routing", response_class=HTMLResponse)
async def start_routing(
    request: Request,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
    queue: JobQueue = Depends(get_queue),
) -> Response:
    """Queue a routing run and show its progress (the solve happens in a worker, not in this request)."""
    form = await request.form()
    fields = {"start_date": form.get("start_date", ""), "days": form.get("days", "") or 14}

    def submit() -> str:
        params = routing_job.params_of(RoutingIn.model_validate(fields))
        job = jobs_service.submit(session, queue, principal, routing_job.KIND_NAME, params)
        done = job.state == "succeeded" and job.result_id is not None
        return f"/home/runs/{job.result_id}" if done else f"/jobs/{job.id}"

    def refused(failure: Any) -> Response:
        context = _overview_context(session, principal, dt.date.today(), failure.message)
        return render(request, "home/overview.html", context, failure.status_code)

    return await form_action(session, submit, lambda target: target, refused)


def _run_context(session: Session, principal: Principal, run_id: int, error: str | None) -> dict[str, Any]:
    run = runs_service.get_run(session, principal, run_id)
    names = runs_service.nurse_names_for_run(session, run)
    visit_patient = {v["id"]: int(v["patient_id"][1:]) for v in run.instance["routing"]["visits"]}
    patient_names = patients_service.display_names(session, set(visit_patient.values()))
    blocked_names = patients_service.display_names(
        session, [b["patient_id"] for b in run.instance.get("blocked", [])]
    )
    return {
        "run": run,
        "routes": run.plan.get("routes", []),
        "unassigned": run.plan.get("unassigned", []),
        "nurse_names": names,
        "visit_patient": visit_patient,
        "patient_names": patient_names,
        "blocked": run.instance.get("blocked", []),
        "blocked_names": blocked_names,
        "hhmm": hhmm,
        "error": error,
    }


@router.get("/home/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    run_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "home/run.html", _run_context(session, principal, run_id, None))


@router.post("/home/runs/{run_id}/publish", response_class=HTMLResponse)
async def publish_run(
    request: Request,
    run_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return await form_action(
        session,
        lambda: runs_service.publish(session, principal, run_id),
        lambda _result: f"/home/runs/{run_id}",
        lambda failure: render(
            request,
            "home/run.html",
            _run_context(session, principal, run_id, failure.message),
            failure.status_code,
        ),
    )


@router.post("/home/runs/{run_id}/discard", response_class=HTMLResponse)
async def discard_run(
    request: Request,
    run_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return await form_action(
        session,
        lambda: runs_service.discard(session, principal, run_id),
        lambda _run: "/home",
        lambda failure: render(
            request,
            "home/run.html",
            _run_context(session, principal, run_id, failure.message),
            failure.status_code,
        ),
    )


# --- home nurses: the list, a new nurse, her hours, skills and days off ----------------------------------

WEEKDAY_NAMES = nurses_service.WEEKDAY_NAMES
NURSE_LABELS: dict[str, str] = {
    "name": "Name",
    "user_id": "Linked sign-in",
    "region": "Region",
    "home_lat": "Home base latitude",
    "home_lon": "Home base longitude",
    "skills": "Skills",
    "max_visits_per_day": "Visits a day at most",
    "site_id": "Home-infusion service",
    "date": "First day off",
    "end_date": "Last day off",
    "reason": "Reason",
}
NURSE_LABELS |= {
    f"{part}_{i}": f"{part.title()} on {name}"
    for i, name in enumerate(WEEKDAY_NAMES)
    for part in ("start", "end", "break")
}
NURSE_FIELDS = (
    *("name", "user_id", "region", "home_lat", "home_lon", "skills", "max_visits_per_day", "site_id"),
    *(f"{part}_{i}" for i in range(7) for part in ("start", "end", "break")),
)
ABSENCE_FIELDS = ("date", "end_date", "reason")
NURSE_SAVED = {"created": "Nurse added.", "saved": "Nurse saved."}


def _nurse_values(nurse: Any) -> dict[str, str]:
    """The nurse form's inputs as saved (a ticked box is a key with "1"; an unticked one is absent)."""
    values = {
        "name": nurse.name,
        "user_id": "" if nurse.user_id is None else str(nurse.user_id),
        "region": nurse.region,
        "home_lat": number(nurse.home_lat, 6),
        "home_lon": number(nurse.home_lon, 6),
        "max_visits_per_day": str(nurse.max_visits_per_day),
        **({"active": "1"} if nurse.active else {}),
        **{f"skill_{s}": "1" for s in nurse.skills or []},
    }
    for s in nurse.shifts:
        values |= {
            f"start_{s.weekday}": hhmm(s.start_min),
            f"end_{s.weekday}": hhmm(s.end_min),
            f"break_{s.weekday}": str(s.break_min),
        }
    return values


def _clock(text: str) -> int | None:
    """'08:30' -> 510 minutes after midnight; None when it is not a time of day."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def _shifts_input(values: Any, errors: dict[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    """The weekly hours of the form (a day with both times empty is off), and the weekday of each shift."""
    shifts, order = [], []
    for wd, day in enumerate(WEEKDAY_NAMES):
        start, end = str(values.get(f"start_{wd}", "")).strip(), str(values.get(f"end_{wd}", "")).strip()
        if not start and not end:
            continue
        times = {}
        for part, text in (("start", start), ("end", end)):
            if not text:
                errors[f"{part}_{wd}"] = f"Give the {part} on {day} too, or leave both times empty"
            elif (minutes := _clock(text)) is None:
                errors[f"{part}_{wd}"] = f"{part.title()} on {day} must be a time like 08:30"
            else:
                times[part] = minutes
        if len(times) == 2:
            shifts.append(
                {
                    "weekday": wd,
                    "start_min": times["start"],
                    "end_min": times["end"],
                    "break_min": values.get(f"break_{wd}") or 0,
                }
            )
            order.append(wd)
    return shifts, order


def _nurse_input(values: Any, *, editing: bool) -> tuple[NurseIn | None, dict[str, str]]:
    """A NurseIn from the nurse form, or every problem of it beside its field, in words."""
    errors: dict[str, str] = {}
    shifts, order = _shifts_input(values, errors)
    data = {
        "name": values.get("name", ""),
        "user_id": values.get("user_id") or None,
        "region": values.get("region", ""),
        "home_lat": values.get("home_lat", ""),
        "home_lon": values.get("home_lon", ""),
        "skills": [s for s in NURSE_SKILLS if values.get(f"skill_{s}")],
        "max_visits_per_day": values.get("max_visits_per_day", ""),
        "shifts": shifts,
        "active": bool(values.get("active")) if editing else True,
    }
    parts = {"start_min": "start", "end_min": "end", "break_min": "break", "weekday": "start"}

    def name_of(loc: tuple[Any, ...]) -> str:
        if loc[0] == "shifts" and len(loc) > 2 and isinstance(loc[1], int):
            return f"{parts.get(str(loc[2]), 'start')}_{order[loc[1]]}"
        return str(loc[0])

    nurse, problems = validated(NurseIn, data, name_of, NURSE_LABELS)
    for name, message in problems.items():
        errors.setdefault(name, message)
    # the hours' own checks (end after start, break shorter than the shift) beside the rest of the form's
    whole: list[tuple[int, ShiftIn]] = []
    for i, shift in enumerate(shifts):
        try:
            whole.append((i, ShiftIn.model_validate(shift)))
        except ValidationError:
            continue  # already named above
    for k, field, message in nurses_service.shift_problems([s for _i, s in whole]):
        errors.setdefault(f"{parts[field]}_{order[whole[k][0]]}", message[:1].upper() + message[1:])
    return (None if errors else nurse), errors


def _nurse_form_context(
    session: Session, principal: Principal, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "values": values,
        "errors": placed_errors(errors, NURSE_FIELDS),
        "users": nurses_service.linkable_users(session),
        "weekdays": list(WEEKDAY_NAMES),
        "skills": NURSE_SKILLS,
        "skill_words": SKILL_WORDS,
    }


def _nurse_context(
    session: Session,
    principal: Principal,
    nurse_id: int,
    error: str | None,
    *,
    failed: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
) -> dict[str, Any]:
    nurse = nurses_service.get_nurse(session, principal, nurse_id)
    form = values if failed == "nurse" and values is not None else _nurse_values(nurse)
    context = _nurse_form_context(session, principal, form, (errors or {}) if failed == "nurse" else {})
    return {
        **context,
        "nurse": nurse,
        "shifts": {s.weekday: s for s in nurse.shifts},
        "hhmm": hhmm,
        "error": error,
        "absence_values": values if failed == "absence" and values is not None else {},
        "absence_errors": placed_errors(errors or {}, ABSENCE_FIELDS) if failed == "absence" else {},
        "days_off": nurses_service.upcoming_absences(session, nurse.id, dt.date.today()),
        "saved": NURSE_SAVED.get(saved or ""),
    }


@router.get("/home/nurses", response_class=HTMLResponse)
def nurses_page(
    request: Request,
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    """The home nurses, with a way to add one."""
    context = {"nurses": nurses_service.list_nurses(session, principal), "skill_words": SKILL_WORDS}
    return render(request, "home/nurses.html", context)


def _new_nurse_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        **_nurse_form_context(session, principal, values, errors),
        "home_sites": nurses_service.home_sites(session, principal),
    }
    return render(request, "home/nurse_new.html", context, status_code=status_code)


@router.get("/home/nurses/new", response_class=HTMLResponse)
def new_nurse_page(
    request: Request,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    return _new_nurse_page(request, session, principal, {}, {})


@router.post("/home/nurses", response_class=HTMLResponse)
async def create_nurse(
    request: Request,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    """A new home nurse: name, linked sign-in, home base, skills, visits a day, weekly hours."""
    values = form_values(await request.form())
    data, problems = _nurse_input(values, editing=False)
    site_text = str(values.get("site_id") or "")
    if site_text and not site_text.isdigit():
        problems["site_id"] = "Choose a home-infusion service from the list"
    if data is None or problems:
        return _new_nurse_page(request, session, principal, values, problems, 422)
    site_id = int(site_text) if site_text else None
    return await form_action(
        session,
        lambda: nurses_service.create_nurse(session, principal, data, site_id=site_id),
        lambda nurse: f"/home/nurses/{nurse.id}?saved=created",
        lambda failure: _new_nurse_page(
            request, session, principal, values, failure.errors, failure.status_code
        ),
    )


@router.get("/home/nurses/{nurse_id}", response_class=HTMLResponse)
def nurse_page(
    request: Request,
    nurse_id: int,
    saved: str | None = Query(default=None, max_length=20),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    context = _nurse_context(session, principal, nurse_id, None, saved=saved)
    return render(request, "home/nurse.html", context)


def _nurse_refused(
    request: Request,
    session: Session,
    principal: Principal,
    nurse_id: int,
    failed: str,
    values: dict[str, Any],
) -> Callable[[Any], Response]:
    """Show the nurse's page again with the refused form's answers and its problems (the form's own, or
    the service's refusal)."""

    def show(failure: Any) -> Response:
        context = _nurse_context(
            session, principal, nurse_id, None, failed=failed, values=values, errors=failure.errors
        )
        return render(request, "home/nurse.html", context, failure.status_code)

    return show


class _Problems:
    """The form's own problems, shown like a service's refusal (``FormFailure``)."""

    status_code = 422

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors


@router.post("/home/nurses/{nurse_id}", response_class=HTMLResponse)
async def update_nurse(
    request: Request,
    nurse_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    """Name, linked sign-in, home base, skills, visits a day, in service or not, hours per weekday."""
    await run_in_threadpool(nurses_service.get_nurse, session, principal, nurse_id)  # another site's: 404
    values = form_values(await request.form())
    data, problems = _nurse_input(values, editing=True)
    refused = _nurse_refused(request, session, principal, nurse_id, "nurse", values)
    if data is None:
        return refused(_Problems(problems))
    return await form_action(
        session,
        lambda: nurses_service.update_nurse(session, principal, nurse_id, data),
        f"/home/nurses/{nurse_id}?saved=saved",
        refused,
    )


@router.post("/home/nurses/{nurse_id}/absences", response_class=HTMLResponse)
async def add_absence(
    request: Request,
    nurse_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    """Days off (one, or a range): her visits lose their nurse; the overview lists them until a routing run
    re-routes them."""
    await run_in_threadpool(nurses_service.get_nurse, session, principal, nurse_id)  # another site's: 404
    values = form_values(await request.form())
    fields = {"date": values.get("date", ""), "reason": values.get("reason", "")}
    absence, problems = validated(AbsenceIn, fields, lambda loc: str(loc[0]), NURSE_LABELS)
    end_text = str(values.get("end_date") or "")
    end_date = None
    if end_text:
        try:
            end_date = dt.date.fromisoformat(end_text)
        except ValueError:
            problems["end_date"] = "Last day off must be a date (YYYY-MM-DD)"
    refused = _nurse_refused(request, session, principal, nurse_id, "absence", values)
    if absence is None or problems:
        return refused(_Problems(problems))

    def first_to_see(out: list[Any]) -> str:
        hit = next((a for a in out if a.affected_visits), out[0])
        return f"/home?date={hit.date.isoformat()}"

    return await form_action(
        session,
        lambda: nurses_service.add_absences(session, principal, nurse_id, absence, end_date),
        first_to_see,
        refused,
    )
