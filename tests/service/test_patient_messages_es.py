"""Spanish everywhere a patient reads (issue 13): reminders and the answer-is-there message are written in the
language the patient chose (else English), with dates in that language and the catalog's preparation advice;
the preparation catalog has a Spanish twin and a source for every text; My record shows the next
appointment's preparation in the patient's language."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from igflow.catalog.preparation import preparation_catalog
from igflow.messages import texts
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.patients.models import Patient
from tests.conftest import World
from tests.support.visible_text import visible_text


def test_every_preparation_text_has_its_spanish_and_sources() -> None:
    catalog = preparation_catalog()
    assert not catalog.verified  # to be reviewed before real use
    ids = [item.id for item in catalog.items]
    assert {"hydrate", "clothing", "bring", "premedications", "after", "rest"} <= set(ids)
    for item in catalog.items:
        assert item.text and item.text_es and item.source and item.source_es
        assert ("{hours}" in item.text) == ("{hours}" in item.text_es)
        assert "own Spanish translation" in item.source_es


def _booked_patient(world: World, language: str | None) -> tuple[dict[str, object], int]:
    from tests.api.test_scheduling_repair import _booked

    course = _booked(world, "es", "MSGES1")
    appt = course["appointments"][0]
    with world.db.session() as session:
        patient = session.get(Patient, appt["patient_id"])
        assert patient is not None
        patient.email = "es@example.invalid"
        if language:
            session.add(
                ContactPreference(patient_id=patient.id, email_ok=True, sms_ok=False, language=language)
            )
        session.commit()
        return appt, patient.id


def test_a_spanish_speaking_patients_reminder_is_in_spanish(world: World) -> None:
    from igflow.messages import reminders

    appt, _patient_id = _booked_patient(world, "es")
    day = dt.date.fromisoformat(str(appt["date"]))
    with world.db.session() as session:
        assert reminders.sweep(session, day - dt.timedelta(days=1))["queued"] == 1
        (m,) = session.execute(select(OutboundMessage)).scalars()
    assert m.subject.startswith("Su cita de infusión es mañana:")
    assert "Tome mucha agua" in m.body and "Cómo prepararse:" in m.body and "Mis solicitudes" in m.body
    assert "Drink plenty" not in m.body
    months = (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    )
    assert any(f" de {month}" in m.body for month in months)  # the date in Spanish


def test_without_a_choice_the_reminder_is_in_english(world: World) -> None:
    from igflow.messages import reminders

    appt, _patient_id = _booked_patient(world, None)
    day = dt.date.fromisoformat(str(appt["date"]))
    with world.db.session() as session:
        reminders.sweep(session, day - dt.timedelta(days=3))
        (m,) = session.execute(select(OutboundMessage)).scalars()
    assert m.subject.startswith("Your infusion appointment in 3 days:") and "Drink plenty of water" in m.body


def test_the_message_texts_exist_in_both_languages() -> None:
    for locale in ("en", "es"):
        for subject, body in (
            texts.request_answered(locale),
            texts.diary_prompt(locale, dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC), 72),
            texts.measures_due(locale),
        ):
            assert subject and body
    assert texts.request_answered("es")[0] == "Su equipo de infusión respondió a su solicitud"
    assert "jueves 3 de diciembre" in texts.diary_prompt("es", dt.datetime(2026, 12, 3, tzinfo=dt.UTC), 72)[1]


def test_my_record_shows_the_next_appointments_preparation_in_spanish(world: World) -> None:
    _appt, patient_id = _booked_patient(world, "es")
    world.add_user("patient.es", ["patient"], patient_id=patient_id)
    text = visible_text(world.client("patient.es").get("/my").text)
    assert "Cómo prepararse para el" in text and "Use ropa cómoda y holgada" in text
    english = visible_text(world.client("patient.ann").get("/my").text)
    assert "How to prepare for" not in english or "Drink plenty of water" in english
