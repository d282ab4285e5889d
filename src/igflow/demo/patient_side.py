"""More of the patient's side in the demo (issue 13): the demo patient had an infusion yesterday (so their
symptom diary is open), a caregiver account linked with the demo patient's consent, one Spanish-speaking
patient (contact language "es") with a portal account, and the centres' phone numbers (Costs and help).
Synthetic data only; made through the same services the pages use where one exists."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.db import Database, utcnow
from igflow.demo.history import _place, add_completed_course
from igflow.errors import IgflowError
from igflow.infusions.models import InfusionRecord
from igflow.messages import preferences
from igflow.patients.models import Patient, PatientSite
from igflow.portal import caregivers
from igflow.security.models import User, UserRole
from igflow.security.passwords import hash_password
from igflow.security.service import get_user_by_username, principal_for_user
from igflow.sites.models import Site

SPANISH_USER = ("paciente", "demo-paciente-2026")  # the Spanish-speaking patient's portal account
CAREGIVER_USER = ("caregiver", "demo-caregiver-2026", "Demo Caregiver")
# the demo patient's recent infusion: the latest open day whose infusion has ended and whose diary is still
# open (the catalog's window): yesterday, the day before, three days ago (after a weekend), else this morning
DIARY_DAYS_BACK = (1, 2, 3, 0)


def load_patient_side_demo(db: Database, *, console: Console) -> None:
    phones = _centre_phones(db)
    infused = _recent_infusion(db)
    spanish = _spanish_patient(db)
    caregiver = _caregiver(db)
    said = [f"{phones} centre phone numbers"]
    if infused:
        said.append("the demo patient's infusion yesterday (diary open)")
    if spanish:
        said.append(f"a Spanish-speaking patient (sign in as {SPANISH_USER[0]} / {SPANISH_USER[1]})")
    if caregiver:
        said.append(f"a caregiver of the demo patient ({CAREGIVER_USER[0]} / {CAREGIVER_USER[1]})")
    console.print("  patient side: " + ", ".join(said))


def _centre_phones(db: Database) -> int:
    with db.session() as session:
        centres = list(session.execute(select(Site).where(Site.kind == "centre").order_by(Site.id)).scalars())
        for i, site in enumerate(centres):
            if not site.phone:
                site.phone = f"555-01{i:02d}"  # synthetic (555-01xx numbers are fictional)
        session.commit()
        return len(centres)


def _ended(site: Site, day: dt.date, start_min: int, duration_min: int) -> datetime:
    begin = datetime.combine(day, time(0), tzinfo=ZoneInfo(site.timezone)).astimezone(UTC)
    return begin + timedelta(minutes=start_min + 30 + max(30, duration_min - 60))


def _diary_open(site: Site, day: dt.date, start_min: int, duration_min: int) -> bool:
    """Whether an infusion placed there has ended and its diary is still open now."""
    from igflow.clinical.triage import triage_catalog

    ended = _ended(site, day, start_min, duration_min)
    return ended < utcnow() < ended + timedelta(hours=triage_catalog().window_hours.value)


def _recent_infusion(db: Database) -> bool:
    """A completed one-day course of the demo patient's order yesterday, with its signed infusion record."""
    with db.session() as session:
        user = get_user_by_username(session, "patient")
        nurse = get_user_by_username(session, "nurse")
        if user is None or user.patient_id is None or nurse is None:
            return False
        like = session.execute(
            select(Course)
            .where(Course.patient_id == user.patient_id, Course.status == "booked")
            .order_by(Course.id)
            .limit(1)
        ).scalar_one_or_none()
        if like is None:
            return False
        first = (
            session.execute(
                select(CourseSession)
                .where(CourseSession.course_id == like.id)
                .order_by(CourseSession.day_index)
            )
            .scalars()
            .first()
        )
        site = session.execute(
            select(Site)
            .join(PatientSite, PatientSite.site_id == Site.id)
            .where(PatientSite.patient_id == user.patient_id, Site.kind == "centre")
            .order_by(PatientSite.rank)
            .limit(1)
        ).scalar_one_or_none()
        if first is None or site is None:
            return False
        today = utcnow().date()
        for back in DIARY_DAYS_BACK:
            day = today - timedelta(days=back)
            busy = {(site.id, day): _chairs_free(session, site, day)}
            slot = _place(site, day, first.duration_min, busy)
            if slot is not None and _diary_open(site, day, slot[1], first.duration_min):
                break
        else:
            return False
        [appointment_id] = add_completed_course(session, like, site, [(first, day, *slot)])
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        begin = datetime.combine(day, time(0), tzinfo=ZoneInfo(site.timezone)).astimezone(UTC)
        started = begin + timedelta(minutes=appointment.start_min + 30)
        ended = started + timedelta(minutes=max(30, appointment.duration_min - 60))
        if ended >= utcnow():  # this morning's slot is not over yet: no diary to open
            session.rollback()
            return False
        session.add(
            InfusionRecord(
                appointment_id=appointment.id,
                patient_id=appointment.patient_id,
                order_id=like.order_id,
                plan_version_id=like.plan_version_id,
                day_index=first.day_index,
                product_id=_product(session, like),
                status="signed",
                started_at=started,
                ended_at=ended,
                signed_at=ended + timedelta(minutes=30),
                signed_by_user_id=nurse.id,
                created_by_user_id=nurse.id,
                created_at=begin + timedelta(minutes=appointment.start_min),
            )
        )
        session.commit()
    return True


