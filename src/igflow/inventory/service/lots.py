"""Lots: receive a lot at a site, list and read lots (with the ledger), set the storage place and state,
and quarantine, release or recall a lot (which drops every allocation it holds)."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput
from igflow.inventory.models import InventoryLot, StockAllocation, StockBalance, StockMove
from igflow.inventory.schemas import (
    LotDetailOut,
    LotOut,
    ReceiptIn,
    ReleasedOut,
    StatusChangeOut,
    StatusIn,
    StorageIn,
)
from igflow.inventory.service._common import (
    _balances,
    _lot,
    _product,
    _site,
    effective_expiry_of,
    gtin_valid,
    lot_number_is,
    lot_out,
    move_out,
)
from igflow.inventory.service.ledger import _existing, _MoveSpec, _write_move
from igflow.inventory.states import ACTIONS, LOT
from igflow.security import audit, scope
from igflow.security.principal import Principal


def receive(session: Session, principal: Principal, data: ReceiptIn) -> LotOut:
    """A new lot (or more vials of a known lot with the same product and expiry) received at a site."""
    product = _product(data.product_id)
    if not gtin_valid(data.gtin):
        raise InvalidInput("gtin: the GTIN's check digit is wrong", "gtin")
    sizes = product.vial_sizes_g.value
    if sizes is None:
        raise InvalidInput(
            f"vial_size_g: {product.name}'s vial sizes are unknown in the catalog "
            f"({product.vial_sizes_g.note}); cannot receive it",
            "vial_size_g",
        )
    if data.vial_size_g not in sizes:
        raise InvalidInput(
            f"vial_size_g: {data.vial_size_g:g} g is not a {product.name} vial size "
            f"({', '.join(f'{s:g}' for s in sizes)} g; {product.vial_sizes_g.source})",
            "vial_size_g",
        )
    site = _site(session, data.site_id)
    scope.require_own_site(principal, site.id)
    if data.label_expiry < utcnow().date():
        raise InvalidInput(
            f"label_expiry: {data.label_expiry.isoformat()} has passed; do not receive it", "label_expiry"
        )
    if data.room_temperature_since is not None and data.room_temperature_since > utcnow().date():
        raise InvalidInput("room_temperature_since: the date is in the future", "room_temperature_since")
    if data.client_id is not None:
        found = _existing(session, data.client_id)
        if found is not None:
            if found.kind != "receipt":
                raise Conflict(f"client_id: {data.client_id} was already used", "client_id")
            return lot_out(session, _lot(session, found.lot_id))
    same_gtin = session.execute(
        select(InventoryLot.product_id, InventoryLot.vial_size_g)
        .where(InventoryLot.gtin == data.gtin)
        .limit(1)
    ).first()
    if same_gtin is not None and (same_gtin[0], same_gtin[1]) != (data.product_id, data.vial_size_g):
        raise InvalidInput(
            f"gtin: {data.gtin} is recorded as {same_gtin[1]:g} g of {_product(same_gtin[0]).name}; "
            "a GTIN names one product and vial size",
            "gtin",
        )
    lot = session.execute(
        select(InventoryLot).where(InventoryLot.gtin == data.gtin, lot_number_is(data.lot_number))
    ).scalar_one_or_none()
    if lot is None:
        lot = InventoryLot(
            product_id=product.id,
            lot_number=data.lot_number,
            gtin=data.gtin,
            label_expiry=data.label_expiry,
            vial_size_g=data.vial_size_g,
            site_id=site.id,
            storage_place=data.storage_place,
            room_temperature_since=data.room_temperature_since,
            status="available",
            acquisition_cost_cents=data.acquisition_cost_cents,
            supplier=data.supplier,
            created_by_user_id=principal.user_id,
        )
        effective_expiry_of(lot)  # refuses room temperature with an unknown allowance
        try:
            with session.begin_nested():
                session.add(lot)
                session.flush()
        except IntegrityError:
            raise Conflict(
                f"lot_number: lot {data.lot_number} of GTIN {data.gtin} was just received by someone else",
                "lot_number",
            ) from None
    else:
        if lot.status == "recalled":
            raise Conflict(f"lot_number: lot {data.lot_number} is recalled: do not receive it", "lot_number")
        mismatch = [
            name
            for name, known, given in (
                ("product_id", lot.product_id, data.product_id),
                ("label_expiry", lot.label_expiry, data.label_expiry),
                ("vial_size_g", lot.vial_size_g, data.vial_size_g),
            )
            if known != given
        ]
        if mismatch:
            raise InvalidInput(
                f"{mismatch[0]}: lot {data.lot_number} of GTIN {data.gtin} is already recorded with a "
                f"different {mismatch[0].replace('_', ' ')}",
                mismatch[0],
            )
    move, _created = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            site.id,
            "receipt",
            data.count,
            reason=f"received from {data.supplier}",
            detail={"acquisition_cost_cents": data.acquisition_cost_cents},
            client_id=data.client_id,
        ),
    )
    audit.record(
        session,
        principal.actor,
        "inventory.receive",
        "inventory_lot",
        lot.id,
        detail={"site_id": site.id, "count": data.count, "move_id": move.id},
    )
    session.commit()
    return lot_out(session, lot)


def list_lots(
    session: Session,
    principal: Principal,
    *,
    product_id: str | None = None,
    site_id: int | None = None,
    status: str | None = None,
    lot_number: str | None = None,
) -> list[LotOut]:
    stmt = select(InventoryLot).order_by(InventoryLot.product_id, InventoryLot.label_expiry, InventoryLot.id)
    if product_id:
        stmt = stmt.where(InventoryLot.product_id == product_id)
    if status:
        stmt = stmt.where(InventoryLot.status == status)
    if lot_number:
        stmt = stmt.where(lot_number_is(lot_number))
    lots = list(session.execute(stmt).scalars())
    balances = _balances(session, [lot.id for lot in lots])
    out = [lot_out(session, lot, balances[lot.id]) for lot in lots]
    if site_id is not None:
        out = [lot for lot in out if any(s.site_id == site_id and s.on_hand > 0 for s in lot.stock)]
    return out


def read_lot(session: Session, principal: Principal, lot_id: int) -> LotDetailOut:
    lot = _lot(session, lot_id)
    query = select(StockMove).where(StockMove.lot_id == lot.id).order_by(StockMove.id)
    # Availability is shared, the ledger is not: other sites' moves (their patients) are left out.
    moves = list(session.execute(scope.rows(query, principal, StockMove)).scalars())
    patient_ids = sorted({m.patient_id for m in moves if m.patient_id is not None})
    if patient_ids:  # the ledger links the lot to patients: an audited read
        audit.record(
            session,
            principal.actor,
            "inventory.lot.read",
            "inventory_lot",
            lot.id,
            detail={"patient_ids": patient_ids},
        )
        session.commit()
    return LotDetailOut(**lot_out(session, lot).model_dump(), moves=[move_out(m) for m in moves])


def set_storage(session: Session, principal: Principal, lot_id: int, data: StorageIn) -> LotOut:
    """Storage place and state; room temperature shortens the effective expiry per the catalog."""
    if data.room_temperature_since is not None and data.room_temperature_since > utcnow().date():
        raise InvalidInput("room_temperature_since: the date is in the future", "room_temperature_since")
    lot = _lot(session, lot_id, lock="update")
    scope.require_own_site(principal, lot.site_id, "lot_id")
    before = (lot.storage_place, lot.room_temperature_since)
    lot.storage_place = data.storage_place
    lot.room_temperature_since = data.room_temperature_since
    try:
        effective_expiry_of(lot)
    except InvalidInput:
        lot.storage_place, lot.room_temperature_since = before
        session.rollback()
        raise
    audit.record(
        session,
        principal.actor,
        "inventory.storage",
        "inventory_lot",
        lot.id,
        detail={
            "storage_place": data.storage_place,
            "room_temperature_since": None
            if data.room_temperature_since is None
            else data.room_temperature_since.isoformat(),
        },
    )
    session.commit()
    return lot_out(session, lot)


def change_status(session: Session, principal: Principal, lot_id: int, data: StatusIn) -> StatusChangeOut:
    """Quarantine, release or recall a lot at every site; quarantine and recall drop every allocation.

    The status moves first, by compare-and-set (``states.LOT``): a move the table does not allow is a 409
    on ``action``, and of two concurrent changes of the same lot one wins and the other gets a 409 before
    it touches an allocation."""
    lot = _lot(session, lot_id)
    _require_every_holding_site(session, principal, lot)
    to, start = ACTIONS[data.action]
    current = LOT.move(session, lot, to, expected=start, field_name="action")
    released: list[ReleasedOut] = []
    if data.action in ("quarantine", "recall"):
        holds = list(
            session.execute(
                select(StockAllocation)
                .where(StockAllocation.lot_id == lot.id, StockAllocation.count > 0)
                .order_by(StockAllocation.site_id, StockAllocation.appointment_id)
                .with_for_update()
            ).scalars()
        )
        for hold in holds:
            released.append(
                ReleasedOut(appointment_id=hold.appointment_id, site_id=hold.site_id, count=hold.count)
            )
            session.execute(
                update(StockBalance)
                .where(StockBalance.lot_id == lot.id, StockBalance.site_id == hold.site_id)
                .values(allocated=StockBalance.allocated - hold.count)
                .execution_options(synchronize_session=False)
            )
            hold.count = 0
    move, _ = _write_move(
        session,
        principal,
        _MoveSpec(
            lot.id,
            lot.site_id,
            data.action,
            0,
            reason=data.reason,
            detail={"released": [r.model_dump() for r in released], "from_status": current},
        ),
    )
    audit.record(
        session,
        principal.actor,
        f"inventory.{data.action}",
        "inventory_lot",
        lot.id,
        detail={"released_appointment_ids": [r.appointment_id for r in released], "move_id": move.id},
    )
    session.commit()
    return StatusChangeOut(lot=lot_out(session, lot), move=move_out(move), released=released)


def _require_every_holding_site(session: Session, principal: Principal, lot: InventoryLot) -> None:
    """A status change acts at every site holding the lot: a site-limited user needs all of them."""
    if not scope.limited(principal):
        return
    held = set(
        session.execute(
            select(StockBalance.site_id).where(
                StockBalance.lot_id == lot.id, or_(StockBalance.on_hand > 0, StockBalance.allocated > 0)
            )
        ).scalars()
    )
    for site_id in sorted(held | {lot.site_id}):
        scope.require_own_site(principal, site_id, "lot_id")
