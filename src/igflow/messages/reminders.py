"""Appointment reminders, 3 days and 1 day before, written to the outbox by an hourly sweep; a reminder
still waiting for an appointment that was cancelled meanwhile is withdrawn."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.appointments.service import policy
from igflow.db import utcnow
from igflow.messages.models import OutboundMessage
from igflow.messages.service import notify_patient, reminder_text
from igflow.sites.models import Site

REMINDER_DAYS = (3, 1)


def sweep(session: Session, today: dt.date | None = None) -> dict[str, int]:
    """Queue the reminders due today (once each: the outbox's dedupe key) and withdraw those whose
    appointment is no longer booked. Commits."""
    day0 = today or utcnow().date()
    queued = 0
    preparation = policy().ics_preparation
    for days_before in REMINDER_DAYS:
        target = day0 + dt.timedelta(days=days_before)
        rows = session.execute(
            select(Appointment, Site)
            .join(Site, Site.id == Appointment.site_id)
            .where(
                Appointment.date == target,
                Appointment.status == "booked",
                Appointment.chair_id.is_not(None),
            )
            .order_by(Appointment.id)
        ).all()
        for appt, site in rows:
            subject, body = reminder_text(appt, site, preparation, days_before)
            queued += len(
                notify_patient(
                    session,
                    appt.patient_id,
                    f"reminder_{days_before}d",
                    subject,
                    body,
                    f"appointment:{appt.id}:reminder_{days_before}d",
                )
            )
    # reminders still queued for appointments cancelled since
    stale = session.execute(
        select(OutboundMessage.id, OutboundMessage.dedupe_key).where(
            OutboundMessage.status == "queued", OutboundMessage.kind.like("reminder_%")
        )
    ).all()
    ids = {int(key.split(":")[1]): mid for mid, key in stale if key.startswith("appointment:")}
    gone = set(
        session.execute(
            select(Appointment.id).where(Appointment.id.in_(ids), Appointment.status != "booked")
        ).scalars()
    )
    withdrawn = 0
    if gone:
        result = session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_([ids[a] for a in gone]), OutboundMessage.status == "queued")
            .values(status="cancelled", last_error="the appointment was cancelled before the reminder went")
        )
        withdrawn = int(result.rowcount or 0)
    session.commit()
    return {"queued": queued, "withdrawn": withdrawn}
