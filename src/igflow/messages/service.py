"""The outbox: write a message (in the caller's transaction), send what is due (a job, no transaction
held during a send), and the reminders that feed it.

Delivery is at most once: a message is claimed (``queued`` -> ``sending``, compare-and-set, committed)
before it is handed to the transport and marked ``sent`` after. A failed attempt puts it back in the
queue with a growing delay until ``MAX_ATTEMPTS``; a message found still ``sending`` after a crash may
already have gone, so it becomes ``unknown`` and is listed for a person to check instead of being sent
again. Messages carry no clinical detail: the day, time and place, and the preparation advice every
patient gets.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import Database, utcnow
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.messages.transports import SendError, Transport
from igflow.patients.models import Patient

log = logging.getLogger("igflow.messages")

MAX_ATTEMPTS = 5
RETRY_AFTER_MIN = (1, 5, 15, 60, 240)  # after attempt 1, 2, ...: minutes until the next
STUCK_AFTER = dt.timedelta(minutes=10)  # a claim older than this was interrupted


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str


def recipients(session: Session, patient_id: int) -> list[Recipient]:
    """Where the patient may be written to: email when they have an address and allow it (the default),
    SMS when they have a phone and have said yes to it."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        return []
    pref = session.execute(
        select(ContactPreference).where(ContactPreference.patient_id == patient_id)
    ).scalar_one_or_none()
    email_ok = True if pref is None else pref.email_ok
    sms_ok = False if pref is None else pref.sms_ok
    out = []
    if email_ok and patient.email:
        out.append(Recipient("email", patient.email))
    if sms_ok and patient.phone:
        out.append(Recipient("sms", patient.phone))
    return out