def _chairs_free(session: object, site: Site, day: dt.date) -> dict[int, int]:
    """When each chair of the centre is free on the day, after the appointments already there."""
    free: dict[int, int] = {}
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    open_min = hours.open_time.hour * 60 + hours.open_time.minute if hours else 0
    for chair in site.chairs:
        if chair.active:
            free[chair.id] = open_min
    rows = session.execute(  # type: ignore[attr-defined]
        select(Appointment.chair_id, Appointment.start_min, Appointment.duration_min).where(
            Appointment.site_id == site.id, Appointment.date == day, Appointment.chair_id.is_not(None)
        )
    ).all()
    for chair_id, start, duration in rows:
        if chair_id in free:
            free[chair_id] = max(free[chair_id], start + duration)
    return free


def _product(session: object, course: Course) -> str:
    from igflow.orders.models import PlanVersion

    version = session.get(PlanVersion, course.plan_version_id)  # type: ignore[attr-defined]
    return str(version.plan["product"]) if version is not None else "unknown"


def _spanish_patient(db: Database) -> bool:
    """The first patient (after the demo accounts' own) with an email and a booked appointment reads
    Spanish: their contact language is "es", recorded by intake as the patient asked; a portal account."""
    with db.session() as session:
        if get_user_by_username(session, SPANISH_USER[0]) is not None:
            return True
        intake = get_user_by_username(session, "intake")
        if intake is None:
            return False
        linked = set(session.execute(select(User.patient_id).where(User.patient_id.is_not(None))).scalars())
        candidates = session.execute(
            select(Patient.id)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Patient.email != "", Appointment.status == "booked", Appointment.date > utcnow().date())
            .order_by(Patient.id)
        ).scalars()
        patient_id = next((p for p in candidates if p not in linked), None)
        if patient_id is None:
            return False
        staff = principal_for_user(intake, client_address="demo-portal")
        preferences.save(
            session,
            staff,
            patient_id,
            email_ok=True,
            sms_ok=False,
            quiet_from=None,
            quiet_to=None,
            language="es",
        )
        patient = session.get(Patient, patient_id)
        assert patient is not None
        user = User(
            username=SPANISH_USER[0],
            display_name=f"{patient.given_name} {patient.family_name}",
            password_hash=hash_password(SPANISH_USER[1], enforce_strength=False),  # a published demo password
            patient_id=patient_id,
            password_changed_at=datetime.now(UTC),
        )
        user.roles = [UserRole(role="patient")]
        session.add(user)
        session.commit()
    return True


def _caregiver(db: Database) -> bool:
    """A caregiver account with the demo patient's consent, given on My caregivers."""
    with db.session() as session:
        patient_user = get_user_by_username(session, "patient")
        if patient_user is None or patient_user.patient_id is None:
            return False
        if get_user_by_username(session, CAREGIVER_USER[0]) is None:
            user = User(
                username=CAREGIVER_USER[0],
                display_name=CAREGIVER_USER[2],
                password_hash=hash_password(CAREGIVER_USER[1], enforce_strength=False),  # a demo password
                password_changed_at=datetime.now(UTC),
            )
            user.roles = [UserRole(role="caregiver")]
            session.add(user)
            session.commit()
        me = principal_for_user(patient_user, client_address="demo-portal")
        try:
            caregivers.consent(session, me, CAREGIVER_USER[0], "partner")
        except IgflowError:  # already linked
            session.rollback()
    return True
