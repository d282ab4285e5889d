"""The schedule page's "ready to schedule" list: which orders it shows, and that it costs a few queries
whatever the number of orders (it used to read each order's current plan one by one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from igflow.appointments import service as appointments_service
from igflow.appointments.models import Course
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.security.models import User
from igflow.security.principal import Principal
from igflow.security.service import principal_for_user
from tests.api.test_scheduling_api import _course, _patient, _verified_order
from tests.conftest import World


def _principal(world: World, username: str) -> Principal:
    with world.db.session() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return principal_for_user(user, client_address="test")


@contextmanager
def _statements(world: World) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = world.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _ready(world: World, username: str = "scheduler") -> list[dict[str, Any]]:
    with world.db.session() as session:
        return appointments_service.ready_to_schedule(session, _principal(world, username))


def _one_by_one(world: World) -> list[int]:
    """What the list means, order by order: active, verified now, no course waiting or booked."""
    with world.db.session() as session:
        orders = session.execute(select(Order).where(Order.status == "active").order_by(Order.id)).scalars()
        busy = set(
            session.execute(select(Course.order_id).where(Course.status.in_(("waiting", "booked")))).scalars()
        )
        return [
            o.id
            for o in orders
            if o.id not in busy and orders_service.current_verified_plan(session, o.id) is not None
        ]


def test_ready_lists_verified_orders_with_no_open_course_and_leaves_out_the_rest(world: World) -> None:
    ready = _verified_order(world, _patient(world, "una", "RDY001"))
    unverified_patient = _patient(world, "vic", "RDY002")
    unverified = (
        world.client("prescriber")
        .post(
            "/api/v1/orders",
            json={
                "patient_id": unverified_patient,
                "prescriber_id": world.prescriber_id,
                "indication_id": "pid",
                "phase": "maintenance",
                "product_id": "gammagard-liquid",
            },
        )
        .json()["id"]
    )
    with_course = _verified_order(world, _patient(world, "wes", "RDY003"))
    _course(world, with_course)
    stale_patient = _patient(world, "xan", "RDY004")
    stale = _verified_order(world, stale_patient)
    changed = world.client("nurse").post(
        f"/api/v1/patients/{stale_patient}/measurements",
        json={"kind": "weight_kg", "value": 95, "measured_on": "2026-11-03"},
    )
    assert changed.status_code == 201, changed.text
    south = _verified_order(world, _patient(world, "yul", "RDY005", site="south"))

    rows = _ready(world)
    assert [r["order_id"] for r in rows] == [ready, south] == _one_by_one(world)
    assert not {unverified, with_course, stale} & {r["order_id"] for r in rows}
    first = rows[0]
    assert first["patient_id"] == world.patients["una"]
    assert (first["indication"], first["phase"], first["plan_version"]) == ("pid", "maintenance", 1)
    assert first["days"] >= 1
    # A nurse of the north centre sees only the north patient's order.
    assert [r["order_id"] for r in _ready(world, "nurse.north")] == [ready]


def test_ready_costs_the_same_statements_for_one_order_or_many(world: World) -> None:
    _verified_order(world, _patient(world, "p0", "RDY100"))
    with _statements(world) as one:
        assert len(_ready(world)) == 1
    for i in range(1, 5):
        _verified_order(world, _patient(world, f"p{i}", f"RDY10{i}"))
    with _statements(world) as five:
        assert len(_ready(world)) == 5
    assert len(five) == len(one), five
