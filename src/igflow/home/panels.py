"""The home-therapy panel of the patient's chart: where each order is given, the home's coordinates (for
routes), the time burden of treatment in a centre, whether the record suggests a move home, and the home
visits booked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course
from igflow.catalog import load_catalog
from igflow.home import burden as burden_core
from igflow.home.models import HomeVisit
from igflow.home.service import visits as visits_service
from igflow.infusions import service as infusions_service
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage, Patient
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites.models import Site


@dataclass
class OrderAtHome:
    order: Order
    burden: burden_core.Burden | None
    candidate: burden_core.Candidate | None
    centre_hold: str | None


def _travel_min(patient: Patient, centre: Site | None) -> int | None:
    if centre is None or None in (patient.home_lat, patient.home_lon, centre.lat, centre.lon):
        return None
    from igflow.home.service.runs import travel_params  # the routing core, loaded with the panel's first use
    from igflow.routing.models import Point
    from igflow.routing.travel import HaversineTravel

    matrix = HaversineTravel(travel_params())
    a = Point(lat=float(patient.home_lat or 0), lon=float(patient.home_lon or 0))
    b = Point(lat=float(centre.lat or 0), lon=float(centre.lon or 0))
    return int(matrix.minutes([a, b])[0][1])


def _first_centre(session: Session, patient_id: int) -> Site | None:
    for site_id in patients_service.sites_of(session, [patient_id]).get(patient_id, []):
        site = session.get(Site, site_id)
        if site is not None and site.kind == "centre":
            return site
    return None


def _coverage_site_of_care(session: Session, patient_id: int) -> str | None:
    row = session.execute(
        select(Coverage.site_of_care)
        .where(Coverage.patient_id == patient_id, Coverage.active.is_(True))
        .order_by(Coverage.rank)
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def _completed_cycles(session: Session, order_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Course)
            .where(Course.order_id == order_id, Course.status == "completed")
        ).scalar_one()
    )


def order_view(session: Session, order: Order, patient: Patient, centre: Site | None) -> OrderAtHome:
    home = load_catalog().home
    verified = orders_service.current_verified_plan(session, order.id)
    b = None
    if verified is not None:
        plan = verified[0].plan
        days = plan.get("days") or []
        chair_min = sum(float(d.get("chair_min") or 0) for d in days)
        interval = (plan.get("regimen") or {}).get("interval_weeks")
        weeks = float(interval[0]) if interval else None
        b = burden_core.burden(chair_min, len(days), weeks, _travel_min(patient, centre))
    candidate = burden_core.could_move_home(
        phase=order.phase,
        setting=order.setting,
        completed_cycles=_completed_cycles(session, order.id),
        stable_after_cycles=int(home.candidates.stable_after_cycles.value or 0),
        highest_reaction_grade=infusions_service.highest_reaction_grade(session, patient.id),
        centre_from_grade=int(home.reaction_at_home.centre_from_grade.value or 0),
        coverage_site_of_care=_coverage_site_of_care(session, patient.id),
    )
    hold = visits_service.centre_hold(session, patient.id)
    return OrderAtHome(order=order, burden=b, candidate=candidate, centre_hold=hold.title if hold else None)


def upcoming_visits(session: Session, patient_id: int, today: dt.date) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Appointment, HomeVisit)
        .join(HomeVisit, HomeVisit.appointment_id == Appointment.id)
        .where(
            Appointment.patient_id == patient_id, Appointment.status == "booked", Appointment.date >= today
        )
        .order_by(Appointment.date, Appointment.start_min)
        .limit(10)
    ).all()
    names = visits_service.nurse_names(session, [v.nurse_id for _a, v in rows])
    return [
        {"date": a.date, "start_min": a.start_min, "kind": v.kind, "nurse": names.get(v.nurse_id or 0, "")}
        for a, v in rows
    ]


def patient_panel(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    """The panel's content; the caller has checked access to the patient (the chart page)."""
    patient = patients_service.check_access(session, principal, patient_id)
    centre = _first_centre(session, patient_id)
    orders = list(
        session.execute(
            select(Order).where(Order.patient_id == patient_id, Order.status == "active").order_by(Order.id)
        ).scalars()
    )
    panel = {
        "patient": patient,
        "centre": centre,
        "orders": [order_view(session, o, patient, centre) for o in orders],
        "visits": upcoming_visits(session, patient_id, dt.date.today()),
        "travel_source": load_catalog().home.travel.speed_km_per_h.source,
    }
    audit.record(session, principal.actor, "home_panel.read", "patient", patient_id, patient_id=patient_id)
    session.commit()
    return panel
