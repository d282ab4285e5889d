"""Patients choose how they hear from the service (issue 13): email and/or text message and quiet hours,
on their own page or through staff on the chart; the outbox follows the choice; the patient sees the
messages written to them, in words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from igflow.messages import service as messages_service
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.patients.models import Patient
from igflow.security.models import AuditEvent
from tests.api.test_page_forms import _beside
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _contact(
    world: World, key: str = "ann", email: str = "ann@example.test", phone: str = "555-0100"
) -> None:
    with world.db.session() as session:
        patient = session.get(Patient, world.patients[key])
        assert patient is not None
        patient.email, patient.phone = email, phone
        session.commit()


def _pref(world: World, key: str = "ann") -> ContactPreference | None:
    with world.db.session() as session:
        return session.execute(
            select(ContactPreference).where(ContactPreference.patient_id == world.patients[key])
        ).scalar_one_or_none()


def test_a_patient_chooses_text_messages_and_quiet_hours_and_the_outbox_follows(world: World) -> None:
    _contact(world)
    me = world.client("patient.ann")
    page = me.get("/my/messages")
    assert page.status_code == 200 and offending(page.text) == []
    assert "never say what your medicine or diagnosis is" in visible_text(page.text)
    saved = _post(me, "/my/messages", {"sms_ok": "on", "quiet_from": "21:00", "quiet_to": "08:00"})
    assert saved.status_code == 303 and saved.headers["location"] == "/my/messages?saved=1"
    pref = _pref(world)
    assert pref is not None and (pref.email_ok, pref.sms_ok) == (False, True)
    assert (pref.quiet_from_min, pref.quiet_to_min) == (21 * 60, 8 * 60)
    with world.db.session() as session:
        [recipient] = messages_service.recipients(session, world.patients["ann"])
        assert (recipient.channel, recipient.address) == ("sms", "555-0100")
        sent = messages_service.notify_patient(
            session, world.patients["ann"], "reminder_1d", "Your appointment tomorrow", "See you", "t-1"
        )
        assert [m.channel for m in sent] == ["sms"]
        session.commit()
        audit = session.execute(
            select(AuditEvent).where(AuditEvent.action == "contact_preference.update")
        ).scalar_one()
        assert "555" not in audit.detail  # the choice is audited, not the address
    listed = visible_text(me.get("/my/messages").text)
    assert (
        "Your appointment tomorrow" in listed and "text message" in listed and "waiting to be sent" in listed
    )


def test_a_channel_without_an_address_is_refused_beside_it_and_the_answers_are_kept(world: World) -> None:
    _contact(world, email="", phone="555-0100")
    me = world.client("patient.ann")
    refused = _post(me, "/my/messages", {"email_ok": "on", "sms_ok": "on", "quiet_from": "22:00"})
    assert refused.status_code == 422
    assert "no email address on the record" in _beside(refused.text, "email_ok")
    assert 'value="22:00"' in refused.text and offending(refused.text) == []
    assert _pref(world) is None


def test_quiet_hours_need_both_times_and_different_ones(world: World) -> None:
    _contact(world)
    me = world.client("patient.ann")
    one = _post(me, "/my/messages", {"email_ok": "on", "quiet_from": "21:00"})
    assert one.status_code == 422 and "both times" in _beside(one.text, "quiet_to")
    same = _post(me, "/my/messages", {"email_ok": "on", "quiet_from": "21:00", "quiet_to": "21:00"})
    assert same.status_code == 422 and "another time" in _beside(same.text, "quiet_to")
    bad = _post(me, "/my/messages", {"email_ok": "on", "quiet_from": "9pm", "quiet_to": "08:00"})
    assert bad.status_code == 422 and "like 21:00" in _beside(bad.text, "quiet_from")


def test_no_channel_at_all_says_the_team_will_phone(world: World) -> None:
    _contact(world)
    me = world.client("patient.ann")
    assert _post(me, "/my/messages", {}).status_code == 303
    text = visible_text(me.get("/my/messages").text)
    assert "your team will phone you instead" in text
    with world.db.session() as session:
        assert messages_service.recipients(session, world.patients["ann"]) == []


def test_staff_set_the_choice_on_the_chart_and_a_site_limited_user_cannot_reach_another_site(
    world: World,
) -> None:
    _contact(world, "sol")
    intake = world.client("intake")
    sol = world.patients["sol"]
    page = intake.get(f"/patients/{sol}/contact")
    assert page.status_code == 200 and offending(page.text) == []
    assert _post(intake, f"/patients/{sol}/contact", {"sms_ok": "on"}).status_code == 303
    pref = _pref(world, "sol")
    assert pref is not None and pref.sms_ok and not pref.email_ok
    world.add_user("intake.north", ["intake"], ["north"])
    north = world.client("intake.north")
    assert north.get(f"/patients/{sol}/contact").status_code == 404
    refused = _post(north, f"/patients/{sol}/contact", {"email_ok": "on"})
    assert refused.status_code == 404 and "Southgate" not in refused.text


def test_a_patient_sees_only_their_own_messages(world: World) -> None:
    _contact(world)
    _contact(world, "sol", email="sol@example.test")
    with world.db.session() as session:
        messages_service.notify_patient(session, world.patients["sol"], "closure", "Sol only", "x", "s-1")
        session.commit()
        assert session.execute(select(OutboundMessage)).scalars().all()
    text = visible_text(world.client("patient.ann").get("/my/messages").text)
    assert "Sol only" not in text and "No messages yet" in text
