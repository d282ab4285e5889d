"""Use cases of the inventory capability: receive lots, append stock moves, scan and dispense at the chair,
FEFO allocation and pick lists, shortfalls, shortage proposals, reorder suggestions and recall trace.

Every stock change is one appended ``stock_move`` plus relative updates of ``stock_balance`` (and of the
appointment's ``stock_allocation``) in the same transaction; the CHECK constraints of those rows are what
refuses a move that would take a lot below zero, also under concurrent requests. The rules that need the
catalog (effective expiry, equivalent products) come from the pure core in ``igflow.inventory.core``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.catalog.models import Product
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.inventory import core, gs1
from igflow.inventory.models import (
    InventoryLot,
    ParLevel,
    StockAllocation,
    StockBalance,
    StockMove,
)
from igflow.inventory.schemas import (
    AllocationRunOut,
    ExpiringOut,
    LotDetailOut,
    LotOut,
    MoveOut,
    ParLevelIn,
    PickOut,
    ProposalOut,
    ReceiptIn,
    ReleasedOut,
    ReorderOut,
    ReturnIn,
    ScanCheckOut,
    ShortageOut,
    ShortfallOut,
    SiteStockOut,
    StatusChangeOut,
    StatusIn,
    StockRowOut,
    StorageIn,
    TraceRow,
    TransferIn,
    WasteIn,
)
from igflow.orders.models import Order, PlanVersion
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.scheduling.models import min_to_hhmm
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Site

EXPIRY_BANDS = (30, 60, 90)


# --- small helpers ----------------------------------------------------------------------------------------


def gtin_check_digit(first13: str) -> int:
    """GS1 mod-10 check digit of the first 13 digits of a GTIN-14."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first13)))
    return (10 - total % 10) % 10


def gtin_valid(gtin: str) -> bool:
    return len(gtin) == 14 and gtin.isdigit() and gtin_check_digit(gtin[:13]) == int(gtin[13])


def _product(product_id: str, field: str = "product_id") -> Product:
    product = load_catalog().products.get(product_id)
    if product is None:
        raise InvalidInput(f"{field}: unknown product {product_id!r}", field)
    return product


def effective_expiry_of(lot: InventoryLot) -> dt.date:
    """The lot's last usable date (label expiry, shortened by time out of the fridge, from the catalog)."""
    product = _product(lot.product_id)
    try:
        return core.effective_expiry(lot.label_expiry, lot.room_temperature_since, product.room_temperature)
    except core.InventoryDataError as exc:
        raise InvalidInput(
            f"room_temperature_since: {product.name}'s room-temperature allowance is unknown in the catalog "
            f"({exc.note or 'no note'}); keep it refrigerated or set the expiry by hand",
            "room_temperature_since",
        ) from None


def _storage_state(lot: InventoryLot) -> str:
    if lot.room_temperature_since is None:
        return "refrigerated"
    return f"room temperature since {lot.room_temperature_since.isoformat()}"


def _site(session: Session, site_id: int, field: str = "site_id") -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise InvalidInput(f"{field}: unknown site {site_id}", field)
    return site


def _site_codes(session: Session) -> dict[int, str]:
    return {sid: code for sid, code in session.execute(select(Site.id, Site.code)).all()}


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _lot(session: Session, lot_id: int, *, lock: str | None = None) -> InventoryLot:
    stmt = select(InventoryLot).where(InventoryLot.id == lot_id)
    if lock == "update":
        stmt = stmt.with_for_update()
    elif lock == "share":
        stmt = stmt.with_for_update(read=True)
    lot = session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if lot is None:
        raise NotFound(f"lot {lot_id} not found", "lot_id")
    return lot


def _balances(session: Session, lot_ids: Iterable[int]) -> dict[int, list[StockBalance]]:
    ids = list(lot_ids)
    out: dict[int, list[StockBalance]] = {i: [] for i in ids}
    if not ids:
        return out
    for balance in session.execute(
        select(StockBalance).where(StockBalance.lot_id.in_(ids)).order_by(StockBalance.site_id)
    ).scalars():
        out[balance.lot_id].append(balance)
    return out


