"""What a plan, a course, an infusion and an authorisation cost. Reads of a patient's costs are audited
reads and go through site scope; ``authorisation_cost`` reads no patient data (the caller has the request)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from igflow.appointments.models import Course
from igflow.costs import core
from igflow.costs.schemas import CostOut, CourseCostOut, InfusionCostOut, OrderCostOut, TotalOut
from igflow.costs.service._common import (
    DayCost,
    course_days,
    plan_day_cost,
    prices,
    product_name,
    today,
)
from igflow.errors import NotFound
from igflow.infusions.models import InfusionRecord
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.principal import Principal

T = TypeVar("T")


def cost_out(label: str, cost: core.DrugCost, dispensed: bool) -> CostOut:
    price, unknown = cost.price, cost.unknown
    return CostOut(
        label=label,
        on=cost.on,
        product_id=cost.product_id,
        product_name=product_name(cost.product_id),
        dispensed=dispensed,
        cents_per_gram=price.cents_per_gram if price else None,
        price_effective_from=price.effective_from if price else None,
        price_source=price.source if price else None,
        dispensed_mg=cost.dispensed_mg,
        given_mg=cost.given_mg,
        waste_mg=cost.waste_mg,
        dispensed_cents=cost.dispensed_cents,
        given_cents=cost.given_cents,
        waste_cents=cost.waste_cents,
        unknown=unknown.text if unknown else None,
    )


def total_out(t: core.Total) -> TotalOut:
    return TotalOut(
        total_cents=t.cents,
        waste_cents=t.waste_cents,
        doses_priced=t.counted,
        unknown=[f"{product_name(u.product_id)}: {u.text}" for u in t.unknown],
        complete=t.complete,
    )


def _load(session: Session, principal: Principal, model: type[T], ident: int, label: str) -> T:
    row = scope.get(session, principal, model, ident, label)
    try:
        patients_service.check_access(session, principal, getattr(row, "patient_id"))  # noqa: B009
    except NotFound:
        raise NotFound(f"{label} {ident} not found") from None
    return row


def _audit(
    session: Session, principal: Principal, action: str, kind: str, ident: int, patient_id: int
) -> None:
    audit.record(session, principal.actor, action, kind, ident, patient_id=patient_id)
    session.commit()


def order_cost(session: Session, principal: Principal, order_id: int, on: date | None = None) -> OrderCostOut:
    """The order's verified plan, per day and per cycle, at the prices in force on ``on`` (today). An order
    without a verified plan now is costed on its current plan, and says so."""
    order = _load(session, principal, Order, order_id, "order")
    on = on or today()
    verified = orders_service.current_verified_plan(session, order.id)
    note = ""
    plan: dict[str, Any] = {}
    number: int | None = None
    if verified is not None:
        plan, number = verified[0].plan, verified[0].version
    else:
        versions = orders_service.to_out(session, order).versions
        if versions:
            plan, number = versions[-1].plan, versions[-1].version
        note = "The plan is not verified now: this is the cost of its current version."
    all_prices = prices(session, [str(plan.get("product", order.product_id))])
    days = [
        (int(d["day"]), plan_day_cost(all_prices, plan, d, on))
        for d in plan.get("days") or []
        if d.get("vials")
    ]
    if not days:
        note = (note + " " if note else "") + "The plan dispenses no vials (a hard stop or no regimen)."
    _audit(session, principal, "cost.order.read", "order", order.id, order.patient_id)
    return OrderCostOut(
        order_id=order.id,
        patient_id=order.patient_id,
        product_id=str(plan.get("product", order.product_id)),
        verified=verified is not None,
        plan_version=number,
        priced_on=on,
        days=[cost_out(f"Day {k}", c, False) for k, c in days],
        cycle=total_out(core.total(c for _, c in days)),
        note=note,
    )


def day_label(day: DayCost) -> str:
    return f"Day {day.day_index}"


def course_cost(session: Session, principal: Principal, course_id: int) -> CourseCostOut:
    """Each day of the course as dispensed at the chair, or as planned where nothing is dispensed yet."""
    course = _load(session, principal, Course, course_id, "course")
    days = course_days(session, [course], prices(session))
    _audit(session, principal, "cost.course.read", "course", course.id, course.patient_id)
    return CourseCostOut(
        course_id=course.id,
        order_id=course.order_id,
        patient_id=course.patient_id,
        cycle=course.cycle,
        days=[cost_out(day_label(d), d.cost, d.dispensed) for d in days],
        total=total_out(core.total(d.cost for d in days)),
    )


def infusion_note(day: DayCost) -> str:
    if not day.dispensed:
        return "No vials are dispensed for this infusion yet: the cost is the plan's."
    if not day.infusion_ended:
        return "The waste is known when the infusion ends (the volume infused)."
    return ""


def infusion_cost(session: Session, principal: Principal, record_id: int) -> InfusionCostOut:
    """The vials dispensed for the infusion against the dose given: what was given and the waste."""
    record = _load(session, principal, InfusionRecord, record_id, "infusion record")
    course = session.get(Course, _course_id_of(session, record))
    assert course is not None
    day = next((d for d in course_days(session, [course], prices(session)) if d.record_id == record.id), None)
    if day is None:  # the record's appointment is not the day's live one (cannot happen for a charted day)
        raise NotFound(f"infusion record {record_id} not found")
    _audit(session, principal, "cost.infusion.read", "infusion_record", record.id, record.patient_id)
    return InfusionCostOut(
        record_id=record.id,
        appointment_id=record.appointment_id,
        patient_id=record.patient_id,
        cost=cost_out(day_label(day), day.cost, day.dispensed),
        note=infusion_note(day),
    )


def _course_id_of(session: Session, record: InfusionRecord) -> int:
    from igflow.appointments.models import Appointment, CourseSession

    appt = session.get(Appointment, record.appointment_id)
    assert appt is not None
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    return cs.course_id


@dataclass(frozen=True)
class AuthorisationCost:
    """What authorised grams cost at each authorised product's price in force on the date. ``least_cents``
    and ``most_cents`` span the products with a price (None when none has one); ``unknown`` lists the
    products without a price on the date."""

    grams_mg: int
    on: date
    lines: tuple[core.DrugCost, ...]

    @property
    def known(self) -> list[int]:
        return [c.dispensed_cents for c in self.lines if c.dispensed_cents is not None]

    @property
    def least_cents(self) -> int | None:
        return min(self.known) if self.known else None

    @property
    def most_cents(self) -> int | None:
        return max(self.known) if self.known else None

    @property
    def unknown(self) -> list[core.Unknown]:
        return [u for c in self.lines if (u := c.unknown) is not None]


def authorisation_cost(
    session: Session, product_ids: Sequence[str], grams: float | int, on_date: date
) -> AuthorisationCost:
    """For the authorisations service: authorised grams x the price per gram in force on ``on_date``, per
    authorised product. Reads prices only (the caller has already checked access to the request)."""
    mg = core.to_mg(grams)
    ids = list(dict.fromkeys(product_ids))
    all_prices = prices(session, ids)
    lines = tuple(core.drug_cost(all_prices, pid, on_date, [core.Vials(mg, 1)], mg) for pid in ids)
    return AuthorisationCost(grams_mg=mg, on=on_date, lines=lines)
