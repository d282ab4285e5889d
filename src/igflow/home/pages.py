"""Pages of home visits: the home-infusion service's overview, the day's routes on a map, a nurse's own day
on her phone, routing runs beside the by-hand dispatch, and the nurses' hours, skills and days off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.home import map as route_map
from igflow.home.models import NURSE_SKILLS
from igflow.home.schemas import AbsenceIn, NurseIn, RoutingIn
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
from igflow.web.forms import form_action
from igflow.web.render import render

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


def _nurse_context(
    session: Session, principal: Principal, nurse_id: int, error: str | None
) -> dict[str, Any]:
    nurse = nurses_service.get_nurse(session, principal, nurse_id)
    return {
        "nurse": nurse,
        "shifts": {s.weekday: s for s in nurse.shifts},
        "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "skills": NURSE_SKILLS,
        "skill_words": SKILL_WORDS,
        "hhmm": hhmm,
        "error": error,
    }


@router.get("/home/nurses/{nurse_id}", response_class=HTMLResponse)
def nurse_page(
    request: Request,
    nurse_id: int,
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "home/nurse.html", _nurse_context(session, principal, nurse_id, None))


def _minutes(text: str, field: str) -> int:
    try:
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)
    except ValueError:
        raise InvalidInput(f"{field}: a time like 08:00", field) from None


def _nurse_in(nurse: Any, form: Any) -> NurseIn:
    shifts = []
    for weekday in range(7):
        start, end = form.get(f"start_{weekday}") or "", form.get(f"end_{weekday}") or ""
        if start and end:
            shifts.append(
                {
                    "weekday": weekday,
                    "start_min": _minutes(str(start), f"start_{weekday}"),
                    "end_min": _minutes(str(end), f"end_{weekday}"),
                    "break_min": int(form.get(f"break_{weekday}") or 0),
                }
            )
    return NurseIn.model_validate(
        {
            "name": nurse.name,
            "user_id": nurse.user_id,
            "region": nurse.region,
            "home_lat": nurse.home_lat,
            "home_lon": nurse.home_lon,
            "skills": [s for s in NURSE_SKILLS if form.get(f"skill_{s}")],
            "max_visits_per_day": form.get("max_visits_per_day") or nurse.max_visits_per_day,
            "shifts": shifts,
            "active": nurse.active,
        }
    )


@router.post("/home/nurses/{nurse_id}", response_class=HTMLResponse)
async def update_nurse(
    request: Request,
    nurse_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    """Hours per weekday, skills and visits a day."""
    form = await request.form()

    def save() -> Any:
        nurse = nurses_service.get_nurse(session, principal, nurse_id)
        return nurses_service.update_nurse(session, principal, nurse_id, _nurse_in(nurse, form))

    return await form_action(
        session,
        save,
        lambda _nurse: f"/home/nurses/{nurse_id}",
        lambda failure: render(
            request,
            "home/nurse.html",
            _nurse_context(session, principal, nurse_id, failure.message),
            failure.status_code,
        ),
    )


@router.post("/home/nurses/{nurse_id}/absences", response_class=HTMLResponse)
async def add_absence(
    request: Request,
    nurse_id: int,
    principal: Principal = require(Perm.HOME_PLAN),
    session: Session = Depends(get_session),
) -> Response:
    """A day off: her visits lose their nurse; the overview lists them until a routing run re-routes them."""
    form = await request.form()
    fields = {"date": form.get("date", ""), "reason": form.get("reason", "")}
    return await form_action(
        session,
        lambda: nurses_service.add_absence(session, principal, nurse_id, AbsenceIn.model_validate(fields)),
        lambda out: f"/home?date={out.date.isoformat()}",
        lambda failure: render(
            request,
            "home/nurse.html",
            _nurse_context(session, principal, nurse_id, failure.message),
            failure.status_code,
        ),
    )
