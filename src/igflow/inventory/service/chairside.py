"""At the chair: check a scanned vial (GS1) against the appointment's verified plan, with hard stops that
are audited, and dispense vials of a lot for the appointment (idempotent by ``client_id``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.errors import Conflict, InvalidInput
from igflow.inventory import core, gs1
from igflow.inventory.models import InventoryLot, StockAllocation, StockBalance
from igflow.inventory.schemas import MoveOut, ScanCheckOut
from igflow.inventory.service._common import (
    _appointment,
    _lot,
    _plan_of,
    _product,
    effective_expiry_of,
    lot_number_is,
    move_out,
)
from igflow.inventory.service.ledger import _existing, _MoveSpec, _same_request, _write_move
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites.models import Site


def _require_usable(lot: InventoryLot, on_date: dt.date, field: str = "lot_id") -> None:
    if lot.status != "available":
        raise Conflict(f"{field}: lot {lot.lot_number} is {lot.status}: do not use it", field)
    expiry = effective_expiry_of(lot)
    if expiry < on_date:
        raise Conflict(
            f"{field}: lot {lot.lot_number} expires {expiry.isoformat()}, before {on_date.isoformat()}", field
        )


def _hard_stop(
    session: Session, principal: Principal, appt: Appointment, code: str, message: str
) -> InvalidInput:
    audit.record(
        session,
        principal.actor,
        "inventory.scan_check",
        "appointment",
        appt.id,
        patient_id=appt.patient_id,
        outcome="refused",
        detail={"code": code},
    )
    session.commit()
    return InvalidInput(f"scan: {message}", "scan")


#: a scan problem as the chair reads it, where the general words would send the nurse to a form there is not
_CHAIR_WORDS = {
    "unreadable_scan": "That is not a GS1 code this page can read: scan the vial's 2D barcode (DataMatrix) "
    "again; if it still cannot be read, set the vial aside and tell the pharmacy",
}


def scan_check(session: Session, principal: Principal, appointment_id: int, scan_text: str) -> ScanCheckOut:
    """Check a scanned vial against the appointment's verified plan; a hard stop raises ``InvalidInput``."""
    appt = _appointment(session, principal, appointment_id)
    try:
        scan = gs1.parse_scan(scan_text)
    except gs1.ScanError as exc:
        message = _CHAIR_WORDS.get(exc.code, exc.message)
        raise _hard_stop(session, principal, appt, exc.code, message) from None
    plan = _plan_of(session, appt)
    same = list(
        session.execute(
            select(InventoryLot).where(InventoryLot.gtin == scan.gtin, lot_number_is(scan.lot)).limit(2)
        ).scalars()
    )
    lot = same[0] if len(same) == 1 else None  # two spellings of one lot: ambiguous, treated as unknown
    plan_gtins = set(
        session.execute(select(InventoryLot.gtin).where(InventoryLot.product_id == plan.product)).scalars()
    )
    record = None
    if lot is not None:
        record = core.LotRecord(
            lot_number=lot.lot_number,
            gtin=lot.gtin,
            label_expiry=lot.label_expiry,
            effective_expiry=effective_expiry_of(lot),
            status="active" if lot.status == "available" else lot.status,  # type: ignore[arg-type]
        )
    known_gtin = lot is not None or (
        session.execute(select(InventoryLot.id).where(InventoryLot.gtin == scan.gtin).limit(1)).first()
        is not None
    )
    if not known_gtin:
        raise _hard_stop(
            session,
            principal,
            appt,
            "lot_unknown",
            f"product code {scan.gtin} lot {scan.lot} is not in the pharmacy's stock records: "
            "set the vial aside and tell the pharmacy",
        )
    check = core.check_scanned_vial(scan.gtin, scan.lot, scan.expiry, plan_gtins, record, appt.date)
    if (
        lot is not None
        and lot.product_id != plan.product
        and all(c != "wrong_product" for c, _ in check.problems)
    ):
        check = core.VialCheck(
            False, (("wrong_product", "the vial is not the planned product"), *check.problems)
        )
    if not check.usable:
        code, message = check.problems[0]
        if code == "wrong_product" and lot is not None:
            planned = _product(plan.product).name if plan.product in load_catalog().products else plan.product
            message = (
                f"wrong product: this vial is {_product(lot.product_id).name}, the verified plan is "
                f"{planned}. Do not use it."
            )
        raise _hard_stop(session, principal, appt, code, message)
    assert lot is not None
    balance = session.execute(
        select(StockBalance).where(StockBalance.lot_id == lot.id, StockBalance.site_id == appt.site_id)
    ).scalar_one_or_none()
    if balance is None or balance.on_hand <= 0:
        site = session.get(Site, appt.site_id)
        raise _hard_stop(
            session,
            principal,
            appt,
            "lot_not_at_site",
            f"lot {lot.lot_number} has no stock recorded at {site.name if site else 'this site'}: "
            "set the vial aside and tell the pharmacy",
        )
    own = session.execute(
        select(StockAllocation.count).where(
            StockAllocation.lot_id == lot.id,
            StockAllocation.site_id == appt.site_id,
            StockAllocation.appointment_id == appt.id,
        )
    ).scalar_one_or_none()
    sizes = {size for size, _count in plan.vials}
    in_plan = lot.vial_size_g in sizes
    audit.record(
        session,
        principal.actor,
        "inventory.scan_check",
        "appointment",
        appt.id,
        patient_id=appt.patient_id,
        detail={"lot_id": lot.id},
    )
    session.commit()
    return ScanCheckOut(
        lot_id=lot.id,
        product_id=lot.product_id,
        product_name=_product(lot.product_id).name,
        lot_number=lot.lot_number,
        gtin=lot.gtin,
        vial_size_g=lot.vial_size_g,
        label_expiry=lot.label_expiry,
        effective_expiry=effective_expiry_of(lot),
        serial=scan.serial,
        on_hand_at_site=balance.on_hand,
        allocated_to_appointment=int(own or 0),
        in_plan=in_plan,
        message="matches the verified plan"
        if in_plan
        else f"right product, but the plan uses {', '.join(f'{s:g}' for s in sorted(sizes))} g vials",
    )


