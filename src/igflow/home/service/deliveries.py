"""Deliveries to a patient's home: plan (lots first-expiry-first-out), pack (the ledger moves the vials to
the home-infusion site with the patient's id), ship, delivered, received (by the nurse or the patient),
cancel; reads of a delivery, a patient's deliveries and the stock at their home.

Stock never goes negative: packing re-checks each lot (available, not expired on the day it is needed,
enough free vials at the pharmacy) and the ledger's CHECKs refuse the rest, both as a 409 naming the lot.
The cold chain (readings, excursions, release, waste) is in ``excursions``; the late and due lists in
``delivery_queue``. Every step writes an audit row with the patient's id; the service owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import Conflict, InvalidInput
from igflow.home import plan_reading
from igflow.home.delivery_schemas import (
    CancelIn,
    DeliveryIn,
    DeliveryOut,
    HomeStockOut,
    ReceiveIn,
    ShipIn,
    VersionIn,
)
from igflow.home.delivery_states import DELIVERY
from igflow.home.models import HomeDelivery, HomeDeliveryLine
from igflow.home.service import home_stock
from igflow.home.service._delivery_common import (
    close_late_tasks,
    home_site,
    is_patient,
    load,
    move,
    now,
    out,
    today,
)
from igflow.inventory.service import home as inventory_home
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Site

# --- plan -----------------------------------------------------------------------------------------------


def _pharmacy(session: Session, principal: Principal, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None or site.kind != "centre" or not site.active:
        raise InvalidInput(f"from_site_id: {site_id} is not an active pharmacy site", "from_site_id")
    scope.require_own_site(principal, site.id, "from_site_id")
    return site


def _verified_plan(session: Session, order_id: int) -> dict[str, Any]:
    verified = orders_service.current_verified_plan(session, order_id)
    if verified is None:
        raise Conflict(
            f"order_id: order {order_id} has no verified plan now; a pharmacist verifies it before its vials "
            "are sent",
            "order_id",
        )
    return dict(verified[0].plan)


def _order(session: Session, principal: Principal, order_id: int, patient_id: int) -> Order:
    order = scope.get(session, principal, Order, order_id, "order")
    if order.patient_id != patient_id:
        raise InvalidInput(f"order_id: order {order_id} is another patient's", "order_id")
    if order.status != "active":
        raise Conflict(f"order_id: order {order_id} is {order.status}", "order_id")
    return order


def _lines(
    session: Session, data: DeliveryIn, site_id: int, product: str | None, last_use: dt.date
) -> list[tuple[int, int]]:
    """The pharmacist's own lots, each checked (available, usable, free vials), of the plan's product."""
    assert data.lines is not None
    seen: set[int] = set()
    out_lines: list[tuple[int, int]] = []
    for k, line in enumerate(data.lines):
        if line.lot_id in seen:
            raise InvalidInput(f"lines.{k}.lot_id: lot {line.lot_id} is listed twice", f"lines.{k}.lot_id")
        seen.add(line.lot_id)
        lot = inventory_home.check_usable(session, line.lot_id, site_id, last_use, line.vials, f"lines.{k}")
        if product is not None and lot.product_id != product:
            raise InvalidInput(
                f"lines.{k}.lot_id: lot {lot.lot_number} is {lot.product_name}; the order is for another "
                "product",
                f"lines.{k}.lot_id",
            )
        out_lines.append((line.lot_id, line.vials))
    return out_lines


def plan(session: Session, principal: Principal, data: DeliveryIn) -> DeliveryOut:
    """A planned delivery for a home visit (``appointment_id``) or a self-infusion day (``needed_by``)."""
    patients_service.check_access(session, principal, data.patient_id)
    site = _pharmacy(session, principal, data.from_site_id)
    home_site(session, data.patient_id)  # refused early when there is no home-infusion site
    order_id, needed_by, vials, product = data.order_id, data.needed_by, None, None
    if data.appointment_id is not None:
        visit = inventory_home.visit_vials(session, principal, data.appointment_id)
        visit_site = session.get(Site, visit.site_id)
        if visit.patient_id != data.patient_id:
            raise InvalidInput("appointment_id: the visit is another patient's", "appointment_id")
        if visit_site is None or visit_site.kind != "home":
            raise InvalidInput(
                "appointment_id: the appointment is at a centre, whose pharmacy dispenses at the chair; a "
                "delivery goes to the patient's home for a home visit",
                "appointment_id",
            )
        if needed_by is not None and needed_by > visit.date:
            raise InvalidInput("needed_by: the vials must arrive before the visit", "needed_by")
        needed_by = needed_by or visit.date
        order_id = order_id or visit.order_id
        vials, product = visit.vials, visit.product_id
    if needed_by is None:
        raise InvalidInput("needed_by: the day the vials are needed (the self-infusion day)", "needed_by")
    if needed_by < today(session):
        raise InvalidInput(f"needed_by: {needed_by.isoformat()} has passed", "needed_by")
    interval = None
    if order_id is not None:
        order = _order(session, principal, order_id, data.patient_id)
        verified = _verified_plan(session, order.id)
        interval = plan_reading.interval_days(verified)
        if vials is None:
            product = str(verified.get("product") or order.product_id)
            vials = [
                (size, count * data.infusions) for size, count in plan_reading.vials_per_infusion(verified)
            ]
    last_use = needed_by + dt.timedelta(days=(interval or 0) * (data.infusions - 1))
    if data.lines is not None:
        lines = _lines(session, data, site.id, product, last_use)
    elif not vials or product is None:
        raise InvalidInput(
            "lines: name the order (its verified plan gives the vials) or choose the lots and vials", "lines"
        )
    else:
        lines = inventory_home.pick_fefo(session, site.id, product, vials, last_use)
    delivery = HomeDelivery(
        patient_id=data.patient_id,
        from_site_id=site.id,
        appointment_id=data.appointment_id,
        order_id=order_id,
        needed_by=needed_by,
        status="planned",
        supplies=data.supplies,
        created_by_user_id=principal.user_id,
    )
    delivery.lines = [HomeDeliveryLine(lot_id=lot_id, vials=count) for lot_id, count in lines]
    session.add(delivery)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "delivery.plan",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
        detail={
            "from_site_id": site.id,
            "needed_by": needed_by.isoformat(),
            "appointment_id": data.appointment_id,
            "order_id": order_id,
            "lines": [{"lot_id": lot, "vials": n} for lot, n in lines],
            "picked": "by hand" if data.lines is not None else "first-expiry-first-out",
        },
    )
    session.commit()
    return out(session, delivery)


def replan(
    session: Session, principal: Principal, wasted: HomeDelivery, needed_by: dt.date
) -> tuple[HomeDelivery | None, str]:
    """A planned replacement of a wasted delivery's vials (same products and sizes, lots picked afresh,
    first-expiry-first-out); (None, why) when the pharmacy cannot fill it now. No commit."""
    lots = inventory_home.lots(session, [line.lot_id for line in wasted.lines])
    wanted: dict[str, dict[float, int]] = {}
    for line in wasted.lines:
        lot = lots[line.lot_id]
        sizes = wanted.setdefault(lot.product_id, {})
        sizes[lot.vial_size_g] = sizes.get(lot.vial_size_g, 0) + line.vials
    picked: list[tuple[int, int]] = []
    try:
        for product, sizes in sorted(wanted.items()):
            picked += inventory_home.pick_fefo(
                session, wasted.from_site_id, product, sorted(sizes.items(), reverse=True), needed_by
            )
    except Conflict as exc:
        return None, f"no replacement planned: {exc.message.removeprefix('lines: ')}"
    replacement = HomeDelivery(
        patient_id=wasted.patient_id,
        from_site_id=wasted.from_site_id,
        appointment_id=wasted.appointment_id,
        order_id=wasted.order_id,
        needed_by=needed_by,
        status="planned",
        supplies=wasted.supplies,
        created_by_user_id=principal.user_id,
    )
    replacement.lines = [HomeDeliveryLine(lot_id=lot_id, vials=count) for lot_id, count in picked]
    session.add(replacement)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "delivery.plan",
        "home_delivery",
        replacement.id,
        patient_id=replacement.patient_id,
        detail={
            "replaces": wasted.id,
            "needed_by": needed_by.isoformat(),
            "picked": "first-expiry-first-out",
        },
    )
    return replacement, f"replacement delivery {replacement.id} planned for {needed_by.isoformat()}"


# --- the moves ------------------------------------------------------------------------------------------


def pack(session: Session, principal: Principal, delivery_id: int, data: VersionIn) -> DeliveryOut:
    """Planned -> packed: the vials leave the pharmacy for the patient's home in the ledger."""
    delivery = load(session, principal, delivery_id)
    DELIVERY.check(delivery.status, "packed", "status")
    scope.require_own_site(principal, delivery.from_site_id, "from_site_id")
    home = home_site(session, delivery.patient_id)
    move(session, principal, delivery, "packed", version=data.version, expected="planned", packed_at=now())
    for k, line in enumerate(delivery.lines):
        lot = inventory_home.check_usable(
            session, line.lot_id, delivery.from_site_id, delivery.needed_by, line.vials, f"lines.{k}"
        )
        inventory_home.to_home(
            session,
            principal,
            line.lot_id,
            delivery.from_site_id,
            home.id,
            line.vials,
            delivery.patient_id,
            f"delivery {delivery.id} to the patient's home",
            {"delivery_id": delivery.id},
        )
        home_stock.change(
            session, delivery.patient_id, line.lot_id, on_hand=line.vials, lot_number=lot.lot_number
        )
    session.commit()
    return out(session, delivery)


