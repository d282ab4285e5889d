"""How a patient wants to hear from the service: the channels they allow and their quiet hours.

The patient sets them on their own page; staff set them on the patient's chart when the patient asks by
phone or at the desk. Every change is audited (which channels, not the addresses)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import InvalidInput
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.security import audit, scope
from igflow.security.principal import Principal

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Preferences:
    email_ok: bool
    sms_ok: bool
    quiet_from: dt.time | None
    quiet_to: dt.time | None
    has_email: bool
    has_phone: bool
    language: str | None = None  # the patient's pages' language; None: the browser's (igflow.web.i18n)

    @property
    def reachable(self) -> bool:
        return (self.email_ok and self.has_email) or (self.sms_ok and self.has_phone)


def _minutes(value: dt.time | None) -> int | None:
    return None if value is None else value.hour * 60 + value.minute


def _time(minutes: int | None) -> dt.time | None:
    return None if minutes is None else dt.time(minutes // 60, minutes % 60)


def _row(session: Session, patient_id: int) -> ContactPreference | None:
    return session.execute(
        select(ContactPreference).where(ContactPreference.patient_id == patient_id)
    ).scalar_one_or_none()


def read(session: Session, principal: Principal, patient_id: int) -> Preferences:
    patient = patients_service.check_access(session, principal, patient_id)
    return _shape(patient, _row(session, patient_id))


def _shape(patient: Patient, row: ContactPreference | None) -> Preferences:
    return Preferences(
        email_ok=True if row is None else row.email_ok,
        sms_ok=False if row is None else row.sms_ok,
        quiet_from=None if row is None else _time(row.quiet_from_min),
        quiet_to=None if row is None else _time(row.quiet_to_min),
        has_email=bool(patient.email),
        has_phone=bool(patient.phone),
        language=None if row is None else row.language,
    )


#: languages a patient may choose for their pages (igflow.web.i18n.SUPPORTED; checked by a test)
LANGUAGES = ("en", "es")


def language_of(session: Session, patient_id: int) -> str | None:
    """The language the patient chose for their pages, or None (no choice: the browser's)."""
    return session.execute(
        select(ContactPreference.language).where(ContactPreference.patient_id == patient_id)
    ).scalar_one_or_none()


def save(
    session: Session,
    principal: Principal,
    patient_id: int,
    *,
    email_ok: bool,
    sms_ok: bool,
    quiet_from: dt.time | None,
    quiet_to: dt.time | None,
    language: str | None = None,
) -> Preferences:
    """Record the patient's choice. A channel igflow has no address for is refused, naming who adds one;
    quiet hours are both times or neither, and not the same time (that would be no hours at all)."""
    patient = patients_service.check_access(session, principal, patient_id)
    if email_ok and not patient.email:
        raise InvalidInput(
            "email_ok: there is no email address on the record; the infusion team can add one", "email_ok"
        )
    if sms_ok and not patient.phone:
        raise InvalidInput(
            "sms_ok: there is no phone number on the record; the infusion team can add one", "sms_ok"
        )
    if (quiet_from is None) != (quiet_to is None):
        missing = "quiet_to" if quiet_to is None else "quiet_from"
        raise InvalidInput(f"{missing}: give both times of the quiet hours, or neither", missing)
    if quiet_from is not None and quiet_from == quiet_to:
        raise InvalidInput("quiet_to: the quiet hours must end at another time than they start", "quiet_to")
    if language and language not in LANGUAGES:
        raise InvalidInput("language: choose English or Español", "language")
    row = _row(session, patient_id)
    if row is None:
        row = ContactPreference(patient_id=patient_id)
        session.add(row)
    row.email_ok, row.sms_ok = email_ok, sms_ok
    row.quiet_from_min, row.quiet_to_min = _minutes(quiet_from), _minutes(quiet_to)
    if language is not None:  # None: keep the choice; "": no choice (the browser's language)
        row.language = language or None
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal.actor,
        "contact_preference.update",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={
            "email": email_ok,
            "sms": sms_ok,
            "quiet_hours": quiet_from is not None,
            "language": row.language,
        },
    )
    session.commit()
    return _shape(patient, row)


def messages_to(
    session: Session, principal: Principal, patient_id: int, limit: int = 50
) -> list[OutboundMessage]:
    """The messages written to the patient, newest first (audited as a read of the patient's messages)."""
    patients_service.check_access(session, principal, patient_id)
    query = scope.rows(
        select(OutboundMessage)
        .where(OutboundMessage.patient_id == patient_id)
        .order_by(OutboundMessage.id.desc())
        .limit(limit),
        principal,
        OutboundMessage,
    )
    rows = list(session.execute(query).scalars())
    audit.record(
        session,
        principal.actor,
        "message.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"shown": len(rows)},
    )
    session.commit()
    return rows
