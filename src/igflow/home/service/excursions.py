"""The cold chain of a delivery: the temperature logger's readings, excursions, and the pharmacist's
decision on the vials.

A reading outside a product's storage range (catalog ``storage_range_c``, with the freezing limit of
``home_supply.yaml`` for every product), the courier's excursion flag, or a logger alarm seen at receipt
makes the delivery an **excursion**: the delivered vials still at the patient's home are held
(``home_stock.held``, so the patient's log and the nurse see them as not to be used), the lots are named,
and a pharmacist task opens. When a product's range is not in the catalog the readings cannot be judged by
igflow: the pharmacist says whether they are within the label's storage or an excursion, with a note.

The pharmacist then **releases** the hold (with the reason, e.g. the label's room-temperature allowance),
which takes the delivery back to where it was, or **wastes** the held vials (a waste move at the
home-infusion site, reason ``temperature_excursion``) and a replacement delivery is planned. Every step is
audited with the patient's id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.errors import Conflict, InvalidInput
from igflow.home import cold_chain
from igflow.home.delivery_schemas import DeliveryOut, ExcursionIn, ReadingsIn, ReleaseIn, WasteIn
from igflow.home.models import DeliveryTemperature, HomeDelivery
from igflow.home.service import home_stock
from igflow.home.service._delivery_common import (
    EXCURSION_TASK,
    PHARMACIST_QUEUE,
    close_task,
    excursion_task,
    home_site,
    load,
    move,
    now,
    out,
    ranges_of,
    readings_of,
    today,
)
from igflow.infusions.models import WorkTask
from igflow.inventory.service import home as inventory_home
from igflow.security import audit
from igflow.security.principal import Principal

#: Statuses in which the vials are on their way or at home (where an excursion can happen).
_IN_TRANSIT_OR_HOME = ("shipped", "delivered", "received")
_TODO = (
    "Release the hold with the reason (for example the label's room-temperature allowance), or waste the "
    "held vials and plan a replacement, on the delivery's page"
)


def _utc(at: dt.datetime, tz: ZoneInfo | None = None) -> dt.datetime:
    """An aware UTC time; a time without a zone is the organisation's local time (``tz``), as loggers and
    people write it."""
    return (at.replace(tzinfo=tz or dt.UTC) if at.tzinfo is None else at).astimezone(dt.UTC)


def _zone(session: Session) -> ZoneInfo:
    from igflow.sites import service as sites_service

    organisation = sites_service.get_organisation(session)
    return ZoneInfo(organisation.timezone if organisation else "UTC")


def open_excursion(
    session: Session, principal: Principal, delivery: HomeDelivery, note: str, detail: dict[str, Any]
) -> WorkTask:
    """Shipped, delivered or received -> excursion: hold the delivered vials still at the patient's home and
    open the pharmacist's task (no commit)."""
    stamp = now().strftime("%Y-%m-%d %H:%M UTC")
    notes = "\n".join(filter(None, [delivery.excursion_note, f"{stamp}: {note}"]))
    before = move(
        session,
        principal,
        delivery,
        "excursion",
        expected=_IN_TRANSIT_OR_HOME,
        detail={"note": note, **detail},
        excursion=True,
        excursion_note=notes[-4000:],
    )
    lots = inventory_home.lots(session, [line.lot_id for line in delivery.lines])
    held: list[dict[str, Any]] = []
    for line in delivery.lines:
        row = home_stock.of(session, delivery.patient_id, line.lot_id)
        free = 0 if row is None else row.on_hand - row.held
        count = min(line.vials, max(free, 0))
        if count:
            home_stock.change(
                session, delivery.patient_id, line.lot_id, held=count, lot_number=lots[line.lot_id].lot_number
            )
        held.append({"lot_id": line.lot_id, "lot_number": lots[line.lot_id].lot_number, "vials": count})
    total = sum(h["vials"] for h in held)
    names = ", ".join(f"{h['lot_number']} ({h['vials']})" for h in held)
    task = WorkTask(
        kind=EXCURSION_TASK,
        queue=PHARMACIST_QUEUE,
        patient_id=delivery.patient_id,
        title=f"Temperature excursion, delivery {delivery.id}: {total} vial(s) held at home, lots {names}"[
            :200
        ],
        detail={
            "delivery_id": delivery.id,
            "href": f"/deliveries/{delivery.id}",
            "previous_status": before,
            "held": held,
            "note": note,
            "todo": _TODO,
        },
        due_from=now(),
        due_by=dt.datetime.combine(delivery.needed_by, dt.time(), tzinfo=dt.UTC),
        status="open",
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "delivery.hold",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
        detail={"held": held, "task_id": task.id},
    )
    return task


