"""Read views the pages draw: the chair board, the week's load, orders ready to schedule, and a patient's
upcoming appointments.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession, SiteSlotLoad
from igflow.appointments.service._common import _active_chairs, _capacity, _sessions, policy
from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.orders import service as orders_service
from igflow.orders.models import Order, PlanVersion
from igflow.patients import service as patients_service
from igflow.scheduling.models import min_to_hhmm
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Site


def chair_board(session: Session, principal: Principal, site_id: int, day: dt.date) -> dict[str, Any]:
    """Chairs × time for one centre and date: each booked appointment with its patient and indication."""
    scope.require_site(principal, site_id)
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    rows = session.execute(
        select(Appointment, Course, Order)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Order, Order.id == Course.order_id)
        .where(Appointment.site_id == site.id, Appointment.date == day, Appointment.status != "cancelled")
        .order_by(Appointment.start_min)
    ).all()
    names = patients_service.display_names(session, {r[0].patient_id for r in rows})
    catalog = load_catalog()

    def named(table: dict[str, Any], key: str) -> str:
        item = table.get(key)
        return item.name if item is not None else key

    appointments = [
        {
            "id": a.id,
            "chair_id": a.chair_id,
            "patient_id": a.patient_id,
            "patient": names.get(a.patient_id, ""),
            "indication": o.indication_id,
            "product": o.product_id,
            "indication_name": named(catalog.indications, o.indication_id),
            "product_name": named(catalog.products, o.product_id),
            "start_min": a.start_min,
            "duration_min": a.duration_min,
            "status": a.status,
            "course_id": c.id,
            "day_index": next(
                cs.day_index for cs in _sessions(session, c.id) if cs.id == a.course_session_id
            ),
            "days": len(_sessions(session, c.id)),
        }
        for a, c, o in rows
    ]
    audit.record(
        session,
        principal.actor,
        "chair_board.read",
        "site",
        site.id,
        detail={"date": day.isoformat(), "appointment_ids": [a["id"] for a in appointments]},
    )
    session.commit()
    return {
        "site": site,
        "date": day,
        "open_min": hours.open_time.hour * 60 + hours.open_time.minute if hours else None,
        "close_min": hours.close_time.hour * 60 + hours.close_time.minute if hours else None,
        "chairs": site.chairs,
        "appointments": appointments,
        "slot_minutes": policy().slot_minutes,
    }


def week_load(session: Session, principal: Principal, site_id: int, monday: dt.date) -> list[dict[str, Any]]:
    """Per day of the week: patients in chairs per slot against the nurse and chair capacity."""
    scope.require_site(principal, site_id)
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    slot_minutes = policy().slot_minutes
    chairs = len(_active_chairs(site))
    out = []
    for k in range(7):
        day = monday + dt.timedelta(days=k)
        try:
            open_min, close_min, max_in, _max_starts = _capacity(site, day)
        except InvalidInput:
            out.append({"date": day, "open": False})
            continue
        loads = dict(
            session.execute(
                select(SiteSlotLoad.slot, SiteSlotLoad.in_chairs).where(
                    SiteSlotLoad.site_id == site.id, SiteSlotLoad.date == day
                )
            ).all()
        )
        slots = list(range(open_min // slot_minutes, close_min // slot_minutes))
        series = [(min_to_hhmm(s * slot_minutes), int(loads.get(s, 0))) for s in slots]
        out.append(
            {
                "date": day,
                "open": True,
                "capacity": min(chairs, max_in),
                "chairs": chairs,
                "nurse_capacity": max_in,
                "series": series,
                "peak": max((v for _t, v in series), default=0),
                "chair_minutes": sum(v for _t, v in series) * slot_minutes,
            }
        )
    return out


def ready_to_schedule(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Active orders whose current plan is verified and that have no course waiting or booked.

    A few queries whatever the number of orders: the free orders (one query), then their current plans in
    batches (:func:`_verified_plans`), where calling ``current_verified_plan`` per order cost ~13 each."""
    busy = select(Course.id).where(Course.order_id == Order.id, Course.status.in_(("waiting", "booked")))
    query = select(Order).where(Order.status == "active", ~busy.exists()).order_by(Order.id)
    orders = list(session.execute(scope.rows(query, principal, Order)).scalars())
    plans = _verified_plans(session, orders)
    out = [
        {
            "order_id": order.id,
            "patient_id": order.patient_id,
            "indication": order.indication_id,
            "phase": order.phase,
            "plan_version": plans[order.id].version,
            "days": len(plans[order.id].plan.get("days") or []),
        }
        for order in orders
        if order.id in plans
    ]
    session.commit()
    return out


def _verified_plans(session: Session, orders: list[Order]) -> dict[int, PlanVersion]:
    """``orders_service.current_verified_plan`` for many active orders at once: order id -> its current
    plan version, for the orders whose current version's latest decision is "verified" and whose patient's
    facts have not changed since. The same batches as the orders verification queue (heads, latest
    decisions, facts per kind for all patients), then one query for the verified versions' plans."""
    heads = orders_service._heads(session, [o.id for o in orders])
    decided = orders_service._latest_verifications(session, [h.id for h in heads.values()])
    verified = [
        o
        for o in orders
        if o.id in heads
        and (decision := decided.get(heads[o.id].id)) is not None
        and decision.decision == "verified"
    ]
    stale = orders_service._stale(session, verified, heads)
    current = [heads[o.id].id for o in verified if o.id not in stale]
    if not current:
        return {}
    versions = session.execute(select(PlanVersion).where(PlanVersion.id.in_(current))).scalars()
    return {v.order_id: v for v in versions}


def upcoming_for_patient(session: Session, patient_id: int) -> list[dict[str, Any]]:
    """The patient's booked appointments from today on (for their own page; the caller audits the read)."""
    rows = session.execute(
        select(Appointment, Site)
        .join(Site, Site.id == Appointment.site_id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == "booked",
            Appointment.date >= utcnow().date(),
        )
        .order_by(Appointment.date, Appointment.start_min)
    ).all()
    return [
        {
            "id": a.id,
            "date": a.date,
            "start": min_to_hhmm(a.start_min),
            "end": min_to_hhmm(a.start_min + a.duration_min),
            "hours": round(a.duration_min / 60, 1),
            "site": s.name,
            "address": s.address,
        }
        for a, s in rows
    ]
