"""Shared by the cost use cases: prices from the database, and the days of courses with what each costs.

A day of a course costs what was dispensed for it at the chair (the vials dispensed for its appointment,
net of returns, from ``igflow.inventory.service``), or, before anything is dispensed, what its plan day
dispenses. The mass given is the volume infused times the plan's concentration (unknown until the infusion
ends); the partial-vial waste is the difference. A day is priced on its appointment's date, or, not booked
yet, on the course's target date plus the day's offset.

The plans come from ``igflow.orders.service``, dispensed vials from ``igflow.inventory.service``; the courses,
their sessions and appointments and the infusion records are read here in bulk (one query per table for
any number of courses), as ``igflow.outcomes`` reads them, because those capabilities have no bulk reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.costs import core
from igflow.costs.models import ProductPrice
from igflow.db import utcnow
from igflow.infusions.models import InfusionRecord
from igflow.inventory import service as inventory_service
from igflow.orders import service as orders_service

#: what the pages and messages say about who sets prices (PRICE_MANAGE: pharmacist, administrator)
WHO_SETS_PRICES = "a pharmacist or administrator sets it on the Prices page"
_LIVE = ("booked", "completed")


def today() -> date:
    return utcnow().date()


def product_name(product_id: str) -> str:
    product = load_catalog().products.get(product_id)
    return product.name if product is not None else product_id


def as_price(row: ProductPrice) -> core.Price:
    return core.Price(row.product_id, row.cents_per_gram, row.effective_from, row.source)


def prices(session: Session, product_ids: Iterable[str] | None = None) -> list[core.Price]:
    """Prices of these products (every product when None), oldest first."""
    query = select(ProductPrice).order_by(ProductPrice.product_id, ProductPrice.effective_from)
    if product_ids is not None:
        query = query.where(ProductPrice.product_id.in_(sorted(set(product_ids))))
    return [as_price(r) for r in session.execute(query).scalars()]


def no_price_text(product_id: str, on: date) -> str:
    return f"no price on record for {product_name(product_id)} on {on.isoformat()} — {WHO_SETS_PRICES}"


# --- the plan's day ------------------------------------------------------------------------------------


def plan_day(plan: dict[str, Any], day_index: int) -> dict[str, Any] | None:
    for day in plan.get("days") or []:
        if int(day.get("day", 0)) == day_index:
            return dict(day)
    return None


def plan_vials(day: dict[str, Any]) -> list[core.Vials]:
    return [core.Vials(core.to_mg(v["size_g"]), int(v["count"])) for v in day.get("vials") or []]


def planned_given_mg(plan: dict[str, Any], day: dict[str, Any]) -> int:
    """What the plan gives on the day: its volume at the product's concentration, at most what it
    dispenses (the plan infuses whole vials, so its own waste is nil unless the volume says otherwise)."""
    dispensed = core.dispensed_mg(plan_vials(day))
    volume, concentration = day.get("volume_ml"), plan.get("concentration_g_per_ml")
    if volume is None or not concentration:
        return dispensed
    return min(dispensed, core.to_mg(round(float(volume) * float(concentration), 3)))


def plan_day_cost(
    all_prices: Sequence[core.Price], plan: dict[str, Any], day: dict[str, Any], on: date
) -> core.DrugCost:
    return core.drug_cost(all_prices, str(plan["product"]), on, plan_vials(day), planned_given_mg(plan, day))


# --- days of courses -----------------------------------------------------------------------------------


@dataclass
class DayCost:
    """One day of a course and its drug cost. ``dispensed``: the cost is what the chair dispensed (else the
    plan's vials). ``appointment_id`` None: the day is not booked."""

    course_id: int
    order_id: int
    patient_id: int
    cycle: int
    day_index: int
    on: date
    cost: core.DrugCost
    dispensed: bool
    site_id: int | None = None
    appointment_id: int | None = None
    record_id: int | None = None
    infusion_ended: bool = False


def _live_appointment(appointments: list[Appointment], dispensed: dict[int, Any]) -> Appointment | None:
    """The appointment a session is costed on: the latest with vials dispensed, else the latest booked or
    completed one; None when every appointment was cancelled or missed (or there is none)."""
    with_vials = [a for a in appointments if dispensed.get(a.id)]
    if with_vials:
        return with_vials[-1]
    live = [a for a in appointments if a.status in _LIVE]
    return live[-1] if live else None


def _record_given_mg(record: InfusionRecord | None, plan: dict[str, Any]) -> int | None:
    if record is None or record.volume_infused_ml is None:
        return None
    concentration = plan.get("concentration_g_per_ml")
    if not concentration:
        return None
    return core.to_mg(round(float(record.volume_infused_ml) * float(concentration), 3))


def course_days(
    session: Session, courses: Sequence[Course], all_prices: Sequence[core.Price]
) -> list[DayCost]:
    """Every day of these courses with its cost, in course then day order (one query per table)."""
    if not courses:
        return []
    by_id = {c.id: c for c in courses}
    sessions: list[CourseSession] = []
    appointments: dict[int, list[Appointment]] = {}
    ids = sorted(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sessions += session.execute(select(CourseSession).where(CourseSession.course_id.in_(chunk))).scalars()
    session_ids = [s.id for s in sessions]
    for start in range(0, len(session_ids), 500):
        for row in session.execute(
            select(Appointment)
            .where(Appointment.course_session_id.in_(session_ids[start : start + 500]))
            .order_by(Appointment.id)
        ).scalars():
            appointments.setdefault(row.course_session_id, []).append(row)
    appointment_ids = [a.id for appts in appointments.values() for a in appts]
    dispensed = inventory_service.dispensed_for_appointments(session, appointment_ids)
    records: dict[int, InfusionRecord] = {}
    for start in range(0, len(appointment_ids), 500):
        for charted in session.execute(
            select(InfusionRecord).where(
                InfusionRecord.appointment_id.in_(appointment_ids[start : start + 500])
            )
        ).scalars():
            records[charted.appointment_id] = charted
    versions = orders_service.plan_versions(session, {c.plan_version_id for c in courses})
    out: list[DayCost] = []
    for cs in sorted(sessions, key=lambda s: (s.course_id, s.day_index)):
        course = by_id[cs.course_id]
        version = versions.get(course.plan_version_id)
        if version is None:
            continue
        plan = version.plan
        day = plan_day(plan, cs.day_index)
        if day is None:
            continue
        appt = _live_appointment(appointments.get(cs.id, []), dispensed)
        on = appt.date if appt is not None else course.target + timedelta(days=cs.day_index - 1)
        record = records.get(appt.id) if appt is not None else None
        vials = dispensed.get(appt.id) if appt is not None else None
        if vials:
            cost = core.drug_cost(
                all_prices,
                vials[0].product_id,
                on,
                [core.Vials(core.to_mg(v.vial_size_g), v.count) for v in vials],
                _record_given_mg(record, plan),
            )
        else:
            cost = plan_day_cost(all_prices, plan, day, on)
        out.append(
            DayCost(
                course_id=course.id,
                order_id=course.order_id,
                patient_id=course.patient_id,
                cycle=course.cycle,
                day_index=cs.day_index,
                on=on,
                cost=cost,
                dispensed=bool(vials),
                site_id=appt.site_id if appt is not None else None,
                appointment_id=appt.id if appt is not None else None,
                record_id=record.id if record is not None else None,
                infusion_ended=record is not None and record.volume_infused_ml is not None,
            )
        )
    return out
