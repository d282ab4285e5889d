"""The hourly sweep's prompts to patients (issue 13): after a signed infusion, one message asking how they
feel while the diary is open, none once they have answered; when a treatment review is raised and the
patient may fill in a questionnaire themselves, one message saying so. Content-free: no diagnosis,
product or symptom in the words."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from igflow.infusions.models import WorkTask
from igflow.messages import reminders
from igflow.messages.models import OutboundMessage
from igflow.outcomes.service.reviews import TASK_KIND as REVIEW_TASK_KIND
from igflow.patients.models import Patient
from tests.api.test_outcomes_api import _cidp
from tests.api.test_symptom_diary import _infused, _post
from tests.conftest import World


def _reachable(world: World, patient_id: int) -> None:
    with world.db.session() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        patient.email = f"p{patient_id}@example.invalid"
        session.commit()


def _messages(world: World, kind: str) -> list[OutboundMessage]:
    with world.db.session() as session:
        return list(session.execute(select(OutboundMessage).where(OutboundMessage.kind == kind)).scalars())


def test_a_signed_infusion_prompts_the_diary_once(world: World) -> None:
    _me, patient_id, _appointment_id = _infused(world, hours_ago=2)
    _reachable(world, patient_id)
    with world.db.session() as session:
        assert reminders.sweep(session)["prompts"] == 1
        assert reminders.sweep(session)["prompts"] == 0  # once: the outbox's dedupe key
    (message,) = _messages(world, "diary_prompt")
    assert message.patient_id == patient_id
    assert "How I feel" in message.body and "72 hours" in message.body
    assert "Gammagard" not in message.body and "headache" not in message.body.lower()


def test_an_answered_diary_is_not_prompted(world: World) -> None:
    me, patient_id, appointment_id = _infused(world, hours_ago=1)
    _reachable(world, patient_id)
    saved = _post(me, f"/my/diary/{appointment_id}", {"client_id": uuid.uuid4().hex, "fever": "no"})
    assert saved.status_code in (200, 303), saved.text
    with world.db.session() as session:
        assert reminders.sweep(session)["prompts"] == 0
    assert _messages(world, "diary_prompt") == []


def test_a_closed_diary_is_not_prompted(world: World) -> None:
    _me, patient_id, _appointment_id = _infused(world, hours_ago=80)  # past the catalog's 72 hours
    _reachable(world, patient_id)
    with world.db.session() as session:
        assert reminders.sweep(session)["prompts"] == 0


def test_a_raised_review_prompts_a_questionnaire_the_patient_may_fill_in(world: World) -> None:
    patient_id, _order_id = _cidp(world, "rae", "PRM001")  # CIDP: I-RODS may be self-reported
    _reachable(world, patient_id)
    with world.db.session() as session:
        session.add(
            WorkTask(
                kind=REVIEW_TASK_KIND, queue="prescriber", patient_id=patient_id, title="Review response"
            )
        )
        session.commit()
        assert reminders.sweep(session)["prompts"] == 1
        assert reminders.sweep(session)["prompts"] == 0
    (message,) = _messages(world, "measures_due")
    assert message.subject == "A questionnaire is waiting for you"
    assert "CIDP" not in message.body and "I-RODS" not in message.body