def lot_out(session: Session, lot: InventoryLot, balances: list[StockBalance] | None = None) -> LotOut:
    if balances is None:
        balances = _balances(session, [lot.id])[lot.id]
    codes = _site_codes(session)
    usable = lot.status == "available"
    stock = [
        SiteStockOut(
            site_id=b.site_id,
            site_code=codes.get(b.site_id, ""),
            on_hand=b.on_hand,
            allocated=b.allocated,
            available=b.on_hand - b.allocated if usable else 0,
        )
        for b in balances
    ]
    return LotOut(
        id=lot.id,
        product_id=lot.product_id,
        product_name=_product(lot.product_id).name,
        lot_number=lot.lot_number,
        gtin=lot.gtin,
        label_expiry=lot.label_expiry,
        effective_expiry=effective_expiry_of(lot),
        vial_size_g=lot.vial_size_g,
        site_id=lot.site_id,
        storage_place=lot.storage_place,
        storage_state=_storage_state(lot),
        room_temperature_since=lot.room_temperature_since,
        status=lot.status,
        acquisition_cost_cents=lot.acquisition_cost_cents,
        supplier=lot.supplier,
        stock=stock,
        on_hand=sum(b.on_hand for b in balances),
    )


def move_out(move: StockMove) -> MoveOut:
    return MoveOut(
        id=move.id,
        lot_id=move.lot_id,
        site_id=move.site_id,
        kind=move.kind,
        count=move.count,
        appointment_id=move.appointment_id,
        patient_id=move.patient_id,
        other_site_id=move.other_site_id,
        waste_reason=move.waste_reason,
        reason=move.reason,
        detail=dict(move.detail or {}),
        client_id=move.client_id,
        by_user_id=move.by_user_id,
        at=move.at,
    )


# --- the one writer of stock moves -------------------------------------------------------------------------


@dataclass(frozen=True)
class _MoveSpec:
    lot_id: int
    site_id: int
    kind: str
    count: int
    appointment_id: int | None = None
    patient_id: int | None = None
    other_site_id: int | None = None
    waste_reason: str | None = None
    reason: str = ""
    detail: dict[str, Any] | None = None
    client_id: str | None = None


def _existing(session: Session, client_id: str | None) -> StockMove | None:
    if client_id is None:
        return None
    return session.execute(select(StockMove).where(StockMove.client_id == client_id)).scalar_one_or_none()


def _same_request(move: StockMove, spec: _MoveSpec) -> StockMove:
    if (move.kind, move.lot_id, move.count, move.appointment_id) != (
        spec.kind,
        spec.lot_id,
        spec.count,
        spec.appointment_id,
    ):
        raise Conflict(
            f"client_id: {spec.client_id} was already used for another stock move ({move.kind} {move.id})",
            "client_id",
        )
    return move


def _ensure_balance(session: Session, lot_id: int, site_id: int) -> None:
    stmt = _insert(session)(StockBalance).values(lot_id=lot_id, site_id=site_id, on_hand=0, allocated=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["lot_id", "site_id"]))


def _own_allocation(session: Session, spec: _MoveSpec) -> int:
    if spec.appointment_id is None:
        return 0
    row = session.execute(
        select(StockAllocation.count)
        .where(
            StockAllocation.lot_id == spec.lot_id,
            StockAllocation.site_id == spec.site_id,
            StockAllocation.appointment_id == spec.appointment_id,
        )
        .with_for_update()
    ).first()
    return int(row[0]) if row else 0


def _add_allocation(session: Session, spec: _MoveSpec, delta: int) -> None:
    assert spec.appointment_id is not None
    if delta < 0:  # only ever reduces an existing row; the CHECK refuses going below zero
        result = session.execute(
            update(StockAllocation)
            .where(
                StockAllocation.lot_id == spec.lot_id,
                StockAllocation.site_id == spec.site_id,
                StockAllocation.appointment_id == spec.appointment_id,
            )
            .values(count=StockAllocation.count + delta)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 1) != 1:
            raise Conflict(f"count: appointment {spec.appointment_id} holds no vials of this lot", "count")
        return
    stmt = _insert(session)(StockAllocation).values(
        lot_id=spec.lot_id, site_id=spec.site_id, appointment_id=spec.appointment_id, count=delta
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["lot_id", "site_id", "appointment_id"],
        set_={"count": StockAllocation.count + delta},
    )
    session.execute(stmt)


def _refusal(session: Session, spec: _MoveSpec, exc: IntegrityError) -> Conflict:
    text_ = str(exc.orig).lower()
    balance = session.execute(
        select(StockBalance).where(StockBalance.lot_id == spec.lot_id, StockBalance.site_id == spec.site_id)
    ).scalar_one_or_none()
    on_hand, allocated = (balance.on_hand, balance.allocated) if balance else (0, 0)
    where = f"lot {spec.lot_id} at site {spec.site_id}"
    if "stock_allocation" in text_ and "count" in text_:
        return Conflict(f"count: appointment {spec.appointment_id} holds fewer vials of {where}", "count")
    if "on_hand" in text_ or "allocated" in text_:
        return Conflict(
            f"count: not enough stock: {where} has {on_hand} vials on hand, {allocated} held for "
            f"appointments; {spec.kind} of {spec.count} refused",
            "count",
        )
    return Conflict(f"count: the stock move was refused ({where})", "count")