def dispense(
    session: Session,
    principal: Principal,
    appointment_id: int,
    lot_id: int,
    count: int,
    *,
    client_id: str | None = None,
) -> MoveOut:
    """Vials of a lot dispensed for an appointment at its site (its own allocation is consumed first).

    Idempotent by ``client_id``: a retried submission returns the move stored the first time.
    """
    if isinstance(count, bool) or count <= 0:
        raise InvalidInput("count: dispense a whole number of vials above zero", "count")
    if client_id is not None and not 1 <= len(client_id) <= 64:
        raise InvalidInput("client_id: 1 to 64 characters", "client_id")
    appt = _appointment(session, principal, appointment_id)
    found = _existing(session, client_id)
    if found is not None:
        return move_out(_same_request(found, _MoveSpec(lot_id, appt.site_id, "dispense", count, appt.id)))
    if appt.status not in ("booked", "completed"):
        raise Conflict(f"appointment_id: the appointment is {appt.status}", "appointment_id")
    lot = _lot(session, lot_id, lock="share")
    plan = _plan_of(session, appt)
    if lot.product_id != plan.product:
        raise InvalidInput(
            f"lot_id: lot {lot.lot_number} is {lot.product_id}, the verified plan is {plan.product}", "lot_id"
        )
    _require_usable(lot, appt.date)
    move, created = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            appt.site_id,
            "dispense",
            count,
            appointment_id=appt.id,
            patient_id=appt.patient_id,
            client_id=client_id,
        ),
    )
    if created:
        audit.record(
            session,
            principal.actor,
            "inventory.dispense",
            "inventory_lot",
            lot.id,
            patient_id=appt.patient_id,
            detail={"appointment_id": appt.id, "count": count, "move_id": move.id},
        )
    session.commit()
    return move_out(move)
