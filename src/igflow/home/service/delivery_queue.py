"""The pharmacist's delivery queue: what needs doing, most urgent first, each with what to do.

* **excursion**: vials held after a temperature excursion, waiting for release or waste;
* **late**: not received by the day it was needed (the visit's or the self-infusion's date);
* **not shipped**: still planned or packed when the shipping lead time (``home_supply.yaml``
  ``deliveries.shipping_lead_days``, an operational default) has run out;
* **no delivery**: a booked home visit in the horizon with no delivery planned for it;
* **due**: the rest needed within the horizon (``deliveries.due_horizon_days``).

The list is computed on every read. The hourly sweep (:func:`sweep_late`, run by the worker with the
missed-infusion sweep) also opens one pharmacist task per late or unshipped delivery, so it shows in the work
queue; receiving or cancelling the delivery closes it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.home.delivery_schemas import QueueItemOut, QueueKind
from igflow.home.delivery_states import DELIVERY, OPEN
from igflow.home.models import HomeDelivery
from igflow.home.service._delivery_common import (
    LATE_TASK,
    PHARMACIST_QUEUE,
    excursion_task,
    now,
    tasks_of,
    today,
)
from igflow.infusions.models import WorkTask
from igflow.security import audit, scope
from igflow.security.audit import SYSTEM
from igflow.security.principal import Principal
from igflow.sites.models import Site

_ORDER = {"excursion": 0, "late": 1, "not_shipped": 2, "no_delivery": 3, "due": 4}


def _settings() -> tuple[int, int]:
    deliveries = load_catalog().home_supply.deliveries
    return int(deliveries.shipping_lead_days.value or 0), int(deliveries.due_horizon_days.value or 0)


def lead_days() -> int:
    """The shipping lead time (days before a delivery is needed that it must have shipped)."""
    return _settings()[0]


def classify(delivery: HomeDelivery, on: dt.date, lead_days: int) -> tuple[QueueKind, str, str] | None:
    """(kind, what is wrong, what to do) for an open delivery, or None when it needs nothing yet (pure)."""
    status = DELIVERY.label(delivery.status)
    where = f" ({delivery.carrier} {delivery.carrier_reference})" if delivery.carrier_reference else ""
    if delivery.needed_by < on:
        return (
            "late",
            f"needed on {delivery.needed_by.isoformat()} and still {status}{where}",
            "Call the courier and the patient; if it will not arrive in time, plan a replacement from the "
            "nearest pharmacy or ask the scheduler to move the visit",
        )
    ship_by = delivery.needed_by - dt.timedelta(days=lead_days)
    if delivery.status in ("planned", "packed") and on >= ship_by:
        return (
            "not_shipped",
            f"needed on {delivery.needed_by.isoformat()}, should have shipped by {ship_by.isoformat()} "
            f"({lead_days} day(s) before), and is still {status}",
            "Pack and ship it today by express courier, or move the visit or self-infusion day with the "
            "patient",
        )
    return (
        "due",
        f"needed on {delivery.needed_by.isoformat()}; {status}{where}",
        {
            "planned": f"Pack and ship by {ship_by.isoformat()}",
            "packed": f"Ship by {ship_by.isoformat()}",
            "shipped": "Record the courier's delivery and the logger's readings",
            "delivered": "The nurse or the patient confirms receipt",
        }.get(delivery.status, ""),
    )


def queue(session: Session, principal: Principal, on: dt.date | None = None) -> list[QueueItemOut]:
    on = on or today(session)
    lead, horizon = _settings()
    until = on + dt.timedelta(days=horizon)
    items: list[QueueItemOut] = []
    query = select(HomeDelivery).where(
        (HomeDelivery.status == "excursion")
        | (HomeDelivery.status.in_(sorted(OPEN)) & (HomeDelivery.needed_by <= until))
    )
    deliveries = list(session.execute(scope.rows(query, principal, HomeDelivery)).scalars())
    for delivery in deliveries:
        if delivery.status == "excursion":
            task = excursion_task(session, delivery)
            if task is None:
                continue
            items.append(
                QueueItemOut(
                    kind="excursion",
                    delivery_id=delivery.id,
                    patient_id=delivery.patient_id,
                    appointment_id=delivery.appointment_id,
                    needed_by=delivery.needed_by,
                    status=delivery.status,
                    words=task.title,
                    todo=str((task.detail or {}).get("todo", "")),
                )
            )
            continue
        found = classify(delivery, on, lead)
        if found is not None:
            kind, words, todo = found
            items.append(
                QueueItemOut(
                    kind=kind,
                    delivery_id=delivery.id,
                    patient_id=delivery.patient_id,
                    appointment_id=delivery.appointment_id,
                    needed_by=delivery.needed_by,
                    status=delivery.status,
                    words=words,
                    todo=todo,
                )
            )
    items += _visits_without_delivery(session, principal, on, until)
    items.sort(key=lambda i: (_ORDER[i.kind], i.needed_by, i.delivery_id or 0))
    audit.record(
        session,
        principal.actor,
        "delivery.queue",
        "home_delivery",
        detail={
            "returned_ids": [i.delivery_id for i in items if i.delivery_id],
            "appointment_ids": [i.appointment_id for i in items if i.kind == "no_delivery"],
        },
    )
    session.commit()
    return items


def _visits_without_delivery(
    session: Session, principal: Principal, on: dt.date, until: dt.date
) -> list[QueueItemOut]:
    home_ids = list(session.execute(select(Site.id).where(Site.kind == "home")).scalars())
    if not home_ids:
        return []
    covered = select(HomeDelivery.appointment_id).where(
        HomeDelivery.appointment_id.is_not(None), HomeDelivery.status != "cancelled"
    )
    query = select(Appointment).where(
        Appointment.site_id.in_(home_ids),
        Appointment.status == "booked",
        Appointment.date >= on,
        Appointment.date <= until,
        Appointment.id.not_in(covered),
    )
    query = scope.by_patient(query, principal, Appointment.patient_id)
    return [
        QueueItemOut(
            kind="no_delivery",
            delivery_id=None,
            patient_id=appt.patient_id,
            appointment_id=appt.id,
            needed_by=appt.date,
            status=None,
            words=f"home visit on {appt.date.isoformat()} with no delivery planned",
            todo="Plan a delivery for the visit (its plan gives the vials)",
        )
        for appt in session.execute(query.order_by(Appointment.date, Appointment.id)).scalars()
    ]


def sweep_late(session: Session, on: dt.date | None = None) -> int:
    """Open one pharmacist task per late or unshipped delivery without one yet (commits); returns how many."""
    on = on or today(session)
    lead, _ = _settings()
    candidates = session.execute(
        select(HomeDelivery).where(
            HomeDelivery.status.in_(sorted(OPEN)),
            HomeDelivery.needed_by <= on + dt.timedelta(days=lead),
        )
    ).scalars()
    opened = 0
    for delivery in list(candidates):
        found = classify(delivery, on, lead)
        if found is None or found[0] == "due" or tasks_of(session, delivery, LATE_TASK):
            continue
        kind, words, todo = found
        task = WorkTask(
            kind=LATE_TASK,
            queue=PHARMACIST_QUEUE,
            patient_id=delivery.patient_id,
            title=f"Delivery {delivery.id} {'late' if kind == 'late' else 'not shipped in time'}: {words}"[
                :200
            ],
            detail={
                "delivery_id": delivery.id,
                "href": f"/deliveries/{delivery.id}",
                "todo": todo,
                "kind": kind,
            },
            due_from=now(),
            due_by=dt.datetime.combine(delivery.needed_by, dt.time(), tzinfo=dt.UTC),
            status="open",
        )
        session.add(task)
        session.flush()
        audit.record(
            session,
            SYSTEM,
            "delivery.late_task",
            "work_task",
            task.id,
            patient_id=delivery.patient_id,
            detail={"delivery_id": delivery.id, "kind": kind},
        )
        opened += 1
    session.commit()
    return opened
