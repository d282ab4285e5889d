"""Pages for how a patient wants to hear from the service: the patient's own (/my/messages, with the
messages written to them) and the chart's (/patients/{id}/contact, for staff when the patient asks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.i18n import N_
from igflow.messages import preferences
from igflow.patients import service as patients_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import form_action, form_values
from igflow.web.i18n import LANGUAGE_NAMES, SUPPORTED
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

# shown in the page's language (``_(...)`` in the template)
PATIENT_STATUS_WORDS = {
    "queued": N_("waiting to be sent"),
    "sending": N_("being sent"),
    "sent": N_("sent"),
    "failed": N_("could not be sent; the team will call you"),
    "unknown": N_("being checked by the team"),
    "cancelled": N_("withdrawn"),
}
CHANNEL_WORDS = {"email": N_("email"), "sms": N_("text message")}
#: the language choice, each language named in its own words (not translated)
LANGUAGE_OPTIONS = [("", "—"), *((code, LANGUAGE_NAMES[code]) for code in SUPPORTED)]


def _values(prefs: preferences.Preferences) -> dict[str, Any]:
    return {
        "email_ok": prefs.email_ok,
        "sms_ok": prefs.sms_ok,
        "quiet_from": prefs.quiet_from.strftime("%H:%M") if prefs.quiet_from else "",
        "quiet_to": prefs.quiet_to.strftime("%H:%M") if prefs.quiet_to else "",
        "language": prefs.language or "",
    }


def _clock(values: dict[str, Any], name: str) -> dt.time | None:
    text = str(values.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: give a time of day like 21:00", name) from None


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    patient_id: int,
    own: bool,
    values: dict[str, Any] | None,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    patient = patients_service.check_access(session, principal, patient_id)
    prefs = preferences.read(session, principal, patient_id)
    context: dict[str, Any] = {
        "patient": patient,
        "prefs": prefs,
        "own": own,
        "action": "/my/messages" if own else f"/patients/{patient_id}/contact",
        "values": values if values is not None else _values(prefs),
        "errors": errors,
        "labels": {
            "email_ok": N_("Email"),
            "sms_ok": N_("Text message"),
            "quiet_from": N_("Quiet from"),
            "quiet_to": N_("Quiet until"),
            "language": N_("Language of my pages"),
        },
        "language_options": LANGUAGE_OPTIONS,
        "status_words": PATIENT_STATUS_WORDS,
        "channel_words": CHANNEL_WORDS,
        "messages": preferences.messages_to(session, principal, patient_id),
    }
    return render(request, "messages/preferences.html", context, status_code=status_code)


async def _save(
    request: Request, session: Session, principal: Principal, patient_id: int, own: bool, then: str
) -> Response:
    form = await request.form()
    values = form_values(form) | {"email_ok": "email_ok" in form, "sms_ok": "sms_ok" in form}

    def act() -> preferences.Preferences:
        return preferences.save(
            session,
            principal,
            patient_id,
            email_ok=values["email_ok"],
            sms_ok=values["sms_ok"],
            quiet_from=_clock(values, "quiet_from"),
            quiet_to=_clock(values, "quiet_to"),
            language=None if "language" not in values else str(values["language"] or ""),
        )

    return await form_action(
        session,
        act,
        then,
        lambda failure: _page(request, session, principal, patient_id, own, values, failure.errors, 422),
    )


def _own_patient(principal: Principal) -> int:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    return principal.patient_id


@router.get("/my/messages", response_class=HTMLResponse)
def my_messages(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, _own_patient(principal), True, None, {})


@router.post("/my/messages", response_class=HTMLResponse)
async def my_messages_save(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return await _save(request, session, principal, _own_patient(principal), True, "/my/messages?saved=1")


@router.get("/patients/{patient_id}/contact", response_class=HTMLResponse)
def patient_contact(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, patient_id, False, None, {})


@router.post("/patients/{patient_id}/contact", response_class=HTMLResponse)
async def patient_contact_save(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.PATIENT_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _save(
        request, session, principal, patient_id, False, f"/patients/{patient_id}/contact?saved=1"
    )