def ship(session: Session, principal: Principal, delivery_id: int, data: ShipIn) -> DeliveryOut:
    delivery = load(session, principal, delivery_id)
    move(
        session,
        principal,
        delivery,
        "shipped",
        version=data.version,
        expected="packed",
        detail={"carrier": data.carrier},
        carrier=data.carrier,
        carrier_reference=data.carrier_reference,
        shipped_at=now(),
    )
    session.commit()
    return out(session, delivery)


def delivered(session: Session, principal: Principal, delivery_id: int, data: VersionIn) -> DeliveryOut:
    """The courier says it was delivered (the nurse or the patient still confirms receipt)."""
    delivery = load(session, principal, delivery_id)
    move(
        session,
        principal,
        delivery,
        "delivered",
        version=data.version,
        expected="shipped",
        delivered_at=now(),
    )
    session.commit()
    return out(session, delivery)


def receive(session: Session, principal: Principal, delivery_id: int, data: ReceiveIn) -> DeliveryOut:
    """The nurse or the patient confirms it arrived. A shipped delivery is first marked delivered (the
    courier's scan may come later). A logger alarm seen at receipt makes it an excursion."""
    delivery = load(session, principal, delivery_id)
    if delivery.status == "excursion":
        raise Conflict(
            "status: the delivery is held after a temperature excursion; do not use its vials until a "
            "pharmacist releases or wastes them",
            "status",
        )
    DELIVERY.check("delivered" if delivery.status == "shipped" else delivery.status, "received", "status")
    version = data.version
    if delivery.status == "shipped":
        move(
            session, principal, delivery, "delivered", version=version, expected="shipped", delivered_at=now()
        )
        version = None
    by = "the patient" if is_patient(principal) else "the nurse"
    move(
        session,
        principal,
        delivery,
        "received",
        version=version,
        expected="delivered",
        detail={"by": by, "logger_alarm": data.logger_alarm},
        received_at=now(),
        received_by_user_id=principal.user_id,
    )
    close_late_tasks(session, delivery, principal.user_id, f"received by {by}")
    if data.logger_alarm:
        from igflow.home.service.excursions import open_excursion

        note = f"logger alarm seen at receipt by {by}" + (f": {data.note}" if data.note else "")
        open_excursion(session, principal, delivery, note, {"source": "receipt"})
    session.commit()
    return out(session, delivery)


