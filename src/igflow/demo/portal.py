"""Demo of the patient's side: the demo patient's contact choices, a request waiting for the schedulers
and a call back the nurses have answered; made through the same services the pages use."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from sqlalchemy import select

from igflow.appointments.models import Appointment
from igflow.clinical.triage import evaluate
from igflow.db import Database, utcnow
from igflow.infusions import service as infusions_service
from igflow.infusions.models import InfusionRecord
from igflow.messages import preferences
from igflow.portal import diary
from igflow.portal import requests as patient_requests
from igflow.security.audit import SYSTEM
from igflow.security.service import get_user_by_username, principal_for_user

DEMO_QUIET_FROM, DEMO_QUIET_TO = dt.time(21, 0), dt.time(8, 0)
PREFERRED_AFTER_DAYS = (3, 4)  # the demo request's dates that suit: a few days after the booked one


def load_portal_demo(db: Database, *, console: Console) -> None:
    with db.session() as session:
        user = get_user_by_username(session, "patient")
        nurse_user = get_user_by_username(session, "nurse")
        if user is None or user.patient_id is None or nurse_user is None:
            return
        me = principal_for_user(user, client_address="demo-portal")
        nurse = principal_for_user(nurse_user, client_address="demo-portal")
        patient_id = user.patient_id
        prefs = preferences.read(session, me, patient_id)
        preferences.save(
            session,
            me,
            patient_id,
            email_ok=prefs.has_email,
            sms_ok=False,
            quiet_from=DEMO_QUIET_FROM,
            quiet_to=DEMO_QUIET_TO,
        )
        upcoming = (
            session.execute(
                select(Appointment)
                .where(
                    Appointment.patient_id == patient_id,
                    Appointment.status == "booked",
                    Appointment.date > utcnow().date(),
                )
                .order_by(Appointment.date)
            )
            .scalars()
            .first()
        )
        if upcoming is not None:
            patient_requests.ask(
                session,
                me,
                "reschedule",
                upcoming.id,
                [upcoming.date + dt.timedelta(days=d) for d in PREFERRED_AFTER_DAYS],
                "I have a family event that day; later that week would suit me.",
            )
        call = patient_requests.ask(
            session, me, "call_back", None, [], "Can I take my usual allergy tablet before the infusion?"
        )
        if "nurse" in infusions_service.my_queues(nurse):
            infusions_service.complete_task(
                session,
                nurse,
                call.id,
                {},
                "Yes: take it as usual the morning of your infusion; we will check with you on arrival.",
            )
    flagged = _demo_red_flag(db)
    moved = "a request to move a day, " if upcoming is not None else ""
    moved += "a symptom diary with a red flag, " if flagged else ""
    console.print(f"  patient side: contact choices, {moved}an answered call back")
    from igflow.demo.patient_side import (
        load_patient_side_demo,  # after the red flag: it picks the latest infusion
    )

    load_patient_side_demo(db, console=console)


DEMO_DIARY_AFTER = dt.timedelta(hours=20)  # the report came the evening after the infusion
DEMO_RED_FLAG = {"headache": "severe", "stiff_neck": "yes", "fever": "no"}


def _demo_red_flag(db: Database) -> bool:
    """A symptom diary with a red flag (possible aseptic meningitis) after the most recent charted
    infusion, with its urgent nurse task still open, so the work queue and the chart show one."""
    with db.session() as session:
        latest = session.execute(
            select(InfusionRecord)
            .where(InfusionRecord.status == "signed", InfusionRecord.ended_at.is_not(None))
            .order_by(InfusionRecord.ended_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if latest is None or latest.ended_at is None:
            return False
        at = latest.ended_at + DEMO_DIARY_AFTER
        triage = evaluate(DEMO_RED_FLAG)
        diary.record(
            session,
            SYSTEM,
            latest.patient_id,
            latest.appointment_id,
            f"demo-diary-{latest.appointment_id}",
            DEMO_RED_FLAG,
            triage,
            at=at,
        )
        session.commit()
    return True
