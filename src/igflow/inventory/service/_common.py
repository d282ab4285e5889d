"""Small helpers every inventory use case shares: GTIN check digits, the catalog product and effective
expiry of a lot, sites, the lot and its balances, the appointment (with the patient's access checked) and
its verified plan, and the API shapes of a lot and of a stock move (``lot_out``, ``move_out``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.catalog.models import Product
from igflow.db import utcnow
from igflow.errors import InvalidInput, NotFound
from igflow.inventory import core
from igflow.inventory.models import InventoryLot, StockBalance, StockMove
from igflow.inventory.schemas import LotOut, MoveOut, SiteStockOut
from igflow.orders.models import PlanVersion
from igflow.patients import service as patients_service
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Site


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
    # an expired lot is still on hand (until it is written off) but none of it can be given
    usable = lot.status == "available" and effective_expiry_of(lot) >= utcnow().date()
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


def _appointment(session: Session, principal: Principal, appointment_id: int) -> Appointment:
    appt = scope.appointment(session, principal, appointment_id, "appointment_id")
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found", "appointment_id") from None
    return appt


@dataclass(frozen=True)
class _Plan:
    """The verified plan of one appointment: its course day (``day_index``) and the plan version's JSON."""

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
    return _Plan(cs.day_index, dict(version.plan))


def lot_number_is(lot_number: str) -> ColumnElement[bool]:
    """Lot numbers match whatever the case they are typed or printed in ("ab12" finds "AB12")."""
    return func.lower(InventoryLot.lot_number) == lot_number.strip().lower()