def enqueue(
    session: Session,
    *,
    patient_id: int | None,
    kind: str,
    recipient: Recipient,
    subject: str,
    body: str,
    dedupe_key: str,
    not_before: dt.datetime | None = None,
) -> OutboundMessage | None:
    """Write one message to the outbox in the caller's transaction; None when ``dedupe_key`` is there
    already (a producer that runs again writes nothing twice)."""
    key = f"{dedupe_key}:{recipient.channel}"
    if session.execute(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key)).first():
        return None
    message = OutboundMessage(
        patient_id=patient_id,
        kind=kind,
        channel=recipient.channel,
        to_address=recipient.address,
        subject=subject,
        body=body,
        dedupe_key=key,
        status="queued",
        next_attempt_at=not_before or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # written by a concurrent producer meanwhile
        return None
    return message


def notify_patient(
    session: Session, patient_id: int, kind: str, subject: str, body: str, dedupe_key: str
) -> list[OutboundMessage]:
    """One message per channel the patient allows; empty when igflow has no way to write to them (the
    caller says so: someone calls)."""
    out = []
    for r in recipients(session, patient_id):
        m = enqueue(
            session,
            patient_id=patient_id,
            kind=kind,
            recipient=r,
            subject=subject,
            body=body,
            dedupe_key=dedupe_key,
        )
        if m is not None:
            out.append(m)
    return out


def _quiet_until(quiet: tuple[int, int] | None, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The end of the patient's quiet hours (from, to: local minutes) when ``now`` falls inside them."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    lo, hi = quiet
    inside = lo <= minute < hi if lo < hi else (minute >= lo or minute < hi)
    if not inside:
        return None
    end = local.replace(hour=hi // 60, minute=hi % 60, second=0, microsecond=0)
    if end <= local:
        end += dt.timedelta(days=1)
    return end.astimezone(dt.UTC)


def _claim(session: Session, message_id: int, now: dt.datetime) -> bool:
    claimed = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == "queued")
        .values(status="sending", claimed_at=now, attempts=OutboundMessage.attempts + 1)
    )
    session.commit()
    return bool(claimed.rowcount)


def send_due(db: Database, transport: Transport, *, tz: str = "UTC", limit: int = 100) -> dict[str, int]:
    """Send the messages that are due, one at a time: claim (committed), send with no transaction
    open, mark. Returns counts of sent, retried, failed and postponed (quiet hours)."""
    counts = {"sent": 0, "retried": 0, "failed": 0, "postponed": 0}
    zone = ZoneInfo(tz)
    now = utcnow()
    with db.session() as session:
        due = list(
            session.execute(
                select(OutboundMessage.id, OutboundMessage.patient_id)
                .where(OutboundMessage.status == "queued", OutboundMessage.next_attempt_at <= now)
                .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
                .limit(limit)
            ).all()
        )
        quiet_hours = {
            pid: (lo, hi)
            for pid, lo, hi in session.execute(
                select(
                    ContactPreference.patient_id,
                    ContactPreference.quiet_from_min,
                    ContactPreference.quiet_to_min,
                ).where(ContactPreference.patient_id.in_({pid for _id, pid in due if pid is not None}))
            ).all()
            if lo is not None and hi is not None
        }
        session.rollback()
    for message_id, patient_id in due:
        with db.session() as session:
            quiet = _quiet_until(quiet_hours.get(patient_id) if patient_id else None, now, zone)
            if quiet is not None:
                session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message_id, OutboundMessage.status == "queued")
                    .values(next_attempt_at=quiet)
                )
                session.commit()
                counts["postponed"] += 1
                continue
            if not _claim(session, message_id, now):
                continue  # another sender took it
            m = session.get(OutboundMessage, message_id)
            assert m is not None
            args = (m.id, m.channel, m.to_address, m.subject, m.body)
            attempts = m.attempts
            session.rollback()
        try:
            reference = transport.send(*args)
        except SendError as exc:
            with db.session() as session:
                final = not exc.retry or attempts >= MAX_ATTEMPTS
                delay = RETRY_AFTER_MIN[min(attempts, len(RETRY_AFTER_MIN)) - 1]
                session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message_id, OutboundMessage.status == "sending")
                    .values(
                        status="failed" if final else "queued",
                        last_error=str(exc)[:500],
                        next_attempt_at=utcnow() + dt.timedelta(minutes=delay),
                        claimed_at=None,
                    )
                )
                session.commit()
            counts["failed" if final else "retried"] += 1
            log.warning("message %s not sent (attempt %s): %s", message_id, attempts, exc)
            continue
        with db.session() as session:
            session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.status == "sending")
                .values(status="sent", sent_at=utcnow(), provider_reference=reference[:200], last_error="")
            )
            session.commit()
        counts["sent"] += 1
    return counts


def recover_interrupted(session: Session, now: dt.datetime | None = None) -> int:
    """Messages left ``sending`` by a sender that stopped between the send and the mark: ``unknown``
    (they may have gone out; a person checks before sending again). Returns how many."""
    cutoff = (now or utcnow()) - STUCK_AFTER
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == "sending", OutboundMessage.claimed_at < cutoff)
        .values(status="unknown", last_error="interrupted between sending and recording: may have been sent")
    )
    session.commit()
    return int(result.rowcount or 0)


def mailbox(session: Session, limit: int = 100) -> list[OutboundMessage]:
    return list(
        session.execute(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)).scalars()
    )


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {
        status: int(n)
        for status, n in session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        ).all()
    }


def reminder_text(appointment: Any, site: Any, preparation: str, days_before: int) -> tuple[str, str]:
    """Subject and body of an appointment reminder: when, where, how long, and the general preparation
    advice. No product, dose or diagnosis."""
    hours = round(appointment.duration_min / 60, 1)
    when = "in 3 days" if days_before == 3 else "tomorrow"
    start = f"{appointment.start_min // 60:02d}:{appointment.start_min % 60:02d}"
    subject = f"Your infusion appointment {when}: {appointment.date:%A %d %B} at {start}"
    body = (
        f"Your infusion appointment is on {appointment.date:%A %d %B %Y} at {start}, at {site.name}"
        f"{', ' + site.address if site.address else ''}. Plan for about {hours:g} hours in the chair.\n\n"
        f"{preparation.format(hours=f'{hours:g}')}\n\n"
        "To change or cancel, call the centre."
    )
    return subject, body
