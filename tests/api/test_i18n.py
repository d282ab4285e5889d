"""Spanish, and room for more languages (issue 13): every patient-facing template string has its Spanish
in the catalog; a patient reads their pages in the language they chose, else their browser's, else English;
staff pages stay English; dates follow the language."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

import igflow
from igflow.appointments.models import Appointment
from igflow.messages.models import ContactPreference
from tests.api.test_patient_requests import _patient_with_appointment
from tests.conftest import World
from tests.support.visible_text import visible_text

SRC = Path(igflow.__file__).parent
TEMPLATES = SRC / "web" / "templates"
PO = SRC / "locale" / "es" / "LC_MESSAGES" / "messages.po"

#: the pages a patient reads (the staff view of messages/preferences.html is English on purpose)
PATIENT_TEMPLATES = [
    "base.html",
    "login.html",
    "macros.html",
    "_failed_sign_ins.html",
    "my.html",
    "portal/requests.html",
    "portal/diary.html",
    "portal/_diary_result.html",
    "messages/preferences.html",
    "home/my_infusions.html",
    "portal/measures.html",
    "portal/costs.html",
    "portal/caregivers.html",
]
#: Python files whose N_() words are shown on the patient's pages
PATIENT_PYTHON = [
    "web/render.py",
    "portal/patient_pages.py",
    "portal/caregiver_pages.py",
    "messages/texts.py",
    "portal/pages.py",
    "portal/requests.py",
    "messages/preference_pages.py",
]


def _catalog() -> Any:
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


def _extracted() -> list[tuple[str, str | tuple[str, ...]]]:
    found: list[tuple[str, str | tuple[str, ...]]] = []
    for name in PATIENT_TEMPLATES:
        for _line, message, _comments, _context in extract_from_file(
            "jinja2", str(TEMPLATES / name), options={"extensions": "jinja2.ext.i18n"}
        ):
            found.append((name, message))
    for name in PATIENT_PYTHON:
        for _line, message, _comments, _context in extract_from_file("python", str(SRC / name)):
            found.append((name, message))
    return found


def test_every_patient_facing_string_has_a_spanish_translation() -> None:
    catalog = _catalog()
    extracted = _extracted()
    assert len(extracted) > 100, "the patient pages' strings are marked for translation"
    missing = []
    for where, message in extracted:
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid)
        strings = (
            () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if entry is None or entry.fuzzy or not strings or not all(s.strip() for s in strings):
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "no Spanish for:\n" + "\n".join(missing)
    assert not any(m.fuzzy for m in catalog if m.id), "no fuzzy entries in the Spanish catalog"


def test_the_placeholders_of_each_spanish_string_match_the_english() -> None:
    import re

    names = re.compile(r"%\((\w+)\)s")
    for entry in _catalog():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for text in strings:
            assert set(names.findall(text)) <= set(names.findall(ids[-1])) | set(names.findall(ids[0]))


def _spanish_patient(world: World) -> tuple[Any, int, int]:
    client, patient_id, appointment_id = _patient_with_appointment(world)
    with world.db.session() as session:
        session.add(ContactPreference(patient_id=patient_id, email_ok=True, sms_ok=False, language="es"))
        session.commit()
    return client, patient_id, appointment_id


SPANISH = {
    "/my": ["Mis datos", "Fecha de nacimiento", "Mis citas de infusión", "Su equipo de infusión decide"],
    "/my/requests": ["Mis solicitudes", "Enviar mi solicitud", "Qué pide", "cambiar una cita"],
    "/my/diary": ["Cómo me siento después de mi infusión", "llame al 911"],
    "/my/messages": [
        "Mis mensajes",
        "Idioma de mis páginas",
        "Horas sin mensajes",
        "Todavía no hay mensajes.",
    ],
    "/my/self-infusions": ["Mi registro de infusiones", "Frascos en mi casa"],
}
ENGLISH = {
    "/my": ["My record", "Date of birth", "Your infusion team decides your treatment with you"],
    "/my/requests": ["Send my request", "What you are asking for", "Waiting for the team"],
    "/my/diary": ["How I feel after my infusion", "call your infusion centre"],
    "/my/messages": ["Choose how your infusion team may write to you", "Quiet hours"],
    "/my/self-infusions": ["My infusion log", "Vials at my home"],
}


def test_a_patient_who_chose_spanish_reads_their_pages_in_spanish(world: World) -> None:
    client, _patient_id, _appointment_id = _spanish_patient(world)
    for url, words in SPANISH.items():
        page = client.get(url, headers={"Accept-Language": "en-US"})
        assert page.status_code == 200, url
        text = visible_text(page.text)
        assert '<html lang="es">' in page.text, url
        for word in words:
            assert word in text, f"{url}: {word!r}"
        for english in ENGLISH[url]:
            assert english not in text, f"{url}: still English {english!r}"
        assert "Pharmacy" not in text


def test_the_diary_shows_the_catalog_in_spanish(world: World) -> None:
    from tests.api.test_symptom_diary import _infused

    client, patient_id, appointment_id = _infused(world)
    with world.db.session() as session:
        session.add(ContactPreference(patient_id=patient_id, language="es"))
        session.commit()
    page = visible_text(client.get("/my/diary").text)
    assert "Dolor u opresión en el pecho" in page and "Chest pain or tightness" not in page
    assert "Sí" in page and "Guardar mis respuestas" in page
    answered = client.post(
        f"/my/diary/{appointment_id}",
        data={"csrf_token": client.csrf, "client_id": uuid.uuid4().hex, "chest_pain": "yes"},
        headers={"HX-Request": "true"},
    )
    said = visible_text(answered.text)
    assert "Llame a emergencias ahora" in said and "911" in said, said
    assert "Porque usted contestó" in said and "dolor en el pecho" in said
    assert "Call emergency services now" not in said


def test_the_patient_chooses_the_language_on_my_messages(world: World) -> None:
    client, _patient_id, _ = _patient_with_appointment(world)
    saved = client.post("/my/messages", data={"csrf_token": client.csrf, "email_ok": "on", "language": "es"})
    assert saved.status_code == 303
    assert "Mis mensajes" in visible_text(client.get("/my/messages").text)
    refused = client.post(
        "/my/messages", data={"csrf_token": client.csrf, "email_ok": "on", "language": "xx"}
    )
    assert refused.status_code == 422
    cleared = client.post("/my/messages", data={"csrf_token": client.csrf, "email_ok": "on", "language": ""})
    assert cleared.status_code == 303
    assert "My messages" in visible_text(client.get("/my/messages").text)


@pytest.mark.parametrize(
    ("header", "expected", "absent"),
    [("es-MX,es;q=0.9", "Mis datos", "My record"), ("fr-FR,fr;q=0.9", "My record", "Mis datos")],
)
def test_the_browser_language_is_used_when_the_patient_chose_none(
    world: World, header: str, expected: str, absent: str
) -> None:
    client, _patient_id, _ = _patient_with_appointment(world)
    page = client.get("/my", headers={"Accept-Language": header})
    text = visible_text(page.text)
    assert expected in text and absent not in text


def test_the_sign_in_page_follows_the_browser(world: World) -> None:
    anonymous = world.client(None)
    assert "Contraseña" in visible_text(anonymous.get("/login", headers={"Accept-Language": "es"}).text)
    assert "Password" in visible_text(anonymous.get("/login", headers={"Accept-Language": "fr"}).text)


def test_staff_pages_stay_english_whatever_the_browser_asks(world: World) -> None:
    nurse = world.client("intake")
    for url in ("/patients", f"/patients/{world.patients['ann']}/contact"):
        page = nurse.get(url, headers={"Accept-Language": "es-MX,es;q=0.9"})
        assert page.status_code == 200, url
        text = visible_text(page.text)
        assert '<html lang="en">' in page.text
        assert "Decision support for qualified clinicians" in text
        assert "Sign out" in text and "Salir" not in text
    contact = visible_text(nurse.get(f"/patients/{world.patients['ann']}/contact").text)
    assert "hears from us" in contact and "Language of my pages" in contact


def test_dates_on_a_spanish_patients_pages_are_in_spanish(world: World) -> None:
    client, _patient_id, appointment_id = _spanish_patient(world)
    with world.db.session() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        day: dt.date = appointment.date
    text = visible_text(client.get("/my").text)
    spanish_day = format_date(day, "EEEE d 'de' MMMM 'de' y", locale="es")
    assert spanish_day in text, (spanish_day, text)
    assert day.strftime("%B") not in text or day.strftime("%B") == format_date(day, "MMMM", locale="es")
    december = format_date(dt.date(2026, 12, 3), "EEEE d 'de' MMMM 'de' y", locale="es")
    assert december == "jueves 3 de diciembre de 2026"