def _judge(
    delivery: HomeDelivery, readings: list[cold_chain.Reading], products: list[str], data: ReadingsIn
) -> tuple[bool, str]:
    """Whether the new readings make an excursion, and the note saying why (in words, with the lots)."""
    catalog = load_catalog()
    freezing = float(catalog.home_supply.cold_chain.freezing_c.value or 0)
    judged = cold_chain.judge(readings, ranges_of(products), freezing)
    names = {p: catalog.products[p].name if p in catalog.products else p for p in products}
    reasons: list[str] = []
    if judged.unknown_products and readings:
        unknown = ", ".join(names[p] for p in judged.unknown_products)
        if data.judgement is None:
            raise InvalidInput(
                f"judgement: the catalog holds no storage range for {unknown} (not found in the label "
                "excerpts read); judge the readings yourself: within the label's storage, or an excursion, "
                "with a note",
                "judgement",
            )
        if len(data.note.strip()) < 3:
            raise InvalidInput("note: say what the judgement of the readings rests on", "note")
        if data.judgement == "excursion":
            reasons.append(f"the pharmacist judged the readings an excursion for {unknown}: {data.note}")
    for item in judged.out_of_range[:5]:
        products_named = ", ".join(names[p] for p in item.product_ids)
        reasons.append(
            f"{item.reading.celsius:g} °C at {item.reading.at:%Y-%m-%d %H:%M} UTC, {item.why} "
            f"({products_named})"
        )
    if len(judged.out_of_range) > 5:
        reasons.append(f"and {len(judged.out_of_range) - 5} more reading(s) out of range")
    if data.courier_excursion:
        reasons.append("the courier flagged an excursion" + (f": {data.note}" if data.note else ""))
    return bool(reasons), "; ".join(reasons)


def record_readings(
    session: Session, principal: Principal, delivery_id: int, data: ReadingsIn
) -> DeliveryOut:
    """Append the logger's readings (a reading already stored is not stored twice) and judge them."""
    delivery = load(session, principal, delivery_id)
    if delivery.status not in (*_IN_TRANSIT_OR_HOME, "excursion"):
        raise Conflict(
            f"status: the delivery is {delivery.status}; logger readings come with a shipped delivery",
            "status",
        )
    stored = {(_utc(r.at), r.celsius) for r in readings_of(session, delivery.id)}
    local = _zone(session)
    new = [
        cold_chain.Reading(_utc(r.at, local), r.celsius)
        for r in data.readings
        if (_utc(r.at, local), r.celsius) not in stored
    ]
    new = list({(r.at, r.celsius): r for r in new}.values())
    lots = inventory_home.lots(session, [line.lot_id for line in delivery.lines])
    products = sorted({lot.product_id for lot in lots.values()})
    excursion, why = _judge(delivery, new, products, data)
    for reading in new:
        session.add(DeliveryTemperature(delivery_id=delivery.id, at=reading.at, celsius=reading.celsius))
    session.flush()
    audit.record(
        session,
        principal.actor,
        "delivery.readings",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
        detail={
            "added": len(new),
            "courier_excursion": data.courier_excursion,
            "judgement": data.judgement,
            "note": data.note,
            "excursion": excursion,
        },
    )
    if excursion and delivery.status in _IN_TRANSIT_OR_HOME:
        open_excursion(session, principal, delivery, why, {"source": "readings"})
    session.commit()
    return out(session, delivery)