def _write_move(session: Session, principal: Principal, spec: _MoveSpec) -> tuple[StockMove, bool]:
    """Append one move and update the balances; returns (move, created). Does not commit."""
    found = _existing(session, spec.client_id)
    if found is not None:
        return _same_request(found, spec), False
    on_hand_delta = 0
    alloc_delta = 0
    if spec.kind in ("receipt", "transfer_in", "return"):
        on_hand_delta = spec.count
    elif spec.kind == "transfer_out":
        on_hand_delta = -spec.count
    elif spec.kind in ("dispense", "waste"):
        on_hand_delta = -spec.count
        alloc_delta = -min(spec.count, _own_allocation(session, spec))
    elif spec.kind == "allocation":
        alloc_delta = spec.count
    elif spec.kind == "deallocation":
        alloc_delta = -spec.count
    try:
        with session.begin_nested():
            move = StockMove(
                lot_id=spec.lot_id,
                site_id=spec.site_id,
                kind=spec.kind,
                count=spec.count,
                appointment_id=spec.appointment_id,
                patient_id=spec.patient_id,
                other_site_id=spec.other_site_id,
                waste_reason=spec.waste_reason,
                reason=spec.reason,
                detail=spec.detail or {},
                client_id=spec.client_id,
                by_user_id=principal.user_id,
                at=utcnow(),
            )
            session.add(move)
            session.flush()
            if alloc_delta:
                _add_allocation(session, spec, alloc_delta)
            if on_hand_delta or alloc_delta:
                _ensure_balance(session, spec.lot_id, spec.site_id)
                session.execute(
                    update(StockBalance)
                    .where(StockBalance.lot_id == spec.lot_id, StockBalance.site_id == spec.site_id)
                    .values(
                        on_hand=StockBalance.on_hand + on_hand_delta,
                        allocated=StockBalance.allocated + alloc_delta,
                    )
                    .execution_options(synchronize_session=False)
                )
    except IntegrityError as exc:
        if spec.client_id is not None and "client_id" in str(exc.orig).lower():
            found = _existing(session, spec.client_id)
            if found is not None:
                return _same_request(found, spec), False
        raise _refusal(session, spec, exc) from None
    return move, True


def _require_usable(lot: InventoryLot, on_date: dt.date, field: str = "lot_id") -> None:
    if lot.status != "available":
        raise Conflict(f"{field}: lot {lot.lot_number} is {lot.status}: do not use it", field)
    expiry = effective_expiry_of(lot)
    if expiry < on_date:
        raise Conflict(
            f"{field}: lot {lot.lot_number} expires {expiry.isoformat()}, before {on_date.isoformat()}", field
        )


# --- lots: receive, read, storage, status -----------------------------------------------------------------


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
        select(InventoryLot).where(InventoryLot.gtin == data.gtin, InventoryLot.lot_number == data.lot_number)
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
        stmt = stmt.where(InventoryLot.lot_number == lot_number)
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
    """Quarantine, release or recall a lot at every site; quarantine and recall drop every allocation."""
    lot = _lot(session, lot_id, lock="update")
    _require_every_holding_site(session, principal, lot)
    current = lot.status
    if data.action == "release" and current != "quarantined":
        raise Conflict(f"action: lot {lot.lot_number} is {current}, not quarantined", "action")
    if data.action in ("quarantine", "recall") and current == "recalled":
        raise Conflict(f"action: lot {lot.lot_number} is already recalled", "action")
    if data.action == "quarantine" and current == "quarantined":
        raise Conflict(f"action: lot {lot.lot_number} is already quarantined", "action")
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
    lot.status = {"quarantine": "quarantined", "recall": "recalled", "release": "available"}[data.action]
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


def _appointment(session: Session, principal: Principal, appointment_id: int) -> Appointment:
    appt = scope.appointment(session, principal, appointment_id, "appointment_id")
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found", "appointment_id") from None
    return appt


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


# --- chair side: scan and dispense ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    appointment: Appointment
    course: Course
    day_index: int
    plan: dict[str, Any]

    @property
    def product(self) -> str:
        return str(self.plan.get("product") or "")

    @property
    def vials(self) -> list[tuple[float, int]]:
        for day in self.plan.get("days") or []:
            if int(day.get("day", 0)) == self.day_index:
                return [(float(v["size_g"]), int(v["count"])) for v in day.get("vials") or []]
        return []


def _plan_of(session: Session, appt: Appointment) -> _Plan:
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    version = session.get(PlanVersion, course.plan_version_id)
    assert version is not None
    return _Plan(appt, course, cs.day_index, dict(version.plan))


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


