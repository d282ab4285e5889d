"""The symptom diary after an infusion (issue 13): saved as the patient answers, idempotent by the form's
client id; a red flag opens one urgent nurse task at once and tells the patient what to do now; the report
shows on the chart; the diary closes after the catalog's window; a patient reaches only their own."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.db import utcnow
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.portal.models import SymptomReport
from tests.api.test_infusions_api import _booked
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _post(client: Any, url: str, data: dict[str, Any], **headers: str) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf}, headers=headers)


def _infused(world: World, hours_ago: float = 3) -> tuple[Any, int, int]:
    """A signed infusion that ended ``hours_ago``, and the patient's signed-in client."""
    appointment_id, _plan = _booked(world)
    with world.db.session() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        course_session = session.get(CourseSession, appointment.course_session_id)
        assert course_session is not None
        course = session.get(Course, course_session.course_id)
        assert course is not None
        ended = utcnow() - dt.timedelta(hours=hours_ago)
        session.add(
            InfusionRecord(
                appointment_id=appointment_id,
                patient_id=appointment.patient_id,
                order_id=course.order_id,
                plan_version_id=course.plan_version_id,
                day_index=course_session.day_index,
                product_id="gammagard-liquid",
                status="signed",
                started_at=ended - dt.timedelta(hours=4),
                ended_at=ended,
                signed_at=ended,
                created_by_user_id=world.users["nurse"],
            )
        )
        appointment.status = "completed"
        patient_id = appointment.patient_id
        session.commit()
    world.add_user("patient.una", ["patient"], patient_id=patient_id)
    return world.client("patient.una"), patient_id, appointment_id


def _tasks(world: World) -> list[WorkTask]:
    with world.db.session() as session:
        return list(session.execute(select(WorkTask).where(WorkTask.kind == "symptom_report")).scalars())


def test_a_red_flag_tells_the_patient_what_to_do_and_opens_one_urgent_nurse_task(world: World) -> None:
    me, patient_id, appointment_id = _infused(world)
    page = me.get("/my/diary")
    assert page.status_code == 200 and offending(page.text) == []
    assert "Chest pain or tightness" in visible_text(page.text)
    client_id = uuid.uuid4().hex
    url = f"/my/diary/{appointment_id}"
    calm = _post(me, url, {"client_id": client_id, "headache": "mild"}, **{"HX-Request": "true"})
    assert calm.status_code == 200 and "Nothing to do now" in visible_text(calm.text)
    assert _tasks(world) == []
    flagged = _post(me, url, {"client_id": client_id, "headache": "severe", "stiff_neck": "yes"})
    text = visible_text(flagged.text)
    assert "Call your infusion centre now" in text and "aseptic meningitis" in text
    [task] = _tasks(world)
    assert task.queue == "nurse" and task.status == "open" and task.patient_id == patient_id
    assert task.due_by is not None and task.due_by <= utcnow() + dt.timedelta(minutes=1)
    worse = _post(me, url, {"client_id": client_id, "headache": "severe", "chest_pain": "yes"})
    assert "Call 911" in visible_text(worse.text)
    [same] = _tasks(world)  # one task, made more urgent, not a second one
    assert same.id == task.id and same.detail["level"] == "emergency"
    with world.db.session() as session:
        [report] = session.execute(select(SymptomReport)).scalars().all()
        assert report.saves == 3 and report.level == "emergency" and report.task_id == task.id
    nurse = world.client("nurse")
    assert "Symptom diary: call emergency services now" in visible_text(nurse.get("/tasks").text)
    chart = nurse.get(f"/patients/{patient_id}")
    assert "Symptom diary after infusions" in chart.text and offending(chart.text) == []


def test_calmer_answers_later_leave_the_nurse_task_open(world: World) -> None:
    me, _pid, appointment_id = _infused(world)
    client_id = uuid.uuid4().hex
    _post(me, f"/my/diary/{appointment_id}", {"client_id": client_id, "fever": "yes"})
    _post(me, f"/my/diary/{appointment_id}", {"client_id": client_id, "fever": "no"})
    [task] = _tasks(world)
    assert task.status == "open" and task.detail["level"] == "call_now"


def test_a_rash_asks_for_a_call_within_a_day(world: World) -> None:
    me, _pid, appointment_id = _infused(world)
    saved = _post(me, f"/my/diary/{appointment_id}", {"client_id": uuid.uuid4().hex, "rash": "yes"})
    assert "A nurse will call you" in visible_text(saved.text)
    [task] = _tasks(world)
    assert task.due_by is not None and task.due_by > utcnow() + dt.timedelta(hours=20)


def test_the_diary_closes_after_its_window(world: World) -> None:
    me, _pid, appointment_id = _infused(world, hours_ago=80)
    assert "No infusion in the last 72 hours" in visible_text(me.get("/my/diary").text)
    refused = _post(me, f"/my/diary/{appointment_id}", {"client_id": uuid.uuid4().hex, "fever": "yes"})
    assert refused.status_code == 422 and "diary for this infusion is closed" in visible_text(refused.text)
    assert _tasks(world) == []


def test_an_unknown_answer_is_refused_and_a_patient_reaches_only_their_own(world: World) -> None:
    me, _pid, appointment_id = _infused(world)
    bad = _post(me, f"/my/diary/{appointment_id}", {"client_id": uuid.uuid4().hex, "fever": "maybe"})
    assert bad.status_code == 422 and "answer one of" in visible_text(bad.text)
    other = world.client("patient.ann")
    refused = _post(other, f"/my/diary/{appointment_id}", {"client_id": uuid.uuid4().hex, "fever": "yes"})
    assert refused.status_code == 422 and _tasks(world) == []
    assert world.client("nurse").get("/my/diary").status_code == 403
