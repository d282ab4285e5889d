"""Shared by the delivery use cases: loading a delivery within scope, the one status move (state machine,
compare-and-set on the version read, audit row), the home-infusion site of a patient, the delivery's tasks,
the site-local day, and the API shape of a delivery."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.home import cold_chain
from igflow.home.delivery_schemas import DeliveryLineOut, DeliveryOut, HeldOut, ReadingOut, StorageOut
from igflow.home.delivery_states import DELIVERY
from igflow.home.models import DeliveryTemperature, HomeDelivery
from igflow.infusions.models import WorkTask
from igflow.inventory.service import home as inventory_home
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.audit import Actor
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.models import Site

EXCURSION_TASK = "delivery_excursion"
LATE_TASK = "delivery_late"
PHARMACIST_QUEUE = "pharmacist"


def now() -> dt.datetime:
    return utcnow()


def today(session: Session) -> dt.date:
    """The organisation's local date (a delivery's ``needed_by`` is a site-local date)."""
    organisation = sites_service.get_organisation(session)
    tz = ZoneInfo(organisation.timezone if organisation else "UTC")
    return utcnow().astimezone(tz).date()


def is_patient(principal: Principal) -> bool:
    """A patient acting on their own record (not staff who may read patients)."""
    return principal.can(Perm.PATIENT_SELF) and not principal.can(Perm.PATIENT_READ)


def load(session: Session, principal: Principal, delivery_id: int) -> HomeDelivery:
    """The delivery, or 404 when missing, of a patient at other sites, or (a patient) not theirs."""
    delivery = scope.get(session, principal, HomeDelivery, delivery_id, "delivery")
    if is_patient(principal):
        if delivery.patient_id != principal.patient_id:
            raise NotFound(f"delivery {delivery_id} not found")
        return delivery
    try:
        patients_service.check_access(session, principal, delivery.patient_id)
    except NotFound:
        raise NotFound(f"delivery {delivery_id} not found") from None
    return delivery


def home_site(session: Session, patient_id: int) -> Site:
    """The home-infusion site whose ledger holds this patient's home: one of the patient's own sites of kind
    ``home``, else the organisation's first active one."""
    own = [session.get(Site, s) for s in patients_service.patient_site_ids(session, patient_id)]
    for site in sorted((s for s in own if s is not None), key=lambda s: s.id):
        if site.kind == "home" and site.active:
            return site
    first = session.execute(
        select(Site).where(Site.kind == "home", Site.active.is_(True)).order_by(Site.id).limit(1)
    ).scalar_one_or_none()
    if first is None:
        raise InvalidInput(
            "patient_id: there is no home-infusion site to hold stock at patients' homes; an administrator "
            "adds one (a site of kind 'home') on the Sites page",
            "patient_id",
        )
    return first


def move(
    session: Session,
    principal: Principal,
    delivery: HomeDelivery,
    to: str,
    *,
    version: int | None = None,
    expected: str | tuple[str, ...] | None = None,
    detail: dict[str, Any] | None = None,
    actor: Actor | None = None,
    **values: Any,
) -> str:
    """Move the delivery (409 when the table does not allow it, when the caller's ``version`` is not the
    delivery's, or when it changed meanwhile), with an audit row; returns the status it came from."""
    if version is not None and version != delivery.version:
        raise Conflict(
            f"version: the delivery changed meanwhile (version {delivery.version} now, {version} read); "
            "reload and try again",
            "version",
        )
    read = delivery.version
    before = DELIVERY.move(
        session,
        delivery,
        to,
        expected=expected,
        field_name="status",
        guards=[HomeDelivery.version == read],
        version=read + 1,
        **values,
    )
    audit.record(
        session,
        actor or principal.actor,
        f"delivery.{to}",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
        detail={"from": before, **(detail or {})},
    )
    return before


def tasks_of(session: Session, delivery: HomeDelivery, kind: str) -> list[WorkTask]:
    rows = session.execute(
        select(WorkTask)
        .where(WorkTask.kind == kind, WorkTask.patient_id == delivery.patient_id)
        .order_by(WorkTask.id)
    ).scalars()
    return [t for t in rows if (t.detail or {}).get("delivery_id") == delivery.id]


def excursion_task(session: Session, delivery: HomeDelivery) -> WorkTask | None:
    """The latest excursion task of the delivery when its hold waits for the pharmacist (else None)."""
    if delivery.status != "excursion":
        return None
    found = tasks_of(session, delivery, EXCURSION_TASK)
    if not found or "resolution" in (found[-1].outcome or {}):
        return None
    return found[-1]