def scan_check(session: Session, principal: Principal, appointment_id: int, scan_text: str) -> ScanCheckOut:
    """Check a scanned vial against the appointment's verified plan; a hard stop raises ``InvalidInput``."""
    appt = _appointment(session, principal, appointment_id)
    try:
        scan = gs1.parse_scan(scan_text)
    except gs1.ScanError as exc:
        raise _hard_stop(session, principal, appt, exc.code, exc.message) from None
    plan = _plan_of(session, appt)
    lot = session.execute(
        select(InventoryLot).where(InventoryLot.gtin == scan.gtin, InventoryLot.lot_number == scan.lot)
    ).scalar_one_or_none()
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


# --- recall trace -----------------------------------------------------------------------------------------


def trace_lot(session: Session, principal: Principal, lot_number: str) -> list[TraceRow]:
    """Every patient, date, site and appointment that received the lot (dispensed net of returns)."""
    return trace_lot_as(session, principal.actor, lot_number, principal.site_ids)


def trace_lot_as(
    session: Session, actor: audit.Actor, lot_number: str, site_ids: frozenset[int] | None = None
) -> list[TraceRow]:
    """``trace_lot`` for an actor without a web session (the CLI); ``site_ids`` limits the sites shown."""
    lots = {
        lot.id: lot
        for lot in session.execute(
            select(InventoryLot).where(InventoryLot.lot_number == lot_number)
        ).scalars()
    }
    if not lots:
        raise NotFound(f"lot {lot_number!r} not found", "lot")
    rows = session.execute(
        select(StockMove, Appointment, Patient, Site)
        .join(Appointment, Appointment.id == StockMove.appointment_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Site, Site.id == Appointment.site_id)
        .where(StockMove.lot_id.in_(list(lots)), StockMove.kind.in_(("dispense", "return")))
        .order_by(Appointment.date, Appointment.id, StockMove.id)
    ).all()
    net: dict[tuple[int, int], int] = {}
    info: dict[tuple[int, int], tuple[Appointment, Patient, Site]] = {}
    for move, appt, patient, site in rows:
        if site_ids is not None and site.id not in site_ids:
            continue
        key = (appt.id, move.lot_id)
        net[key] = net.get(key, 0) + (move.count if move.kind == "dispense" else -move.count)
        info[key] = (appt, patient, site)
    out: list[TraceRow] = []
    for key, vials in net.items():
        if vials <= 0:
            continue
        appt, patient, site = info[key]
        lot = lots[key[1]]
        out.append(
            TraceRow(
                patient_id=patient.id,
                patient_name=f"{patient.family_name}, {patient.given_name}",
                mrn=patient.mrn,
                date=appt.date,
                site_code=site.code,
                site_name=site.name,
                appointment_id=appt.id,
                lot_id=lot.id,
                lot_number=lot.lot_number,
                product_id=lot.product_id,
                vial_count=vials,
            )
        )
    for patient_id in sorted({row.patient_id for row in out}):
        audit.record(
            session,
            actor,
            "inventory.trace.read",
            "patient",
            patient_id,
            patient_id=patient_id,
            detail={"lot_number": lot_number},
        )
    audit.record(
        session,
        actor,
        "inventory.trace",
        "inventory_lot",
        ",".join(str(i) for i in sorted(lots)),
        detail={"lot_number": lot_number, "rows": len(out)},
    )
    session.commit()
    return out


