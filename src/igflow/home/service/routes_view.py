"""The day's routes as booked: each nurse's visits in order, with times and travel, for the scheduler's page,
the nurse's own day on her phone, and the map."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.orm import Session

from igflow.home.models import HomeNurse
from igflow.home.schemas import RouteOut, StopOut
from igflow.home.service import nurses as nurses_service
from igflow.home.service import runs as runs_service
from igflow.home.service import visits as visits_service
from igflow.routing.models import Point
from igflow.routing.travel import HaversineTravel
from igflow.security import audit
from igflow.security.principal import Principal


def _stop(bv: visits_service.BookedVisit, travel_min: int) -> StopOut:
    p = bv.patient
    return StopOut(
        appointment_id=bv.appointment.id,
        course_id=bv.course.id,
        patient_id=p.id,
        patient_name=f"{p.family_name}, {p.given_name}",
        kind=bv.visit.kind,
        address=p.address,
        lat=p.home_lat if p.home_lat is not None else 0.0,
        lon=p.home_lon if p.home_lon is not None else 0.0,
        start_min=bv.appointment.start_min,
        end_min=bv.appointment.start_min + bv.appointment.duration_min,
        travel_min=travel_min,
    )


def _travel(matrix: HaversineTravel, a: Point, b: Point) -> int:
    return int(matrix.minutes([a, b])[0][1])


def routes_of(
    session: Session, visits: list[visits_service.BookedVisit], nurses: dict[int, HomeNurse], day: dt.date
) -> tuple[list[RouteOut], list[StopOut]]:
    """Routes per nurse (travel recomputed from the coordinates, home and back) and visits with no nurse."""
    matrix = HaversineTravel(runs_service.travel_params())
    by_nurse: dict[int, list[visits_service.BookedVisit]] = defaultdict(list)
    unassigned: list[StopOut] = []
    for bv in visits:
        if bv.visit.nurse_id is None or bv.appointment.status not in ("booked", "completed"):
            if bv.appointment.status == "booked":
                unassigned.append(_stop(bv, 0))
            continue
        by_nurse[bv.visit.nurse_id].append(bv)
    routes: list[RouteOut] = []
    for nurse_id, stops in sorted(
        by_nurse.items(), key=lambda kv: nurses[kv[0]].name if kv[0] in nurses else ""
    ):
        nurse = nurses.get(nurse_id)
        if nurse is None:
            continue
        stops.sort(key=lambda bv: bv.appointment.start_min)
        here = Point(lat=nurse.home_lat, lon=nurse.home_lon)
        out: list[StopOut] = []
        total = 0
        for bv in stops:
            there = Point(lat=bv.patient.home_lat or 0.0, lon=bv.patient.home_lon or 0.0)
            leg = _travel(matrix, here, there)
            total += leg
            out.append(_stop(bv, leg))
            here = there
        back = _travel(matrix, here, Point(lat=nurse.home_lat, lon=nurse.home_lon)) if out else 0
        total += back
        routes.append(
            RouteOut(
                nurse_id=nurse.id,
                nurse_name=nurse.name,
                date=day,
                stops=out,
                travel_min=total,
                end_min=(out[-1].end_min + back) if out else None,
            )
        )
    return routes, unassigned


def day_routes(session: Session, principal: Principal, day: dt.date) -> list[RouteOut]:
    routes, _ = day_view(session, principal, day)
    return routes


def day_view(
    session: Session, principal: Principal, day: dt.date, nurse_id: int | None = None
) -> tuple[list[RouteOut], list[StopOut]]:
    visits = visits_service.booked_visits(session, principal, day, day, nurse_id=nurse_id)
    nurses = {n.id: n for n in nurses_service.list_nurses(session, principal)}
    routes, unassigned = routes_of(session, visits, nurses, day)
    audit.record(
        session,
        principal.actor,
        "home_routes.read",
        "home_routes",
        day.isoformat(),
        detail={"appointment_ids": [bv.appointment.id for bv in visits], "nurse_id": nurse_id},
    )
    session.commit()
    return routes, unassigned
