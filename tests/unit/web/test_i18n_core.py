"""The language machinery (issue 13): negotiation, the per-render language, dates and numbers by locale,
and the Spanish catalog read from its .po."""

from __future__ import annotations

import datetime as dt
import threading

from igflow.clinical.triage import triage_catalog
from igflow.messages.preferences import LANGUAGES
from igflow.web import i18n
from igflow.web.render import number


def test_the_browser_language_is_negotiated_among_the_supported_ones() -> None:
    assert i18n.negotiate("es-MX,es;q=0.9,en;q=0.5") == "es"
    assert i18n.negotiate("fr-FR,fr;q=0.9") is None
    assert i18n.negotiate("fr;q=1, es;q=0.3") == "es"
    assert i18n.negotiate("en-US,en;q=0.9,es;q=0.8") == "en"
    assert i18n.negotiate("es;q=0, en") == "en"
    assert i18n.negotiate("") is None
    assert i18n.choose(None, "fr") == "en"
    assert i18n.choose("es", "en-US") == "es", "the patient's stored choice wins over the browser"
    assert i18n.choose("xx", "es-AR") == "es"
    assert set(LANGUAGES) == set(i18n.SUPPORTED)


def test_dates_and_numbers_follow_the_page_language() -> None:
    day = dt.date(2026, 12, 3)
    at = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.UTC)
    assert i18n.local_date(day, "%A %d %B %Y") == "Thursday 03 December 2026", "English unchanged"
    assert number(72.5) == "72.5"
    with i18n.using("es"):
        assert i18n.local_date(day, "%A %d %B %Y") == "jueves 3 de diciembre de 2026"
        assert i18n.local_date(day, "%d %b %Y") == "3 dic 2026"
        assert i18n.local_date(at, "%A %d %B at %H:%M") == "jueves 3 de diciembre a las 14:05"
        assert number(72.5) == "72,5"
        assert number(1234.25) == "1234,25" or number(1234.25) == "1.234,25"
    assert i18n.current() == "en", "the language is reset after the block"


def test_the_spanish_catalog_translates_and_each_thread_keeps_its_own_language() -> None:
    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def page(locale: str) -> None:
        with i18n.using(locale):
            barrier.wait()  # both threads inside their render at once
            seen[locale] = i18n.gettext("My record")

    threads = [threading.Thread(target=page, args=(loc,)) for loc in ("en", "es")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"en": "My record", "es": "Mis datos"}


def test_every_triage_text_a_patient_reads_has_its_spanish_and_names_its_source() -> None:
    catalog = triage_catalog()
    texts = [
        *((lv.words, lv.words_es, lv.source_es) for lv in catalog.levels),
        *((lv.patient_text, lv.patient_text_es, lv.source_es) for lv in catalog.levels),
        *((q.text, q.text_es, q.source_es) for q in catalog.questions),
        *((r.meaning, r.meaning_es, r.source_es) for r in catalog.rules),
    ]
    for english, spanish, source in texts:
        assert spanish.strip() and spanish != english, english
        assert "own Spanish translation" in source and "no Spanish version" in source, source
    emergency = catalog.level("emergency")
    assert "911" in emergency.patient_text_es and emergency.words_in("es") == emergency.words_es
    assert emergency.words_in("en") == emergency.words
