"""JSON API of the inventory capability (thin: parse, authorise, call the service)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from igflow.inventory import service
from igflow.inventory.schemas import (
    AllocationRunIn,
    AllocationRunOut,
    DispenseIn,
    ExpiringOut,
    LotDetailOut,
    LotOut,
    MoveOut,
    NeedOut,
    ParLevelIn,
    PickOut,
    ReceiptIn,
    ReorderOut,
    ReturnIn,
    ScanCheckIn,
    ScanCheckOut,
    ShortageOut,
    ShortfallOut,
    StatusChangeOut,
    StatusIn,
    StockRowOut,
    StorageIn,
    TraceRow,
    TransferIn,
    WasteIn,
)
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["inventory"])


@router.get("/inventory/lots", response_model=list[LotOut])
def list_lots(
    product_id: str | None = None,
    site_id: int | None = None,
    status: str | None = Query(default=None, pattern="^(available|quarantined|recalled)$"),
    lot_number: str | None = None,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[LotOut]:
    return service.list_lots(
        session, principal, product_id=product_id, site_id=site_id, status=status, lot_number=lot_number
    )


@router.post("/inventory/lots", response_model=LotOut, status_code=201)
def receive(
    data: ReceiptIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> LotOut:
    return service.receive(session, principal, data)


@router.get("/inventory/lots/{lot_id}", response_model=LotDetailOut)
def read_lot(
    lot_id: int, principal: Principal = require(Perm.INVENTORY_READ), session: Session = Depends(get_session)
) -> LotDetailOut:
    return service.read_lot(session, principal, lot_id)


@router.put("/inventory/lots/{lot_id}/storage", response_model=LotOut)
def set_storage(
    lot_id: int,
    data: StorageIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> LotOut:
    return service.set_storage(session, principal, lot_id, data)


@router.post("/inventory/lots/{lot_id}/status", response_model=StatusChangeOut)
def change_status(
    lot_id: int,
    data: StatusIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> StatusChangeOut:
    return service.change_status(session, principal, lot_id, data)


@router.post("/inventory/lots/{lot_id}/transfers", response_model=list[MoveOut], status_code=201)
def transfer(
    lot_id: int,
    data: TransferIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> list[MoveOut]:
    return service.transfer(session, principal, lot_id, data)


@router.post("/inventory/lots/{lot_id}/waste", response_model=MoveOut, status_code=201)
def waste(
    lot_id: int,
    data: WasteIn,
    principal: Principal = require(Perm.VIAL_SCAN),
    session: Session = Depends(get_session),
) -> MoveOut:
    return service.waste(session, principal, lot_id, data)


@router.post("/inventory/lots/{lot_id}/returns", response_model=MoveOut, status_code=201)
def return_vials(
    lot_id: int,
    data: ReturnIn,
    principal: Principal = require(Perm.VIAL_SCAN),
    session: Session = Depends(get_session),
) -> MoveOut:
    return service.return_vials(session, principal, lot_id, data)


@router.put("/inventory/par-levels", response_model=ParLevelIn)
def set_par_level(
    data: ParLevelIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> ParLevelIn:
    return ParLevelIn.model_validate(service.set_par_level(session, principal, data))


@router.get("/inventory/stock", response_model=list[StockRowOut])
def stock(
    principal: Principal = require(Perm.INVENTORY_READ), session: Session = Depends(get_session)
) -> list[StockRowOut]:
    return service.stock_by_site(session, principal)


@router.get("/inventory/expiring", response_model=list[ExpiringOut])
def expiring(
    within_days: int = Query(default=90, ge=1, le=730),
    today: dt.date | None = None,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[ExpiringOut]:
    return service.expiring(session, principal, today or dt.date.today(), within_days)


@router.post("/inventory/allocations", response_model=AllocationRunOut)
def run_allocation(
    data: AllocationRunIn,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> AllocationRunOut:
    return service.run_allocation(session, principal, data.start, data.days)


@router.get("/inventory/pick-list", response_model=list[PickOut])
def pick_list(
    site_id: int,
    date: dt.date,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[PickOut]:
    return service.pick_list(session, principal, site_id, date)


@router.get("/inventory/needs", response_model=list[NeedOut])
def needs(
    start: dt.date,
    days: int = Query(default=7, ge=1, le=28),
    site_id: int | None = None,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[NeedOut]:
    """Per site, day, product and vial size: what the booked appointments need, hold and would be picked
    first-expiry-first-out, what is short, and the usable vials on hand (nothing is allocated)."""
    return service.needs(session, principal, start, days, site_id)


@router.get("/inventory/shortfalls", response_model=list[ShortfallOut])
def shortfalls(
    start: dt.date,
    days: int = Query(default=7, ge=1, le=28),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[ShortfallOut]:
    return service.shortfalls(session, principal, start, days)


@router.get("/inventory/shortage", response_model=ShortageOut)
def shortage(
    start: dt.date,
    days: int = Query(default=14, ge=1, le=56),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> ShortageOut:
    return service.shortage(session, principal, start, days)


@router.get("/inventory/reorder", response_model=list[ReorderOut])
def reorder(
    start: dt.date,
    days: int = Query(default=14, ge=1, le=56),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[ReorderOut]:
    return service.reorder(session, principal, start, days)


@router.get("/inventory/trace", response_model=list[TraceRow])
def trace(
    lot: str = Query(min_length=1, max_length=64),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> list[TraceRow]:
    return service.trace_lot(session, principal, lot)


@router.get("/inventory/trace.csv")
def trace_csv(
    lot: str = Query(min_length=1, max_length=64),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    rows = service.trace_lot(session, principal, lot)
    return Response(
        content=service.trace_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="lot-trace.csv"'},
    )


@router.post("/inventory/scan-checks", response_model=ScanCheckOut)
def scan_check(
    data: ScanCheckIn,
    principal: Principal = require(Perm.VIAL_SCAN),
    session: Session = Depends(get_session),
) -> ScanCheckOut:
    return service.scan_check(session, principal, data.appointment_id, data.scan)


@router.post("/inventory/dispenses", response_model=MoveOut, status_code=201)
def dispense(
    data: DispenseIn,
    principal: Principal = require(Perm.VIAL_SCAN),
    session: Session = Depends(get_session),
) -> MoveOut:
    return service.dispense(
        session, principal, data.appointment_id, data.lot_id, data.count, client_id=data.client_id
    )
