"""What the hourly sweep writes to the outbox: appointment reminders 3 days and 1 day before (a reminder
still waiting for an appointment that was cancelled meanwhile is withdrawn); after a signed infusion, one
prompt to fill in the symptom diary while it is open; and when a treatment review is raised for a patient
with questionnaires they may fill in themselves, one prompt to do so. Each once (the outbox's dedupe key),
in the patient's language, naming no diagnosis, product or symptom."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.db import utcnow
from igflow.messages import texts
from igflow.messages.models import OutboundMessage
from igflow.messages.service import notify_patient
from igflow.sites.models import Site

REMINDER_DAYS = (3, 1)


def sweep(session: Session, today: dt.date | None = None) -> dict[str, int]:
    """Queue the reminders due today (once each: the outbox's dedupe key), withdraw those whose
    appointment is no longer booked, and queue the diary and questionnaire prompts. Commits."""
    day0 = today or utcnow().date()
    prompts = _diary_prompts(session) + _questionnaire_prompts(session)
    queued = 0
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
            # in the patient's language, with the catalog's preparation advice (igflow.messages.texts)
            language = texts.language_for(session, appt.patient_id)
            subject, body = texts.reminder(appt, site, days_before, language)
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
    return {"queued": queued, "withdrawn": withdrawn, "prompts": prompts}


def _diary_prompts(session: Session) -> int:
    """One prompt per signed infusion whose diary is still open and has no answer yet."""
    from igflow.clinical.triage import triage_catalog  # the diary's window is catalog data
    from igflow.infusions.models import InfusionRecord
    from igflow.portal.models import SymptomReport

    window_hours = triage_catalog().window_hours.value
    ended = func.coalesce(InfusionRecord.ended_at, InfusionRecord.signed_at)
    answered = select(SymptomReport.id).where(SymptomReport.appointment_id == InfusionRecord.appointment_id)
    rows = session.execute(
        select(InfusionRecord.appointment_id, InfusionRecord.patient_id, ended)
        .where(
            InfusionRecord.status == "signed",
            ended >= utcnow() - dt.timedelta(hours=window_hours),
            ~answered.exists(),
        )
        .order_by(InfusionRecord.appointment_id)
    ).all()
    queued = 0
    for appointment_id, patient_id, ended_at in rows:
        subject, body = texts.diary_prompt(texts.language_for(session, patient_id), ended_at, window_hours)
        queued += len(
            notify_patient(
                session,
                patient_id,
                "diary_prompt",
                subject,
                body,
                f"appointment:{appointment_id}:diary_prompt",
            )
        )
    return queued


def _questionnaire_prompts(session: Session) -> int:
    """One prompt per open treatment review whose patient may fill in a questionnaire themselves."""
    from igflow.infusions.models import WorkTask
    from igflow.outcomes.service.patient_reported import REVIEW_TASK_KIND, self_reportable_specs

    tasks = session.execute(
        select(WorkTask.id, WorkTask.patient_id)
        .where(WorkTask.kind == REVIEW_TASK_KIND, WorkTask.status == "open", WorkTask.patient_id.is_not(None))
        .order_by(WorkTask.id)
    ).all()
    queued = 0
    for task_id, patient_id in tasks:
        if not self_reportable_specs(session, patient_id):
            continue
        subject, body = texts.measures_due(texts.language_for(session, patient_id))
        queued += len(
            notify_patient(
                session, patient_id, "measures_due", subject, body, f"review:{task_id}:measures_due"
            )
        )
    return queued