def cancel(session: Session, principal: Principal, delivery_id: int, data: CancelIn) -> DeliveryOut:
    """Planned or packed -> cancelled; a packed delivery's vials go back to the pharmacy (reverse moves)."""
    delivery = load(session, principal, delivery_id)
    DELIVERY.check(delivery.status, "cancelled", "status")
    scope.require_own_site(principal, delivery.from_site_id, "from_site_id")
    before = move(
        session, principal, delivery, "cancelled", version=data.version, detail={"reason": data.reason}
    )
    if before == "packed":
        home = home_site(session, delivery.patient_id)
        lots = inventory_home.lots(session, [line.lot_id for line in delivery.lines])
        for line in delivery.lines:
            home_stock.change(
                session,
                delivery.patient_id,
                line.lot_id,
                on_hand=-line.vials,
                lot_number=lots[line.lot_id].lot_number,
            )
            inventory_home.back_from_home(
                session,
                principal,
                line.lot_id,
                home.id,
                delivery.from_site_id,
                line.vials,
                delivery.patient_id,
                f"delivery {delivery.id} cancelled: {data.reason}",
                {"delivery_id": delivery.id},
            )
    close_late_tasks(session, delivery, principal.user_id, f"cancelled: {data.reason}")
    session.commit()
    return out(session, delivery)


