"""The patient's SCIG plan and their self-infusions over time: the active subcutaneous order and its plan in
plain words, the entries as they stand (corrections replace what they correct), what is due next (the last
self-infusion plus the plan's SC interval), and the missed-infusion sweep.

A missed infusion (nothing logged by the due day plus ``home_supply.yaml`` ``missed_grace_days``, an igflow
operational default) opens one nurse task per due day: :func:`sweep_missed`, run hourly by the worker
(``igflow.jobs.queue``) with the late-delivery sweep, and callable on demand. Detection starts with the
patient's first logged self-infusion (before it, the training visits set the start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.home import plan_reading
from igflow.home.models import SelfInfusion
from igflow.home.selflog_schemas import PlanWordsOut
from igflow.infusions.models import WorkTask
from igflow.orders import service as orders_service
from igflow.orders.models import Order, PlanVersion
from igflow.security import audit
from igflow.security.audit import SYSTEM
from igflow.sites import service as sites_service

FOLLOW_UP_TASK = "self_infusion_follow_up"
MISSED_TASK = "self_infusion_missed"
RECONCILE_TASK = "home_stock_reconcile"
NURSE_CHECKLIST = [{"id": "called", "label": "Called the patient and agreed what to do"}]


def rules() -> Any:
    return load_catalog().home_supply.self_infusion


def tz(session: Session) -> ZoneInfo:
    organisation = sites_service.get_organisation(session)
    return ZoneInfo(organisation.timezone if organisation else "UTC")


def local_date(session: Session, at: dt.datetime) -> dt.date:
    aware = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
    return aware.astimezone(tz(session)).date()


def product_name(product_id: str) -> str:
    product = load_catalog().products.get(product_id)
    return product.name if product is not None else product_id


# --- the order and its plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Active:
    order: Order
    version: PlanVersion
    plan: dict[str, Any]


def active_order(session: Session, patient_id: int) -> Active | None:
    """The newest active order of the patient whose current plan is verified and subcutaneous."""
    orders = session.execute(
        select(Order)
        .where(Order.patient_id == patient_id, Order.status == "active")
        .order_by(Order.id.desc())
    ).scalars()
    for order in orders:
        verified = orders_service.current_verified_plan(session, order.id)
        if verified is not None and plan_reading.is_sc(verified[0].plan):
            return Active(order, verified[0], dict(verified[0].plan))
    return None


def every_words(days: int | None) -> str:
    if days is None:
        return "as your nurse agreed"
    if days == 1:
        return "every day"
    if days % 7 == 0:
        return "every week" if days == 7 else f"every {days // 7} weeks"
    return f"every {days} days"


def num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def plan_words(active: Active) -> PlanWordsOut:
    """The plan's numbers as a patient reads them."""
    figures = plan_reading.sc_figures(active.plan)
    name = product_name(figures.product_id or active.order.product_id)
    lines = [f"{name}: {num(figures.volume_ml)} mL {every_words(figures.interval_days)}."]
    if figures.sites is not None:
        per_site = f", up to {num(figures.ml_per_site)} mL in each site" if figures.ml_per_site else ""
        lines.append(f"Use {figures.sites} site{'s' if figures.sites != 1 else ''}{per_site}.")
    if figures.rate_ml_per_h_per_site is not None:
        total = (
            f" ({num(figures.rate_ml_per_h_per_site * figures.sites)} mL an hour in all)"
            if figures.sites and figures.sites > 1
            else ""
        )
        duration = f": about {figures.duration_min} minutes" if figures.duration_min else ""
        lines.append(
            f"Infuse at up to {num(figures.rate_ml_per_h_per_site)} mL an hour in each site{total}{duration}."
        )
    if figures.vials:
        vials = " and ".join(f"{count} × {num(size)} g" for size, count in figures.vials)
        lines.append(f"Vials for each infusion: {vials}.")
    return PlanWordsOut(
        order_id=active.order.id,
        plan_version_id=active.version.id,
        product_id=figures.product_id or active.order.product_id,
        product_name=name,
        volume_ml=figures.volume_ml,
        sites=figures.sites,
        ml_per_site=figures.ml_per_site,
        rate_ml_per_h_per_site=figures.rate_ml_per_h_per_site,
        duration_min=figures.duration_min,
        interval_days=figures.interval_days,
        vials=figures.vials,
        lines=lines,
    )


# --- entries ----------------------------------------------------------------------------------------------


