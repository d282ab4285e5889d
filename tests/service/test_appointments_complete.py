"""Signing an infusion completes its appointment; the course completes with its last day, and the order
is then ready for its next cycle's course (the therapy loop goes on)."""

from __future__ import annotations

from igflow.appointments import service as appointments_service
from igflow.appointments.models import Appointment, Course
from igflow.errors import Conflict
from igflow.security.models import User
from igflow.security.service import principal_for_user
from tests.api.test_scheduling_api import _course, _patient, _verified_order, book_first_option
from tests.conftest import World


def test_the_course_completes_with_its_last_day_and_the_order_is_ready_again(world: World) -> None:
    pid = _patient(world, "ivo", "CMP001")
    order_id = _verified_order(world, pid, indication="cidp", phase="induction")
    course = _course(world, order_id)
    booked = book_first_option(world, course["id"])
    days = [a["id"] for a in booked["appointments"]]
    assert len(days) >= 2, "an induction runs over several days"
    with world.db.session() as session:
        user = session.get(User, world.users["nurse"])
        assert user is not None
        nurse = principal_for_user(user, client_address="test")
        for k, appointment_id in enumerate(days):
            assert appointments_service.complete_day(session, nurse, appointment_id) is True
            session.commit()
            stored = session.get(Course, course["id"])
            assert stored is not None
            assert stored.status == ("completed" if k == len(days) - 1 else "booked")
        assert appointments_service.complete_day(session, nurse, days[0]) is False  # already completed
        assert all(session.get(Appointment, a).status == "completed" for a in days)  # type: ignore[union-attr]
    with world.db.session() as session:
        user = session.get(User, world.users["scheduler"])
        assert user is not None
        rows = appointments_service.ready_to_schedule(session, principal_for_user(user, client_address="t"))
        assert order_id in {row["order_id"] for row in rows}


def test_a_completed_appointment_cannot_be_cancelled(world: World) -> None:
    pid = _patient(world, "uma", "CMP002")
    order_id = _verified_order(world, pid)
    course = _course(world, order_id)
    booked = book_first_option(world, course["id"])
    appointment_id = booked["appointments"][0]["id"]
    with world.db.session() as session:
        user = session.get(User, world.users["nurse"])
        assert user is not None
        appointments_service.complete_day(
            session, principal_for_user(user, client_address="t"), appointment_id
        )
        session.commit()
    try:
        with world.db.session() as session:
            user = session.get(User, world.users["scheduler"])
            assert user is not None
            appointments_service.change_status(
                session, principal_for_user(user, client_address="t"), appointment_id, "cancelled", "x"
            )
        raise AssertionError("a completed appointment was cancelled")
    except Conflict as exc:
        assert exc.status_code == 409 and "completed" in exc.message