def trace_csv(rows: list[TraceRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["patient", "mrn", "date", "site", "appointment", "lot", "product", "vials"])
    for row in rows:
        writer.writerow(
            [
                row.patient_name,
                row.mrn,
                row.date.isoformat(),
                row.site_code,
                row.appointment_id,
                row.lot_number,
                row.product_id,
                row.vial_count,
            ]
        )
    return buffer.getvalue()


# --- demand, supply, FEFO allocation, pick lists, shortfalls ----------------------------------------------


@dataclass(frozen=True)
class _DemandRow:
    appointment: Appointment
    course: Course
    plan: _Plan
    indication: str
    inputs: dict[str, Any]


def _demand_rows(
    session: Session,
    start: dt.date,
    days: int,
    site_id: int | None = None,
    statuses: tuple[str, ...] = ("booked",),
) -> list[_DemandRow]:
    end = start + dt.timedelta(days=days)
    stmt = (
        select(Appointment, CourseSession, Course, PlanVersion, Order)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(PlanVersion, PlanVersion.id == Course.plan_version_id)
        .join(Order, Order.id == Course.order_id)
        .where(Appointment.status.in_(statuses), Appointment.date >= start, Appointment.date < end)
        .order_by(Appointment.date, Appointment.start_min, Appointment.id)
    )
    if site_id is not None:
        stmt = stmt.where(Appointment.site_id == site_id)
    return [
        _DemandRow(
            appt,
            course,
            _Plan(appt, course, cs.day_index, dict(version.plan)),
            order.indication_id,
            dict(version.inputs or {}),
        )
        for appt, cs, course, version, order in session.execute(stmt).all()
    ]


def _constraints(inputs: dict[str, Any]) -> core.Constraints:
    risks = set(inputs.get("risks") or [])
    limit = load_catalog().administration.screening.low_iga_max_ug_per_ml.value
    return core.Constraints(
        sucrose_free_required="renal" in risks,
        proline_excluded="proline" in risks,
        max_iga_ug_per_ml=limit if inputs.get("iga_deficient_with_antibodies") else None,
    )


def _demand(
    row: _DemandRow, codes: dict[int, str], held: dict[float, int] | None = None
) -> core.Demand | None:
    """The appointment day's whole vials (less what it already holds, when ``held`` is given)."""
    needs: list[core.VialNeed] = []
    for size, count in row.plan.vials:
        left = count - (held or {}).get(size, 0)
        if left > 0:
            needs.append(core.VialNeed(size, left))
    if not needs:
        return None
    indication = load_catalog().indications.get(row.indication)
    route = "sc" if str(row.plan.plan.get("route") or "") == "sc" else "iv"
    priority = row.course.priority if row.course.priority in (1, 2, 3) else 3
    return core.Demand(
        demand_id=str(row.appointment.id),
        appointment_id=str(row.appointment.id),
        on_date=row.appointment.date,
        site=codes.get(row.appointment.site_id, str(row.appointment.site_id)),
        product=row.plan.product,
        route=route,  # type: ignore[arg-type]
        vials=tuple(needs),
        priority=priority,  # type: ignore[arg-type]
        recommended=indication is None or indication.recommendation == "recommended",
        constraints=_constraints(row.inputs),
    )


@dataclass(frozen=True)
class _Supply:
    lot: InventoryLot
    balance: StockBalance
    expiry: dt.date

    @property
    def key(self) -> str:
        return f"{self.lot.id}@{self.balance.site_id}"


def _supplies(session: Session) -> list[_Supply]:
    rows = session.execute(
        select(InventoryLot, StockBalance)
        .join(StockBalance, StockBalance.lot_id == InventoryLot.id)
        .where(StockBalance.on_hand > 0)
        .order_by(InventoryLot.id, StockBalance.site_id)
    ).all()
    return [_Supply(lot, balance, effective_expiry_of(lot)) for lot, balance in rows]


def _lot_supply(s: _Supply, codes: dict[int, str], available: int) -> core.LotSupply:
    return core.LotSupply(
        lot_id=s.key,
        site=codes.get(s.balance.site_id, str(s.balance.site_id)),
        product=s.lot.product_id,
        vial_size_g=s.lot.vial_size_g,
        effective_expiry=s.expiry,
        available_count=max(0, available),
        status="active" if s.lot.status == "available" else s.lot.status,  # type: ignore[arg-type]
    )


def _holdings(
    session: Session, appointment_ids: Iterable[int]
) -> dict[int, list[tuple[StockAllocation, InventoryLot]]]:
    ids = list(appointment_ids)
    out: dict[int, list[tuple[StockAllocation, InventoryLot]]] = {i: [] for i in ids}
    if not ids:
        return out
    for hold, lot in session.execute(
        select(StockAllocation, InventoryLot)
        .join(InventoryLot, InventoryLot.id == StockAllocation.lot_id)
        .where(StockAllocation.appointment_id.in_(ids), StockAllocation.count > 0)
        .order_by(StockAllocation.id)
    ).all():
        out[hold.appointment_id].append((hold, lot))
    return out


def _held_sizes(rows: list[tuple[StockAllocation, InventoryLot]], product: str) -> dict[float, int]:
    held: dict[float, int] = {}
    for hold, lot in rows:
        if lot.product_id == product:
            held[lot.vial_size_g] = held.get(lot.vial_size_g, 0) + hold.count
    return held


def run_allocation(session: Session, principal: Principal, start: dt.date, days: int) -> AllocationRunOut:
    """FEFO allocation of whole vials to the booked appointments of ``days`` days from ``start``.

    Allocations of appointments that are no longer booked are released first. What an appointment already
    holds counts towards its need; the rest is allocated first-expiry-first-out at its site (appointments in
    date order, or, for a product in shortage over the horizon, in clinical-priority order: urgent, then
    recommended indications, induction, maintenance), and what cannot be found is reported as a shortfall.
    """
    scope.require_unlimited(principal, "An allocation run")
    released: list[ReleasedOut] = []
    stale = session.execute(
        select(StockAllocation, Appointment)
        .join(Appointment, Appointment.id == StockAllocation.appointment_id)
        .where(StockAllocation.count > 0, Appointment.status != "booked")
    ).all()
    for hold, appt in stale:
        _write_move(
            session,
            principal,
            _MoveSpec(
                hold.lot_id,
                hold.site_id,
                "deallocation",
                hold.count,
                appointment_id=appt.id,
                patient_id=appt.patient_id,
                reason=f"appointment {appt.status}",
            ),
        )
        released.append(ReleasedOut(appointment_id=appt.id, site_id=hold.site_id, count=hold.count))
    session.expire_all()
    codes = _site_codes(session)
    rows = _demand_rows(session, start, days)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    demands = [
        d
        for r in rows
        if (d := _demand(r, codes, _held_sizes(holdings[r.appointment.id], r.plan.product))) is not None
    ]
    supplies = {s.key: s for s in _supplies(session)}
    lots = [_lot_supply(s, codes, s.balance.on_hand - s.balance.allocated) for s in supplies.values()]
    profiles = {p.id: core.profile_from_catalog(p) for p in load_catalog().products.values()}
    # FEFO in date order; for a product whose demand exceeds its supply, by clinical priority instead.
    # The shortage proposals (switch, interval extension) are only shown, never applied here.
    shortage_result = core.allocate_with_shortage(demands, lots, profiles)
    result = shortage_result.allocation
    by_id = {r.appointment.id: r for r in rows}
    allocated = 0
    for pick in result.picks:
        s = supplies[pick.lot_id]
        appt = by_id[int(pick.appointment_id)].appointment
        _write_move(
            session,
            principal,
            _MoveSpec(
                s.lot.id,
                s.balance.site_id,
                "allocation",
                pick.count,
                appointment_id=appt.id,
                patient_id=appt.patient_id,
                reason=f"FEFO allocation for {appt.date.isoformat()}",
            ),
        )
        allocated += pick.count
    audit.record(
        session,
        principal.actor,
        "inventory.allocate",
        "inventory",
        None,
        detail={
            "start": start.isoformat(),
            "days": days,
            "appointment_ids": sorted({int(p.appointment_id) for p in result.picks}),
            "vials": allocated,
            "released_appointment_ids": [r.appointment_id for r in released],
        },
    )
    session.commit()
    session.expire_all()
    return AllocationRunOut(
        start=start,
        days=days,
        allocated_vials=allocated,
        picks=_picks(session, principal, start, days, None, audit_read=False),
        shortfalls=_shortfalls(session, start, days),
        released=released,
        shortage_products=list(shortage_result.shortage_products),
    )


def _patient_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {
        pid: f"{family}, {given}"
        for pid, family, given in session.execute(
            select(Patient.id, Patient.family_name, Patient.given_name).where(Patient.id.in_(wanted))
        ).all()
    }


def _picks(
    session: Session,
    principal: Principal,
    start: dt.date,
    days: int,
    site_id: int | None,
    *,
    audit_read: bool = True,
) -> list[PickOut]:
    rows = _demand_rows(session, start, days, site_id)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    codes = _site_codes(session)
    names = _patient_names(session, [r.appointment.patient_id for r in rows])
    out: list[PickOut] = []
    for r in rows:
        for hold, lot in holdings[r.appointment.id]:
            out.append(
                PickOut(
                    site_id=hold.site_id,
                    site_code=codes.get(hold.site_id, ""),
                    date=r.appointment.date,
                    appointment_id=r.appointment.id,
                    start=min_to_hhmm(r.appointment.start_min),
                    patient_id=r.appointment.patient_id,
                    patient_name=names.get(r.appointment.patient_id, ""),
                    lot_id=lot.id,
                    lot_number=lot.lot_number,
                    product_id=lot.product_id,
                    vial_size_g=lot.vial_size_g,
                    count=hold.count,
                    storage_place=lot.storage_place,
                    effective_expiry=effective_expiry_of(lot),
                )
            )
    if audit_read and out:
        audit.record(
            session,
            principal.actor,
            "inventory.pick_list.read",
            "site",
            site_id,
            detail={
                "start": start.isoformat(),
                "days": days,
                "appointment_ids": sorted({p.appointment_id for p in out}),
            },
        )
        session.commit()
    return out


def pick_list(session: Session, principal: Principal, site_id: int, day: dt.date) -> list[PickOut]:
    """What to take out of the fridge at a site for a day, per appointment (FEFO allocations held)."""
    _site(session, site_id)
    scope.require_own_site(principal, site_id)
    return _picks(session, principal, day, 1, site_id)


def _shortfalls(session: Session, start: dt.date, days: int) -> list[ShortfallOut]:
    rows = _demand_rows(session, start, days)
    holdings = _holdings(session, [r.appointment.id for r in rows])
    codes = _site_codes(session)
    usable: dict[tuple[int, str, float], int] = {}
    for s in _supplies(session):
        if s.lot.status == "available":
            key = (s.balance.site_id, s.lot.product_id, s.lot.vial_size_g)
            usable[key] = usable.get(key, 0) + s.balance.on_hand
    out: list[ShortfallOut] = []
    for r in rows:
        held = _held_sizes(holdings[r.appointment.id], r.plan.product)
        for size, count in r.plan.vials:
            have = held.get(size, 0)
            if have >= count:
                continue
            stock = usable.get((r.appointment.site_id, r.plan.product, size), 0)
            out.append(
                ShortfallOut(
                    site_id=r.appointment.site_id,
                    site_code=codes.get(r.appointment.site_id, ""),
                    date=r.appointment.date,
                    appointment_id=r.appointment.id,
                    product_id=r.plan.product,
                    vial_size_g=size,
                    needed=count,
                    held=have,
                    missing=count - have,
                    reason="no_eligible_stock" if stock == 0 else "not_allocated_or_insufficient",
                )
            )
    return out


def shortfalls(session: Session, principal: Principal, start: dt.date, days: int) -> list[ShortfallOut]:
    """Booked appointment days whose vials are not (all) allocated yet (at the principal's sites)."""
    return [s for s in _shortfalls(session, start, days) if scope.sees_site(principal, s.site_id)]


def shortage(session: Session, principal: Principal, start: dt.date, days: int) -> ShortageOut:
    """Shortage mode over the horizon: priority order and proposals (switch or interval); never applied."""
    codes = _site_codes(session)
    rows = _demand_rows(session, start, days)
    demands = [d for r in rows if (d := _demand(r, codes)) is not None]
    in_horizon = {r.appointment.id for r in rows}
    held_outside: dict[tuple[int, int], int] = {}
    for hold in session.execute(select(StockAllocation).where(StockAllocation.count > 0)).scalars():
        if hold.appointment_id not in in_horizon:
            key = (hold.lot_id, hold.site_id)
            held_outside[key] = held_outside.get(key, 0) + hold.count
    supplies = _supplies(session)
    lots = [
        _lot_supply(s, codes, s.balance.on_hand - held_outside.get((s.lot.id, s.balance.site_id), 0))
        for s in supplies
    ]
    profiles = {p.id: core.profile_from_catalog(p) for p in load_catalog().products.values()}
    result = core.allocate_with_shortage(demands, lots, profiles)
    demand_g: dict[str, float] = {}
    for d in demands:
        demand_g[d.product] = demand_g.get(d.product, 0.0) + d.grams
    supply_g: dict[str, float] = {}
    for lot in lots:
        if lot.status == "active":
            supply_g[lot.product] = supply_g.get(lot.product, 0.0) + lot.vial_size_g * lot.available_count
    by_id = {str(r.appointment.id): r for r in rows}
    served = [
        int(d.demand_id)
        for d in sorted(demands, key=lambda d: (d.priority, not d.recommended, d.on_date, d.demand_id))
        if d.product in result.shortage_products
        and scope.sees_site(principal, by_id[d.demand_id].appointment.site_id)
    ]
    proposals = []
    for p in result.proposals:
        r = by_id[p.demand_id]
        if not scope.sees_site(principal, r.appointment.site_id):
            continue  # the priority order is the network's; each site sees its own appointments in it
        proposals.append(
            ProposalOut(
                appointment_id=r.appointment.id,
                site_code=codes.get(r.appointment.site_id, ""),
                date=r.appointment.date,
                product_id=r.plan.product,
                kind=p.kind,
                message=p.message,
                switch_to=p.product,
                switch_vials=[
                    {"lot_id": int(k.lot_id.split("@")[0]), "vial_size_g": k.vial_size_g, "count": k.count}
                    for k in p.picks
                ],
            )
        )
    audit.record(
        session,
        principal.actor,
        "inventory.shortage.read",
        "inventory",
        None,
        detail={"start": start.isoformat(), "days": days, "appointment_ids": sorted(int(k) for k in by_id)},
    )
    session.commit()
    return ShortageOut(
        start=start,
        days=days,
        shortage_products=list(result.shortage_products),
        demand_g={k: round(v, 2) for k, v in sorted(demand_g.items())},
        supply_g={k: round(v, 2) for k, v in sorted(supply_g.items())},
        served_in_order=served,
        proposals=proposals,
        note="Proposals only: a switch needs the pharmacist to re-verify the plan; an interval extension "
        "needs the prescriber to document it. Nothing here changes an order or an allocation.",
    )


def reorder(session: Session, principal: Principal, start: dt.date, days: int) -> list[ReorderOut]:
    """Order-up-to suggestions: par level + forecast use over the horizon - usable stock."""
    codes = _site_codes(session)
    by_code = {code: sid for sid, code in codes.items()}
    pars = [
        core.ParLevel(codes.get(p.site_id, str(p.site_id)), p.product_id, p.vial_size_g, p.par_count)
        for p in session.execute(select(ParLevel).order_by(ParLevel.site_id, ParLevel.product_id)).scalars()
    ]
    lots = [_lot_supply(s, codes, s.balance.on_hand) for s in _supplies(session)]
    forecast: dict[tuple[str, str, float], int] = {}
    for r in _demand_rows(session, start, days):
        for size, count in r.plan.vials:
            key = (codes.get(r.appointment.site_id, ""), r.plan.product, size)
            forecast[key] = forecast.get(key, 0) + count
    known = {(p.site, p.product, p.vial_size_g) for p in pars}
    pars += [
        core.ParLevel(site, product, size, 0)
        for site, product, size in forecast
        if (site, product, size) not in known
    ]
    return [
        ReorderOut(
            site_id=by_code.get(s.site, 0),
            site_code=s.site,
            product_id=s.product,
            vial_size_g=s.vial_size_g,
            usable=s.usable_count,
            forecast=s.forecast_count,
            par=s.par_count,
            suggested=s.suggested_count,
        )
        for s in core.reorder_suggestions(pars, lots, forecast, start)
    ]


# --- overview: stock by site and product, expiring lots ---------------------------------------------------


def stock_by_site(session: Session, principal: Principal) -> list[StockRowOut]:
    codes = _site_codes(session)
    rows: dict[tuple[int, str, float], StockRowOut] = {}
    for s in _supplies(session):
        key = (s.balance.site_id, s.lot.product_id, s.lot.vial_size_g)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StockRowOut(
                site_id=key[0],
                site_code=codes.get(key[0], ""),
                product_id=key[1],
                product_name=_product(key[1]).name,
                vial_size_g=key[2],
                on_hand=0,
                allocated=0,
                available=0,
                grams_available=0.0,
                value_cents=0,
            )
        row.on_hand += s.balance.on_hand
        row.allocated += s.balance.allocated
        row.value_cents += s.balance.on_hand * s.lot.acquisition_cost_cents
        if s.lot.status == "available":
            free = s.balance.on_hand - s.balance.allocated
            row.available += free
            row.grams_available = round(row.grams_available + free * s.lot.vial_size_g, 2)
    return [rows[k] for k in sorted(rows)]


def expiring(
    session: Session, principal: Principal, today: dt.date, within_days: int = 90
) -> list[ExpiringOut]:
    """Lots with stock whose effective expiry falls within ``within_days`` (banded 30/60/90)."""
    lots = {s.lot.id: s for s in _supplies(session)}
    balances = _balances(session, list(lots))
    out: list[ExpiringOut] = []
    for lot_id, s in lots.items():
        left = (s.expiry - today).days
        if left > within_days:
            continue
        band = next((b for b in EXPIRY_BANDS if left <= b), within_days)
        out.append(ExpiringOut(lot=lot_out(session, s.lot, balances[lot_id]), days_left=left, band=band))
    return sorted(out, key=lambda e: (e.days_left, e.lot.id))


def ledger_check(session: Session) -> list[str]:
    """Replay every move through the pure core and compare with the stored balances (empty: consistent)."""
    ledger = core.Ledger()
    moves = session.execute(select(StockMove).order_by(StockMove.id)).scalars()
    for m in moves:
        ledger.apply(
            core.Move(
                str(m.lot_id),
                m.kind,  # type: ignore[arg-type]
                m.count,
                str(m.site_id),
                None if m.appointment_id is None else str(m.appointment_id),
            )
        )
    problems: list[str] = []
    for b in session.execute(select(StockBalance)).scalars():
        stock = ledger.stock(str(b.lot_id), str(b.site_id))
        if (stock.on_hand_count, stock.allocated_count) != (b.on_hand, b.allocated):
            problems.append(
                f"lot {b.lot_id} site {b.site_id}: ledger {stock.on_hand_count}/{stock.allocated_count}, "
                f"balance {b.on_hand}/{b.allocated}"
            )
    for hold in session.execute(select(StockAllocation)).scalars():
        expected = ledger.stock(str(hold.lot_id), str(hold.site_id)).allocations.get(
            str(hold.appointment_id), 0
        )
        if expected != hold.count:
            problems.append(f"allocation {hold.id}: ledger {expected}, table {hold.count}")
    return problems
