"""Caregiver accounts (issue 13): a caregiver reads one patient's portal pages with that patient's consent
(given by the patient, or recorded by staff when the patient asks), revocable at once; every read is audited
as the caregiver, on the patient, and the patient sees that trail; a caregiver may ask the team and fill in
the diary, nothing else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from igflow.portal.models import CaregiverLink
from igflow.security.models import AuditEvent
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _post(client: Any, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data={**(data or {}), "csrf_token": client.csrf})


def _consented(world: World) -> tuple[Any, Any]:
    world.add_user("carer.cal", ["caregiver"])
    patient = world.client("patient.ann")
    given = _post(patient, "/my/caregivers", {"caregiver": "carer.cal", "relationship": "daughter"})
    assert given.status_code == 303, given.text
    return patient, world.client("carer.cal")


def _events(world: World, actor: str) -> list[AuditEvent]:
    with world.db.session() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.actor == actor)).scalars())


def test_with_consent_a_caregiver_reads_the_patients_pages_audited_as_the_caregiver(world: World) -> None:
    _patient, carer = _consented(world)
    for url in ("/my", "/my/requests", "/my/diary", "/my/costs", "/my/measures", "/my/caregivers"):
        page = carer.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert offending(page.text) == []
    events = _events(world, "carer.cal")
    assert events and {e.patient_id for e in events} - {None} == {world.patients["ann"]}, [
        (e.action, e.patient_id) for e in events if e.patient_id is None
    ]
    assert "patient.read" in {e.action for e in events}
    assert carer.get(f"/api/v1/patients/{world.patients['sol']}").status_code == 403
    text = visible_text(carer.get("/my/caregivers").text)
    assert "You read these pages as a caregiver" in text and "Give my consent" not in text


def test_a_caregiver_may_ask_the_team_but_not_change_the_patients_choices(world: World) -> None:
    patient, carer = _consented(world)
    asked = _post(carer, "/my/requests", {"kind": "call_back", "message": "Mum has a question"})
    assert asked.status_code == 303
    assert "patient_request.create" in {e.action for e in _events(world, "carer.cal")}
    for url in ("/my/messages", "/my/measures/mg-adl", "/my/caregivers", "/my/self-infusions"):
        refused = _post(carer, url, {"email_ok": "on"})
        assert refused.status_code == 403, url
    trail = visible_text(patient.get("/my/caregivers").text)
    assert "Carer.Cal" in trail and "(daughter)" in trail and "sent a request to the team" in trail


def test_the_patient_ends_the_access_and_it_stops_at_once(world: World) -> None:
    patient, carer = _consented(world)
    with world.db.session() as session:
        link_id = session.execute(select(CaregiverLink.id)).scalar_one()
    assert _post(patient, f"/my/caregivers/{link_id}/revoke").status_code == 303
    gone = carer.get("/my")
    assert gone.status_code >= 400 and "consent on their My caregivers page" in visible_text(gone.text)
    assert _post(carer, "/my/requests", {"kind": "call_back"}).status_code >= 400
    assert "caregiver.revoke" in {e.action for e in _events(world, "patient.ann")}
    assert _post(patient, f"/my/caregivers/{link_id}/revoke").status_code == 409  # already ended
    text = visible_text(patient.get("/my/caregivers").text)
    assert "Ended on" in text


def test_consent_names_an_existing_caregiver_account_and_one_patient_per_caregiver(world: World) -> None:
    world.add_user("carer.cal", ["caregiver"])
    patient = world.client("patient.ann")
    unknown = _post(patient, "/my/caregivers", {"caregiver": "nurse"})  # a staff account is no caregiver
    assert unknown.status_code == 422 and 'id="err-caregiver"' in unknown.text
    assert "The infusion team creates caregiver accounts" in visible_text(unknown.text)
    assert _post(patient, "/my/caregivers", {"caregiver": "carer.cal"}).status_code == 303
    world.add_user("patient.sol", ["patient"], patient_id=world.patients["sol"])
    other = _post(world.client("patient.sol"), "/my/caregivers", {"caregiver": "carer.cal"})
    assert other.status_code == 409


def test_staff_record_the_consent_on_the_chart_when_the_patient_asks(world: World) -> None:
    world.add_user("carer.cal", ["caregiver"])
    pharmacist = world.client("pharmacist")
    url = f"/patients/{world.patients['ann']}/caregivers"
    assert f'href="{url}"' in pharmacist.get(f"/patients/{world.patients['ann']}").text  # from the chart
    no_note = _post(pharmacist, url, {"caregiver": "carer.cal"})
    assert no_note.status_code == 422 and 'id="err-note"' in no_note.text
    done = _post(pharmacist, url, {"caregiver": "carer.cal", "note": "asked in person, 3 December"})
    assert done.status_code == 303
    page = pharmacist.get(url)
    assert page.status_code == 200 and "recorded by" in visible_text(page.text)
    assert world.client("carer.cal").get("/my").status_code == 200
    with world.db.session() as session:
        link = session.execute(select(CaregiverLink)).scalar_one()
        assert link.consent_how == "staff" and link.consented_by_user_id == world.users["pharmacist"]
    ended = _post(pharmacist, f"{url}/{link.id}/revoke", {"note": "patient asked"})
    assert ended.status_code == 303
    assert world.client("carer.cal").get("/my").status_code >= 400
    assert world.client("nurse").get(url).status_code == 200  # nurses read the chart, do not record consent
    assert _post(world.client("nurse"), url, {"caregiver": "carer.cal"}).status_code == 403
