"""The one writer of stock moves.

Every stock change is one appended ``stock_move`` plus relative updates of ``stock_balance`` (and of the
appointment's ``stock_allocation``) in the same transaction (``_write_move``); the CHECK constraints of those
rows are what refuses a move that would take a lot below zero, also under concurrent requests. A move with a
``client_id`` is idempotent: a retry returns the move stored the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict
from igflow.inventory.models import StockAllocation, StockBalance, StockMove
from igflow.inventory.service._common import _insert
from igflow.security.principal import Principal


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
