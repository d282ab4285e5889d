"""What the messages say, in the patient's language (issue 13): the subject and body of each kind of message
igflow writes to a patient, from gettext strings (Spanish in ``locale/es/.../messages.po``) with dates and
numbers in that language, and the general preparation advice from the catalog (``preparation.yaml``, each
text with its source). The language is the one the patient chose on My messages, else English (a message has
no browser to ask). No product, dose or diagnosis is ever written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy.orm import Session

from igflow.catalog.preparation import preparation_catalog
from igflow.messages import preferences
from igflow.web import i18n


def language_for(session: Session, patient_id: int | None) -> str:
    """The patient's chosen language when igflow speaks it, else English."""
    stored = preferences.language_of(session, patient_id) if patient_id is not None else None
    return stored if stored in i18n.SUPPORTED else i18n.DEFAULT


def _hours(duration_min: int, locale: str) -> str:
    hours = round(duration_min / 60, 1)
    return f"{hours:g}" if locale == "en" else format_decimal(hours, locale=locale)


def preparation(locale: str, duration_min: int) -> str:
    """The catalog's preparation advice, one paragraph a line."""
    return "\n".join(
        f"- {text}" for text in preparation_catalog().texts(locale, _hours(duration_min, locale))
    )


def reminder(appointment: Any, site: Any, days_before: int, locale: str) -> tuple[str, str]:
    """An appointment reminder: when, where, how long, and the preparation advice."""
    start = f"{appointment.start_min // 60:02d}:{appointment.start_min % 60:02d}"
    with i18n.using(locale):
        words = {
            "day": i18n.local_date(appointment.date, "%A %d %B"),
            "date": i18n.local_date(appointment.date, "%A %d %B %Y"),
            "start": start,
            "site": site.name + (", " + site.address if site.address else ""),
            "hours": _hours(appointment.duration_min, locale),
        }
        if days_before == 1:
            subject = i18n.gettext("Your infusion appointment tomorrow: %(day)s at %(start)s") % words
        else:
            words["days"] = str(days_before)
            subject = i18n.gettext("Your infusion appointment in %(days)s days: %(day)s at %(start)s") % words
        body = "\n\n".join(
            (
                i18n.gettext(
                    "Your infusion appointment is on %(date)s at %(start)s, at %(site)s. "
                    "Plan for about %(hours)s hours with us."
                )
                % words,
                i18n.gettext("How to prepare:"),
                preparation(locale, appointment.duration_min),
                i18n.gettext("To change or cancel, sign in and use My requests, or call the centre."),
            )
        )
    return subject, body


def request_answered(locale: str) -> tuple[str, str]:
    with i18n.using(locale):
        return (
            i18n.gettext("Your infusion team has answered your request"),
            i18n.gettext(
                "Your infusion team has answered your request. Sign in to read the answer under My requests."
            ),
        )


def diary_prompt(locale: str, ended_at: dt.datetime, window_hours: int) -> tuple[str, str]:
    """After an infusion: how do you feel? (the diary stays open for the catalog's window)."""
    with i18n.using(locale):
        words = {"hours": str(window_hours), "date": i18n.local_date(ended_at, "%A %d %B")}
        return (
            i18n.gettext("How do you feel after your infusion?"),
            i18n.gettext(
                "Please tell us how you feel after your infusion of %(date)s: sign in and open How I feel. "
                "The questions stay open for %(hours)s hours. If you feel unwell, call your infusion centre; "
                "for chest pain or trouble breathing, call 911."
            )
            % words,
        )


def measures_due(locale: str) -> tuple[str, str]:
    """Questionnaires due before a review (no measure or diagnosis named)."""
    with i18n.using(locale):
        return (
            i18n.gettext("A questionnaire is waiting for you"),
            i18n.gettext(
                "Your treatment review is coming up. Please sign in and fill in the questionnaire under "
                "My questionnaires before it."
            ),
        )
