"""Stock moves between sites and out of stock: transfer, waste, return of unopened vials after dispensing,
and the par level (order-up-to vials) of a product and vial size at a site."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import Conflict, InvalidInput
from igflow.inventory.models import ParLevel, StockMove
from igflow.inventory.schemas import MoveOut, ParLevelIn, ReturnIn, TransferIn, WasteIn
from igflow.inventory.service._common import _appointment, _insert, _lot, _product, _site, move_out
from igflow.inventory.service.ledger import _existing, _MoveSpec, _write_move
from igflow.security import audit, scope
from igflow.security.principal import Principal


def transfer(session: Session, principal: Principal, lot_id: int, data: TransferIn) -> list[MoveOut]:
    if data.from_site_id == data.to_site_id:
        raise InvalidInput("to_site_id: a transfer goes to another site", "to_site_id")
    scope.require_own_site(principal, data.from_site_id, "from_site_id")
    lot = _lot(session, lot_id, lock="share")
    _site(session, data.from_site_id, "from_site_id")
    _site(session, data.to_site_id, "to_site_id")
    if lot.status != "available":
        raise Conflict(f"lot_id: lot {lot.lot_number} is {lot.status}: it does not move", "lot_id")
    out_move, created = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            data.from_site_id,
            "transfer_out",
            data.count,
            other_site_id=data.to_site_id,
            reason=data.reason,
            client_id=data.client_id,
        ),
    )
    moves = [out_move]
    if created:
        in_move, _ = _write_move(
            session,
            principal,
            _MoveSpec(
                lot.id,
                data.to_site_id,
                "transfer_in",
                data.count,
                other_site_id=data.from_site_id,
                reason=data.reason,
                detail={"transfer_out_move_id": out_move.id},
                client_id=None if data.client_id is None else f"{data.client_id}:in",
            ),
        )
        moves.append(in_move)
        audit.record(
            session,
            principal.actor,
            "inventory.transfer",
            "inventory_lot",
            lot.id,
            detail={"from": data.from_site_id, "to": data.to_site_id, "count": data.count},
        )
    else:
        pair = _existing(session, f"{data.client_id}:in")
        if pair is not None:
            moves.append(pair)
    session.commit()
    return [move_out(m) for m in moves]


def waste(session: Session, principal: Principal, lot_id: int, data: WasteIn) -> MoveOut:
    lot = _lot(session, lot_id, lock="share")
    _site(session, data.site_id)
    scope.require_own_site(principal, data.site_id)
    patient_id = None
    if data.appointment_id is not None:
        appt = _appointment(session, principal, data.appointment_id)
        if appt.site_id != data.site_id:
            raise InvalidInput("site_id: the appointment is at another site", "site_id")
        patient_id = appt.patient_id
    move, created = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            data.site_id,
            "waste",
            data.count,
            appointment_id=data.appointment_id,
            patient_id=patient_id,
            waste_reason=data.waste_reason,
            reason=data.reason,
            client_id=data.client_id,
        ),
    )
    if created:
        audit.record(
            session,
            principal.actor,
            "inventory.waste",
            "inventory_lot",
            lot.id,
            patient_id=patient_id,
            detail={"count": data.count, "waste_reason": data.waste_reason, "move_id": move.id},
        )
    session.commit()
    return move_out(move)


def return_vials(session: Session, principal: Principal, lot_id: int, data: ReturnIn) -> MoveOut:
    """Unopened vials dispensed for an appointment come back to the site's stock."""
    lot = _lot(session, lot_id, lock="share")
    appt = _appointment(session, principal, data.appointment_id)
    dispensed = _net_dispensed(session, lot.id, appt.id)
    found = _existing(session, data.client_id)
    if found is None and data.count > dispensed:
        raise Conflict(
            f"count: {dispensed} vial(s) of lot {lot.lot_number} were dispensed for this appointment; "
            f"{data.count} cannot come back",
            "count",
        )
    move, created = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            appt.site_id,
            "return",
            data.count,
            appointment_id=appt.id,
            patient_id=appt.patient_id,
            reason=data.reason,
            client_id=data.client_id,
        ),
    )
    if created:
        audit.record(
            session,
            principal.actor,
            "inventory.return",
            "inventory_lot",
            lot.id,
            patient_id=appt.patient_id,
            detail={"appointment_id": appt.id, "count": data.count, "move_id": move.id},
        )
    session.commit()
    return move_out(move)


def _net_dispensed(session: Session, lot_id: int, appointment_id: int) -> int:
    net = 0
    for kind, count in session.execute(
        select(StockMove.kind, StockMove.count).where(
            StockMove.lot_id == lot_id,
            StockMove.appointment_id == appointment_id,
            StockMove.kind.in_(("dispense", "return")),
        )
    ).all():
        net += count if kind == "dispense" else -count
    return net


def set_par_level(session: Session, principal: Principal, data: ParLevelIn) -> dict[str, Any]:
    _product(data.product_id)
    _site(session, data.site_id)
    scope.require_own_site(principal, data.site_id)
    stmt = _insert(session)(ParLevel).values(
        site_id=data.site_id,
        product_id=data.product_id,
        vial_size_g=data.vial_size_g,
        par_count=data.par_count,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["site_id", "product_id", "vial_size_g"], set_={"par_count": data.par_count}
        )
    )
    audit.record(
        session, principal.actor, "inventory.par_level", "site", data.site_id, detail=data.model_dump()
    )
    session.commit()
    return data.model_dump()