# --- reads ----------------------------------------------------------------------------------------------


def read(session: Session, principal: Principal, delivery_id: int) -> DeliveryOut:
    delivery = load(session, principal, delivery_id)
    audit.record(
        session,
        principal.actor,
        "delivery.read",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
    )
    session.commit()
    return out(session, delivery)


def for_patient(
    session: Session, principal: Principal, patient_id: int, limit: int = 50
) -> list[DeliveryOut]:
    """A patient's deliveries, newest first (the chart, and the patient's own page)."""
    patients_service.check_access(session, principal, patient_id)
    rows = list(
        session.execute(
            select(HomeDelivery)
            .where(HomeDelivery.patient_id == patient_id)
            .order_by(HomeDelivery.needed_by.desc(), HomeDelivery.id.desc())
            .limit(limit)
        ).scalars()
    )
    audit.record(
        session,
        principal.actor,
        "delivery.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"returned_ids": [d.id for d in rows]},
    )
    session.commit()
    return [out(session, d) for d in rows]


def listing(
    session: Session, principal: Principal, status: str | None = None, limit: int = 200
) -> list[DeliveryOut]:
    """Deliveries of the patients the principal may see, soonest needed first."""
    query = select(HomeDelivery).order_by(HomeDelivery.needed_by, HomeDelivery.id).limit(limit)
    if status is not None:
        query = query.where(HomeDelivery.status == status)
    rows = list(session.execute(scope.rows(query, principal, HomeDelivery)).scalars())
    audit.record(
        session,
        principal.actor,
        "delivery.list",
        "home_delivery",
        detail={"returned_ids": [d.id for d in rows]},
    )
    session.commit()
    return [out(session, d) for d in rows]


def stock_at_home(session: Session, principal: Principal, patient_id: int) -> list[HomeStockOut]:
    """The vials at the patient's home per lot, and how many are held after an excursion."""
    patients_service.check_access(session, principal, patient_id)
    stock = home_stock.rows(session, patient_id)
    lots = inventory_home.lots(session, [s.lot_id for s in stock])
    audit.record(session, principal.actor, "home_stock.read", "patient", patient_id, patient_id=patient_id)
    session.commit()
    return [
        HomeStockOut(
            lot_id=s.lot_id,
            lot_number=lots[s.lot_id].lot_number,
            product_id=lots[s.lot_id].product_id,
            product_name=lots[s.lot_id].product_name,
            vial_size_g=lots[s.lot_id].vial_size_g,
            on_hand=s.on_hand,
            held=s.held,
            effective_expiry=lots[s.lot_id].effective_expiry,
        )
        for s in stock
    ]


def home_orders(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Active orders given at home, of the patients the principal may see (the plan form's choices)."""
    query = (
        select(Order)
        .where(Order.status == "active", Order.setting == "home")
        .order_by(Order.patient_id, Order.id)
        .limit(500)
    )
    orders = list(session.execute(scope.rows(query, principal, Order)).scalars())
    names = patients_service.display_names(session, {o.patient_id for o in orders})
    audit.record(
        session,
        principal.actor,
        "delivery.home_orders",
        "ig_order",
        detail={"returned_ids": [o.id for o in orders]},
    )
    session.commit()
    return [
        {
            "order_id": o.id,
            "patient_id": o.patient_id,
            "name": names.get(o.patient_id, ""),
            "product": o.product_id,
        }
        for o in orders
    ]
