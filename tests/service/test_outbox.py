"""The outbox: messages go out over a real SMTP server (aiosmtpd, in-process), a failed send is retried
later, a send interrupted between the transport and the mark is never repeated on its own, quiet hours
postpone, reminders are queued once and withdrawn when the appointment is cancelled."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from igflow.config import Settings
from igflow.db import Database, utcnow
from igflow.messages import service
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.messages.transports import SmtpTransport
from igflow.patients.models import Patient
from tests.conftest import World


class _Inbox:
    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _transport(port: int) -> SmtpTransport:
    settings = Settings(
        database_url="sqlite://",
        mail_mode="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
    )
    return SmtpTransport(settings, timeout_s=5)


def _with_email(world: World, key: str = "ann") -> int:
    with world.db.session() as session:
        patient = session.get(Patient, world.patients[key])
        assert patient is not None
        patient.email = f"{key}@example.invalid"
        session.commit()
        return patient.id


def _queue(db: Database, patient_id: int, key: str = "test:1") -> int:
    with db.session() as session:
        (m,) = service.notify_patient(session, patient_id, "test", "Hello", "A synthetic message.", key)
        session.commit()
        return m.id


def _message(db: Database, message_id: int) -> OutboundMessage:
    with db.session() as session:
        m = session.get(OutboundMessage, message_id)
        assert m is not None
        session.expunge(m)
        return m


def test_a_message_goes_out_over_smtp_once(world: World, smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    mid = _queue(world.db, _with_email(world))
    assert service.send_due(world.db, _transport(port)) == {
        "sent": 1,
        "retried": 0,
        "failed": 0,
        "postponed": 0,
    }
    assert len(inbox.received) == 1
    email = inbox.received[0]
    assert email["To"] == "ann@example.invalid" and email["Subject"] == "Hello"
    assert f"igflow-{mid}" in email["Message-ID"]
    m = _message(world.db, mid)
    assert m.status == "sent" and m.attempts == 1 and m.provider_reference == email["Message-ID"]
    # a second pass sends nothing, and the producer writing the same message again writes nothing
    assert service.send_due(world.db, _transport(port))["sent"] == 0
    with world.db.session() as session:
        assert (
            service.notify_patient(session, world.patients["ann"], "test", "Hello", "again", "test:1") == []
        )
    assert len(inbox.received) == 1


def test_a_failed_send_is_retried_later_and_then_goes(world: World, smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    mid = _queue(world.db, _with_email(world))
    down = _transport(_free_port())  # nothing listens there
    assert service.send_due(world.db, down)["retried"] == 1
    m = _message(world.db, mid)
    assert m.status == "queued" and m.attempts == 1 and m.last_error
    assert m.next_attempt_at > utcnow()  # not before the back-off
    assert service.send_due(world.db, _transport(port))["sent"] == 0  # not yet due
    with world.db.session() as session:
        session.execute(update(OutboundMessage).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
    assert service.send_due(world.db, _transport(port))["sent"] == 1
    assert len(inbox.received) == 1 and _message(world.db, mid).attempts == 2


def test_after_max_attempts_a_message_fails_and_stays_failed(world: World) -> None:
    mid = _queue(world.db, _with_email(world))
    down = _transport(_free_port())
    for _ in range(service.MAX_ATTEMPTS):
        with world.db.session() as session:
            session.execute(
                update(OutboundMessage).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
            )
            session.commit()
        service.send_due(world.db, down)
    m = _message(world.db, mid)
    assert m.status == "failed" and m.attempts == service.MAX_ATTEMPTS


def test_a_send_interrupted_before_its_mark_is_never_repeated(world: World, smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    mid = _queue(world.db, _with_email(world))
    # the sender claimed it, handed it to the server and stopped before recording it
    with world.db.session() as session:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == mid)
            .values(status="sending", attempts=1, claimed_at=utcnow() - dt.timedelta(minutes=30))
        )
        session.commit()
        assert service.recover_interrupted(session) == 1
    assert service.send_due(world.db, _transport(port))["sent"] == 0
    assert inbox.received == []
    m = _message(world.db, mid)
    assert m.status == "unknown" and "may have been sent" in m.last_error
    # a person checks and sends it again from the Mailbox page
    scheduler = world.client("scheduler")
    page = scheduler.get("/mailbox")
    assert "may have been sent" in page.text
    again = scheduler.post(f"/mailbox/{mid}/resend", data={"csrf_token": scheduler.csrf})
    assert again.status_code == 303
    assert service.send_due(world.db, _transport(port))["sent"] == 1 and len(inbox.received) == 1


def test_quiet_hours_postpone_a_message(world: World, smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    pid = _with_email(world)
    now = utcnow()
    minute = now.hour * 60 + now.minute
    with world.db.session() as session:
        session.add(
            ContactPreference(
                patient_id=pid, quiet_from_min=(minute - 30) % 1440, quiet_to_min=(minute + 60) % 1440
            )
        )
        session.commit()
    mid = _queue(world.db, pid)
    assert service.send_due(world.db, _transport(port), tz="UTC")["postponed"] == 1
    assert inbox.received == []
    assert _message(world.db, mid).next_attempt_at > now + dt.timedelta(minutes=50)


def test_no_address_means_no_message(world: World) -> None:
    with world.db.session() as session:
        assert service.notify_patient(session, world.patients["sol"], "test", "Hi", "x", "k") == []
        session.add(ContactPreference(patient_id=world.patients["sol"], email_ok=False, sms_ok=True))
        patient = session.get(Patient, world.patients["sol"])
        assert patient is not None
        patient.email, patient.phone = "sol@example.invalid", "555-0100"
        session.commit()
        (sms,) = service.notify_patient(session, world.patients["sol"], "test", "Hi", "x", "k2")
        assert sms.channel == "sms" and sms.to_address == "555-0100"


def test_reminders_are_queued_once_and_withdrawn_when_the_appointment_goes(world: World) -> None:
    from igflow.messages import reminders
    from tests.api.test_scheduling_repair import _booked, _cancel

    course = _booked(world, "rem", "MSG001")
    appt = course["appointments"][0]
    with world.db.session() as session:
        patient = session.get(Patient, appt["patient_id"])
        assert patient is not None
        patient.email = "rem@example.invalid"
        session.commit()
    day = dt.date.fromisoformat(appt["date"])
    with world.db.session() as session:
        assert reminders.sweep(session, day - dt.timedelta(days=3))["queued"] == 1
        assert reminders.sweep(session, day - dt.timedelta(days=3))["queued"] == 0
        (m,) = session.execute(select(OutboundMessage)).scalars()
        assert "Plan for about" in m.body and "Drink plenty of water" in m.body
        assert "gammagard" not in m.body.lower() and " g " not in m.body  # no product or dose
    assert _cancel(world, appt["id"]).status_code == 200
    with world.db.session() as session:
        assert reminders.sweep(session, day - dt.timedelta(days=2))["withdrawn"] == 1
        assert session.execute(select(OutboundMessage.status)).scalar_one() == "cancelled"