def entries(session: Session, patient_id: int) -> list[SelfInfusion]:
    return list(
        session.execute(
            select(SelfInfusion)
            .where(SelfInfusion.patient_id == patient_id)
            .order_by(SelfInfusion.infused_at.desc(), SelfInfusion.id.desc())
        ).scalars()
    )


def current(rows: list[SelfInfusion]) -> list[SelfInfusion]:
    """Entries as they stand: an entry a later one corrects is left out (the correction stands for it)."""
    corrected = {r.amends_id for r in rows if r.amends_id}
    return [r for r in rows if r.id not in corrected]


def root_of(session: Session, row: SelfInfusion) -> int:
    while row.amends_id is not None:
        parent = session.get(SelfInfusion, row.amends_id)
        if parent is None:
            break
        row = parent
    return row.id


def open_task(
    session: Session, kind: str, queue: str, patient_id: int, title: str, detail: dict[str, Any]
) -> WorkTask:
    """A task in a work queue, due within a day (no commit)."""
    row = WorkTask(
        kind=kind,
        queue=queue,
        patient_id=patient_id,
        title=title[:200],
        detail=detail,
        due_from=utcnow(),
        due_by=utcnow() + dt.timedelta(days=1),
        status="open",
    )
    session.add(row)
    session.flush()
    return row


# --- what is due -------------------------------------------------------------------------------------


def due_next(
    session: Session, patient_id: int, active: Active | None
) -> tuple[dt.datetime | None, dt.date | None]:
    """(the last self-infusion, the day the next is due): the last one plus the plan's SC interval."""
    rows = current(entries(session, patient_id))
    last = rows[0].infused_at if rows else None
    interval = plan_reading.interval_days(active.plan) if active is not None else None
    if last is None or interval is None:
        return last, None
    return last, local_date(session, last) + dt.timedelta(days=interval)


def due_words(due: dt.date | None, last: dt.datetime | None, today: dt.date, active: Active | None) -> str:
    if active is None:
        return (
            "No subcutaneous plan is verified for you now: call your home-infusion nurse before you infuse."
        )
    if due is None:
        if last is None:
            return "Log your first self-infusion when you have done it, on the day your nurse agreed."
        return "The plan does not say how often: ask your nurse when the next one is due."
    if due < today:
        return f"Your next infusion was due on {due:%A %d %B}: do it today if you can, and log it."
    if due == today:
        return f"Your next infusion is due today, {due:%A %d %B}."
    return f"Your next infusion is due on {due:%A %d %B} ({(due - today).days} day(s) from today)."


# --- missed infusions ---------------------------------------------------------------------------------------


def sweep_missed(session: Session, on: dt.date | None = None, patient_ids: list[int] | None = None) -> int:
    """Open a nurse task for each self-infusing patient whose next infusion is more than the grace past due
    (once per due day); returns how many opened (commits)."""
    on = on or utcnow().astimezone(tz(session)).date()
    grace = int(rules().missed_grace_days.value or 0)
    query = select(SelfInfusion.patient_id).distinct()
    if patient_ids is not None:
        query = query.where(SelfInfusion.patient_id.in_(patient_ids))
    opened = 0
    for patient_id in sorted(session.execute(query).scalars()):
        active = active_order(session, patient_id)
        last, due = due_next(session, patient_id, active)
        if due is None or on <= due + dt.timedelta(days=grace):
            continue
        tasks = session.execute(
            select(WorkTask).where(WorkTask.kind == MISSED_TASK, WorkTask.patient_id == patient_id)
        ).scalars()
        if any((t.detail or {}).get("due_on") == due.isoformat() for t in tasks):
            continue
        assert active is not None and last is not None
        created = open_task(
            session,
            MISSED_TASK,
            "nurse",
            patient_id,
            f"Self-infusion missed: due {due.isoformat()}, none logged since "
            f"{local_date(session, last).isoformat()}",
            {
                "order_id": active.order.id,
                "due_on": due.isoformat(),
                "grace_days": grace,
                "href": f"/patients/{patient_id}#h-home-supply",
                "checklist": NURSE_CHECKLIST,
            },
        )
        audit.record(
            session,
            SYSTEM,
            "self_infusion.missed_task",
            "work_task",
            created.id,
            patient_id=patient_id,
            detail={"due_on": due.isoformat()},
        )
        opened += 1
    session.commit()
    return opened


def sweep(session: Session, on: dt.date | None = None) -> dict[str, int]:
    """The hourly home-supply sweep: missed self-infusions, and late or unshipped deliveries."""
    from igflow.home.service.delivery_queue import sweep_late

    return {"missed": sweep_missed(session, on), "late_deliveries": sweep_late(session, on)}
