"""Caregiver accounts linked to one patient with the patient's consent (issue 13).

A caregiver is a user with the ``caregiver`` role (created by an administrator on the Users page, like any
account). The patient gives consent on My caregivers by typing the caregiver's sign-in name, or staff record
the consent on the chart when the patient asks (with a note of how they asked). While the link is active the
caregiver's principal carries the patient's id (``igflow.security.service.with_caregiver_patient``), so the
caregiver reads exactly that patient's portal pages; every read and write is audited as the caregiver, on the
patient, and the patient sees that trail here. The caregiver may ask the team (My requests) and fill in the
symptom diary for the patient (a parent for a child, a partner after an infusion); contact choices,
questionnaires (the patient's own report), the self-infusion log and consents stay the patient's
(``CAREGIVER_MAY_POST``). Either the patient or staff revoke a link; access ends at the next request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from igflow.patients import service as patients_service
from igflow.portal.models import CaregiverLink
from igflow.security import audit, scope
from igflow.security import service as security_service
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal

MAX_WORDS = 80
MAX_NOTE = 400


@dataclass(frozen=True)
class LinkView:
    link: CaregiverLink
    caregiver_name: str
    consented_by_name: str
    revoked_by_name: str
    recent: list[tuple[dt.datetime, str]]  # the caregiver's latest audited actions on the patient


def _is_patient(principal: Principal) -> bool:
    return (
        principal.can(Perm.PATIENT_SELF)
        and principal.patient_id is not None
        and Role.CAREGIVER not in principal.roles
    )


def _views(session: Session, links: list[CaregiverLink]) -> list[LinkView]:
    ids = {
        x
        for link in links
        for x in (link.caregiver_user_id, link.consented_by_user_id, link.revoked_by_user_id)
    }
    names = security_service.display_names(session, {i for i in ids if i is not None})
    return [
        LinkView(
            link,
            names.get(link.caregiver_user_id, ""),
            names.get(link.consented_by_user_id, ""),
            names.get(link.revoked_by_user_id, "") if link.revoked_by_user_id else "",
            security_service.reads_by_user_on_patient(session, link.caregiver_user_id, link.patient_id, 10),
        )
        for link in links
    ]


def _links(session: Session, patient_id: int) -> list[CaregiverLink]:
    query = select(CaregiverLink).where(CaregiverLink.patient_id == patient_id)
    return list(
        session.execute(
            query.order_by(CaregiverLink.revoked_at.is_not(None), CaregiverLink.id.desc())
        ).scalars()
    )


def mine(session: Session, principal: Principal) -> list[LinkView]:
    """The patient's caregivers (active first), or for a caregiver their own link; audited."""
    if principal.patient_id is None or not principal.can(Perm.PATIENT_SELF):
        raise Forbidden("Only the patient and their caregivers read this page.", "form")
    links = _links(session, principal.patient_id)
    if not _is_patient(principal):
        links = [x for x in links if x.caregiver_user_id == principal.user_id and x.revoked_at is None]
    views = _views(session, links)
    audit.record(
        session,
        principal.actor,
        "caregiver.list",
        "patient",
        principal.patient_id,
        patient_id=principal.patient_id,
        detail={"shown": len(links)},
    )
    session.commit()
    return views


def for_chart(session: Session, principal: Principal, patient_id: int) -> list[LinkView]:
    """A patient's caregiver links for staff (scoped to the staff member's sites); audited."""
    patient = patients_service.check_access(session, principal, patient_id)
    query = scope.rows(
        select(CaregiverLink).where(CaregiverLink.patient_id == patient.id).order_by(CaregiverLink.id.desc()),
        principal,
        CaregiverLink,
    )
    views = _views(session, list(session.execute(query).scalars()))
    audit.record(
        session,
        principal.actor,
        "caregiver.list",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"shown": len(views)},
    )
    session.commit()
    return views


def _caregiver_account(session: Session, username: str) -> int:
    user = (
        security_service.get_user_by_username(session, username.strip().lower()) if username.strip() else None
    )
    if user is None or not user.active or Role.CAREGIVER.value not in {r.role for r in user.roles}:
        raise InvalidInput(
            "caregiver: no caregiver account has that sign-in name. The infusion team creates caregiver "
            "accounts: ask them, then type the name they give you.",
            "caregiver",
        )
    return user.id


