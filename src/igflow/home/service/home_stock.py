"""The vials at one patient's home, per lot (``home_stock``): the home side of the ledger's home-infusion
site. Every change is a relative ``UPDATE ... SET on_hand = on_hand + n`` in the caller's transaction, beside
the ledger move it mirrors; the table's CHECKs refuse a negative count or more held than on hand, and that
refusal is a 409 naming the lot. Nothing here commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.errors import Conflict
from igflow.home.models import HomeStock


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def of(session: Session, patient_id: int, lot_id: int) -> HomeStock | None:
    """The row as the database has it now (not a stale copy from earlier in the session)."""
    return session.execute(
        select(HomeStock)
        .where(HomeStock.patient_id == patient_id, HomeStock.lot_id == lot_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def rows(session: Session, patient_id: int) -> list[HomeStock]:
    return list(
        session.execute(
            select(HomeStock)
            .where(HomeStock.patient_id == patient_id, HomeStock.on_hand > 0)
            .order_by(HomeStock.lot_id)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def change(
    session: Session, patient_id: int, lot_id: int, *, on_hand: int = 0, held: int = 0, lot_number: str = ""
) -> None:
    """Add ``on_hand`` and ``held`` (either may be negative) to the patient's stock of the lot."""
    if not on_hand and not held:
        return
    stmt = _insert(session)(HomeStock).values(patient_id=patient_id, lot_id=lot_id, on_hand=0, held=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["patient_id", "lot_id"]))
    try:
        with session.begin_nested():
            session.execute(
                update(HomeStock)
                .where(HomeStock.patient_id == patient_id, HomeStock.lot_id == lot_id)
                .values(on_hand=HomeStock.on_hand + on_hand, held=HomeStock.held + held)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        row = of(session, patient_id, lot_id)
        have, kept = (row.on_hand, row.held) if row is not None else (0, 0)
        name = f"lot {lot_number}" if lot_number else f"lot {lot_id}"
        raise Conflict(
            f"count: the patient's home has {have} vial(s) of {name}, {kept} of them held; "
            f"the change ({on_hand:+d} on hand, {held:+d} held) was refused",
            "count",
        ) from None