def close_task(session: Session, task: WorkTask, user_id: int | None, outcome: dict[str, Any]) -> None:
    """Mark the task done with ``outcome`` (a task already closed from the work queue keeps its closing and
    gains the outcome)."""
    from igflow.infusions.service import TASK  # the work queue's own machine

    if task.status == "open":
        TASK.move(session, task, "done", outcome=outcome, completed_by_user_id=user_id, completed_at=now())
    else:
        task.outcome = {**(task.outcome or {}), **outcome}


def close_late_tasks(session: Session, delivery: HomeDelivery, user_id: int | None, why: str) -> None:
    for task in tasks_of(session, delivery, LATE_TASK):
        if task.status == "open":
            close_task(session, task, user_id, {"note": why})


def readings_of(session: Session, delivery_id: int) -> list[DeliveryTemperature]:
    return list(
        session.execute(
            select(DeliveryTemperature)
            .where(DeliveryTemperature.delivery_id == delivery_id)
            .order_by(DeliveryTemperature.at, DeliveryTemperature.id)
        ).scalars()
    )


def ranges_of(product_ids: list[str]) -> dict[str, Any]:
    products = load_catalog().products
    return {p: products[p].storage_range_c.value if p in products else None for p in product_ids}


def out(session: Session, delivery: HomeDelivery) -> DeliveryOut:
    lots = inventory_home.lots(session, [line.lot_id for line in delivery.lines])
    products = sorted({lots[line.lot_id].product_id for line in delivery.lines if line.lot_id in lots})
    catalog = load_catalog().products
    ranges = ranges_of(products)
    freezing = float(load_catalog().home_supply.cold_chain.freezing_c.value or 0)
    stored = readings_of(session, delivery.id)
    judged = cold_chain.judge(
        [cold_chain.Reading(r.at, r.celsius) for r in stored], ranges, freezing
    ).out_of_range
    whys: dict[tuple[dt.datetime, float], str] = {}
    for item in judged:
        key = (item.reading.at, item.reading.celsius)
        names = ", ".join(catalog[p].name for p in item.product_ids if p in catalog)
        whys[key] = "; ".join(filter(None, [whys.get(key), f"{item.why} ({names})"]))
    task = excursion_task(session, delivery)
    held = [HeldOut(**h) for h in (task.detail or {}).get("held", [])] if task is not None else []
    site = session.get(Site, delivery.from_site_id)
    return DeliveryOut(
        id=delivery.id,
        patient_id=delivery.patient_id,
        from_site_id=delivery.from_site_id,
        from_site_name=site.name if site is not None else "",
        appointment_id=delivery.appointment_id,
        order_id=delivery.order_id,
        needed_by=delivery.needed_by,
        status=delivery.status,
        status_words=DELIVERY.label(delivery.status),
        carrier=delivery.carrier,
        carrier_reference=delivery.carrier_reference,
        supplies=delivery.supplies,
        packed_at=delivery.packed_at,
        shipped_at=delivery.shipped_at,
        delivered_at=delivery.delivered_at,
        received_at=delivery.received_at,
        received_by_user_id=delivery.received_by_user_id,
        excursion=delivery.excursion,
        excursion_note=delivery.excursion_note,
        version=delivery.version,
        lines=[
            DeliveryLineOut(
                lot_id=line.lot_id,
                lot_number=lots[line.lot_id].lot_number if line.lot_id in lots else "",
                product_id=lots[line.lot_id].product_id if line.lot_id in lots else "",
                product_name=lots[line.lot_id].product_name if line.lot_id in lots else "",
                vial_size_g=lots[line.lot_id].vial_size_g if line.lot_id in lots else 0,
                vials=line.vials,
                effective_expiry=lots[line.lot_id].effective_expiry if line.lot_id in lots else None,
            )
            for line in delivery.lines
        ],
        readings=[
            ReadingOut(at=r.at, celsius=r.celsius, out_of_range=whys.get((r.at, r.celsius))) for r in stored
        ],
        storage=[
            StorageOut(
                product_id=p,
                product_name=catalog[p].name if p in catalog else p,
                range_words=cold_chain.range_words(ranges[p]),
                known=ranges[p] is not None,
                source=catalog[p].storage_range_c.source if p in catalog else None,
                note=catalog[p].storage_range_c.note if p in catalog else None,
            )
            for p in products
        ],
        next_statuses=sorted(DELIVERY.allowed(delivery.status)),
        excursion_open=task is not None,
        held=held,
        task_id=task.id if task is not None else None,
    )