def _words(relationship: str, note: str) -> tuple[str, str]:
    relationship, note = relationship.strip(), note.strip()
    if len(relationship) > MAX_WORDS:
        raise InvalidInput(f"relationship: at most {MAX_WORDS} characters", "relationship")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note: at most {MAX_NOTE} characters", "note")
    return relationship, note


def _link(
    session: Session,
    principal: Principal,
    patient_id: int,
    caregiver_user_id: int,
    how: str,
    relationship: str,
    note: str,
) -> CaregiverLink:
    link = CaregiverLink(
        patient_id=patient_id,
        caregiver_user_id=caregiver_user_id,
        relationship_words=relationship,
        consent_how=how,
        consent_note=note,
        consented_by_user_id=principal.user_id,
        consented_at=utcnow(),
        revoke_note="",
    )
    try:
        with session.begin_nested():
            session.add(link)
            session.flush()
    except IntegrityError:  # one active link per caregiver account (a partial unique index)
        raise Conflict(
            "caregiver: this caregiver account already has access to a patient's pages and cannot be linked "
            "now. The infusion team can help.",
            "caregiver",
        ) from None
    audit.record(
        session,
        principal.actor,
        "caregiver.consent",
        "caregiver_link",
        link.id,
        patient_id=patient_id,
        detail={"caregiver_user_id": caregiver_user_id, "how": how},
    )
    session.commit()
    return link


def consent(session: Session, principal: Principal, username: str, relationship: str) -> CaregiverLink:
    """The patient gives a caregiver account access to their portal."""
    if not _is_patient(principal):
        raise Forbidden("form: only the patient gives a caregiver access to their pages.", "form")
    assert principal.patient_id is not None
    relationship, _note = _words(relationship, "")
    caregiver = _caregiver_account(session, username)
    return _link(session, principal, principal.patient_id, caregiver, "patient", relationship, "")


def consent_by_staff(
    session: Session, principal: Principal, patient_id: int, username: str, relationship: str, note: str
) -> CaregiverLink:
    """Staff record the patient's consent on the chart when the patient asks (the note says how)."""
    patient = patients_service.check_access(session, principal, patient_id)
    if not principal.can(Perm.PATIENT_WRITE):
        raise Forbidden("form: recording a caregiver's consent needs the pharmacist or intake role.", "form")
    relationship, note = _words(relationship, note)
    if not note:
        raise InvalidInput(
            "note: say how and when the patient asked (for example: in person, 3 December)", "note"
        )
    caregiver = _caregiver_account(session, username)
    return _link(session, principal, patient.id, caregiver, "staff", relationship, note)


def revoke(
    session: Session, principal: Principal, link_id: int, note: str = "", patient_id: int | None = None
) -> CaregiverLink:
    """End a caregiver's access: the patient (their own links) or staff with access to the patient
    (``patient_id``: the chart it was ended from; a link of another patient is not found)."""
    link = session.get(CaregiverLink, link_id)
    if _is_patient(principal):
        if link is None or link.patient_id != principal.patient_id:
            raise NotFound(f"caregiver link {link_id} not found")
    else:
        if not principal.can(Perm.PATIENT_WRITE):
            raise Forbidden(
                "form: only the patient, or the pharmacist or intake team, ends a caregiver's access."
            )
        link = scope.get(session, principal, CaregiverLink, link_id, "caregiver link")
        if patient_id is not None and link.patient_id != patient_id:
            raise NotFound(f"caregiver link {link_id} not found")
        patients_service.check_access(session, principal, link.patient_id)
    _r, note = _words("", note)
    if link.revoked_at is not None:
        raise Conflict("form: this caregiver's access has already ended.", "form")
    link.revoked_at = utcnow()
    link.revoked_by_user_id = principal.user_id
    link.revoke_note = note
    audit.record(
        session,
        principal.actor,
        "caregiver.revoke",
        "caregiver_link",
        link.id,
        patient_id=link.patient_id,
        detail={"caregiver_user_id": link.caregiver_user_id},
    )
    session.commit()
    return link
