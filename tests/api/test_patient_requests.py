"""Patients ask, staff decide (issue 13): a request to move or cancel an appointment lands in the
schedulers' queue, a call back in the nurses'; nothing changes until someone answers; the answer comes
back to the patient's page and through the outbox; a patient reaches only their own appointments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from igflow.appointments.models import Appointment
from igflow.infusions.models import WorkTask
from igflow.messages.models import OutboundMessage
from igflow.patients.models import Patient
from tests.api.test_infusions_api import _booked
from tests.api.test_page_forms import _beside
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _patient_with_appointment(world: World) -> tuple[Any, int, int]:
    appointment_id, _ = _booked(world)
    with world.db.session() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        patient_id = appointment.patient_id
        patient = session.get(Patient, patient_id)
        assert patient is not None
        patient.email = "una@example.test"
        session.commit()
    world.add_user("patient.una", ["patient"], patient_id=patient_id)
    return world.client("patient.una"), patient_id, appointment_id


def _requests(world: World) -> list[WorkTask]:
    with world.db.session() as session:
        return list(
            session.execute(
                select(WorkTask).where(WorkTask.kind == "patient_request").order_by(WorkTask.id)
            ).scalars()
        )


def test_a_reschedule_request_reaches_the_scheduler_and_the_answer_comes_back(world: World) -> None:
    me, _patient_id, appointment_id = _patient_with_appointment(world)
    page = me.get("/my/requests")
    assert page.status_code == 200 and offending(page.text) == []
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    asked = _post(
        me,
        "/my/requests",
        {
            "kind": "reschedule",
            "appointment_id": str(appointment_id),
            "preferred_dates": [day, ""],
            "message": "I have a hospital visit that day",
        },
    )
    assert asked.status_code == 303, asked.text
    [task] = _requests(world)
    assert (task.queue, task.status, task.detail["preferred_dates"]) == ("scheduler", "open", [day])
    with world.db.session() as session:  # nothing changed by the request itself
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == "booked"
    scheduler = world.client("scheduler")
    queue = scheduler.get("/schedule/requests")
    text = visible_text(queue.text)
    assert "to move an appointment" in text and "hospital visit" in text and offending(queue.text) == []
    assert f"/appointments/{appointment_id}/move" in queue.text
    empty = _post(scheduler, f"/schedule/requests/{task.id}/answer", {"result": "done", "reply": " "})
    assert empty.status_code == 422 and "what the patient will read" in visible_text(empty.text)
    answered = _post(
        scheduler,
        f"/schedule/requests/{task.id}/answer",
        {"result": "done", "reply": "Moved to the date you chose, same time."},
    )
    assert answered.status_code == 303
    again = _post(scheduler, f"/schedule/requests/{task.id}/answer", {"result": "done", "reply": "twice"})
    assert again.status_code == 409  # the state machine: one answer
    mine = visible_text(me.get("/my/requests").text)
    assert "Moved to the date you chose" in mine and "Answer (done" in mine
    with world.db.session() as session:
        [message] = session.execute(select(OutboundMessage)).scalars().all()
        assert message.to_address == "una@example.test" and "Moved" not in message.body  # no detail by email


def test_a_call_back_goes_to_the_nurses_and_their_note_is_the_answer(world: World) -> None:
    me, _pid, _aid = _patient_with_appointment(world)
    assert (
        _post(me, "/my/requests", {"kind": "call_back", "message": "Question about my rash"}).status_code
        == 303
    )
    [task] = _requests(world)
    assert task.queue == "nurse"
    nurse = world.client("nurse")
    assert "Question about my rash" in visible_text(nurse.get("/tasks").text)
    assert _post(nurse, f"/tasks/{task.id}/done", {"note": "Called, all well"}).status_code == 303
    assert "Called, all well" in visible_text(me.get("/my/requests").text)


def test_a_request_names_the_appointment_and_asks_once(world: World) -> None:
    me, _pid, appointment_id = _patient_with_appointment(world)
    missing = _post(me, "/my/requests", {"kind": "cancel", "message": "cannot come"})
    assert missing.status_code == 422
    assert "choose the appointment" in _beside(missing.text, "appointment_id").lower()
    assert "cannot come" in missing.text  # kept
    first = _post(me, "/my/requests", {"kind": "cancel", "appointment_id": str(appointment_id)})
    assert first.status_code == 303
    twice = _post(me, "/my/requests", {"kind": "cancel", "appointment_id": str(appointment_id)})
    assert twice.status_code == 409 and "already asked" in visible_text(twice.text)
    past = _post(
        me,
        "/my/requests",
        {"kind": "reschedule", "appointment_id": str(appointment_id), "preferred_dates": ["2000-01-01"]},
    )
    assert past.status_code == 422 and "not between tomorrow" in visible_text(past.text)
    assert len(_requests(world)) == 1


def test_a_patient_cannot_ask_about_someone_elses_appointment(world: World) -> None:
    _me, _pid, appointment_id = _patient_with_appointment(world)
    other = world.client("patient.ann")
    refused = _post(other, "/my/requests", {"kind": "cancel", "appointment_id": str(appointment_id)})
    assert refused.status_code == 422 and "one of your appointments" in visible_text(refused.text)
    assert _requests(world) == []


def test_a_site_limited_scheduler_sees_only_their_sites_requests(world: World) -> None:
    me, _pid, appointment_id = _patient_with_appointment(world)  # a North patient
    _post(me, "/my/requests", {"kind": "cancel", "appointment_id": str(appointment_id)})
    world.add_user("scheduler.south", ["scheduler"], ["south"])
    south = world.client("scheduler.south")
    assert "No request is waiting" in visible_text(south.get("/schedule/requests").text)
    [task] = _requests(world)
    refused = _post(south, f"/schedule/requests/{task.id}/answer", {"result": "done", "reply": "x"})
    assert refused.status_code == 404