def flag_excursion(
    session: Session, principal: Principal, delivery_id: int, data: ExcursionIn
) -> DeliveryOut:
    """The courier's (or anyone's) excursion report without readings."""
    delivery = load(session, principal, delivery_id)
    open_excursion(session, principal, delivery, data.note, {"source": "reported"})
    session.commit()
    return out(session, delivery)


def _held_task(session: Session, delivery: HomeDelivery) -> WorkTask:
    task = excursion_task(session, delivery)
    if task is None:
        raise Conflict(
            f"status: the delivery is {delivery.status}, with no vials held for a decision", "status"
        )
    return task


def release(session: Session, principal: Principal, delivery_id: int, data: ReleaseIn) -> DeliveryOut:
    """Lift the hold: the vials may be used; the delivery goes back to where it was."""
    delivery = load(session, principal, delivery_id)
    task = _held_task(session, delivery)
    detail = task.detail or {}
    back = str(detail.get("previous_status") or "received")
    for held in detail.get("held", []):
        home_stock.change(
            session,
            delivery.patient_id,
            int(held["lot_id"]),
            held=-int(held["vials"]),
            lot_number=held["lot_number"],
        )
    stamp = now().strftime("%Y-%m-%d %H:%M UTC")
    notes = f"{delivery.excursion_note}\n{stamp}: released by {principal.display_name}: {data.reason}"
    move(
        session,
        principal,
        delivery,
        back,
        expected="excursion",
        detail={"resolution": "released", "reason": data.reason},
        excursion_note=notes.strip()[-4000:],
    )
    close_task(session, task, principal.user_id, {"resolution": "released", "note": data.reason})
    session.commit()
    return out(session, delivery)


def waste(session: Session, principal: Principal, delivery_id: int, data: WasteIn) -> DeliveryOut:
    """Waste the held vials at the patient's home (the ledger's waste move, reason temperature_excursion),
    and plan a replacement delivery of the same vials unless asked not to."""
    from igflow.home.service.deliveries import replan

    delivery = load(session, principal, delivery_id)
    task = _held_task(session, delivery)
    home = home_site(session, delivery.patient_id)
    held = (task.detail or {}).get("held", [])
    for item in held:
        count = int(item["vials"])
        if not count:
            continue
        home_stock.change(
            session,
            delivery.patient_id,
            int(item["lot_id"]),
            on_hand=-count,
            held=-count,
            lot_number=item["lot_number"],
        )
        inventory_home.used_at_home(
            session,
            principal,
            int(item["lot_id"]),
            home.id,
            count,
            delivery.patient_id,
            kind="waste",
            waste_reason="temperature_excursion",
            reason=f"delivery {delivery.id}: {data.reason}",
            detail={"delivery_id": delivery.id},
        )
    replacement, replacement_note = None, ""
    if data.replan:
        needed_by = max(data.needed_by or delivery.needed_by, today(session))
        replacement, replacement_note = replan(session, principal, delivery, needed_by)
    stamp = now().strftime("%Y-%m-%d %H:%M UTC")
    delivery.excursion_note = (
        f"{delivery.excursion_note}\n{stamp}: wasted by {principal.display_name}: {data.reason}"
        + (f"; {replacement_note}" if replacement_note else "")
    ).strip()[-4000:]
    session.flush()
    outcome = {
        "resolution": "wasted",
        "note": data.reason,
        "replacement_id": replacement.id if replacement is not None else None,
    }
    close_task(session, task, principal.user_id, outcome)
    audit.record(
        session,
        principal.actor,
        "delivery.waste",
        "home_delivery",
        delivery.id,
        patient_id=delivery.patient_id,
        detail={"held": held, "reason": data.reason, **outcome, "replacement_note": replacement_note},
    )
    session.commit()
    result = out(session, delivery)
    result.replacement_id = replacement.id if replacement is not None else None
    result.replacement_note = replacement_note
    return result
