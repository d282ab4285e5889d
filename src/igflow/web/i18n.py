"""Languages of the pages: gettext catalogs (Babel), ``igflow/locale/<lang>/LC_MESSAGES/messages.po``.

The .po files are the only thing committed: each is compiled in memory the first time a page needs it
(``babel.messages.mofile.write_mo``), so no binary .mo lives in the repository. The language of the page
being rendered lives in a context variable set by ``render()`` for that one render and reset after it: a
request's language never leaks into another request's page, whichever thread or task renders it.

How the language is chosen (``choose``): the patient's stored preference, else the browser's
Accept-Language among ``SUPPORTED``, else English. Staff pages are English (their strings may be wrapped
for translation, but only English is shipped for them). How to add a language: docs/i18n.md.
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from igflow.i18n import N_

__all__ = ["N_", "SUPPORTED", "choose", "current", "gettext", "local_date", "ngettext", "using"]

#: languages a patient can choose, with their own name for themselves
SUPPORTED: tuple[str, ...] = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_LOCALE: ContextVar[str] = ContextVar("igflow_locale", default=DEFAULT)


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The catalog of one language, compiled once from its .po (fuzzy entries are left out)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled)


def current() -> str:
    """The language of the page being rendered ("en" outside a render)."""
    return _LOCALE.get()


@contextmanager
def using(locale: str) -> Iterator[str]:
    """Render in ``locale`` for the duration of the block (this context only: thread- and task-safe)."""
    token = _LOCALE.set(locale if locale in SUPPORTED else DEFAULT)
    try:
        yield _LOCALE.get()
    finally:
        _LOCALE.reset(token)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def _accepted(header: str) -> list[str]:
    """Accept-Language's tags, most wanted first (``es-MX,es;q=0.9,en;q=0.5`` -> es-MX, es, en)."""
    tags: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            tags.append((-weight, i, tag))
    return [tag for _, _, tag in sorted(tags)]


def negotiate(header: str | None) -> str | None:
    """The supported language the browser prefers, or None."""
    if not header:
        return None
    found = negotiate_locale(_accepted(header), list(SUPPORTED), sep="-")
    return found.lower() if found else None


def choose(stored: str | None, accept_language: str | None) -> str:
    """The patient's stored choice, else the browser's, else English."""
    if stored in SUPPORTED:
        return str(stored)
    return negotiate(accept_language) or DEFAULT


# English keeps the pages' strftime patterns exactly; another language reads the same date the way its
# readers write it (CLDR patterns, via Babel). A pattern without an entry here falls back to CLDR's medium.
_PATTERNS: dict[str, tuple[str, str]] = {
    # strftime pattern: (CLDR pattern for a date, for a datetime)
    "%A %d %B %Y": ("EEEE d 'de' MMMM 'de' y", "EEEE d 'de' MMMM 'de' y"),
    "%A %d %B": ("EEEE d 'de' MMMM", "EEEE d 'de' MMMM"),
    "%d %b %Y": ("d MMM y", "d MMM y"),
    "%a %d %b": ("EEE d MMM", "EEE d MMM"),
    "%A %d %B, %H:%M": ("EEEE d 'de' MMMM", "EEEE d 'de' MMMM, HH:mm"),
    "%A %d %B at %H:%M": ("EEEE d 'de' MMMM", "EEEE d 'de' MMMM 'a las' HH:mm"),
    "%d %b %Y %H:%M": ("d MMM y", "d MMM y HH:mm"),
    "%a %d %b, %H:%M": ("EEE d MMM", "EEE d MMM, HH:mm"),
    "%H:%M": ("HH:mm", "HH:mm"),
    "%Y-%m-%d %H:%M": ("y-MM-dd", "y-MM-dd HH:mm"),
}


def local_date(value: Any, pattern: str = "%d %b %Y") -> str:
    """A date or datetime in the page's language (``pattern`` is the English strftime pattern)."""
    if value is None or value == "":
        return ""
    locale = current()
    if locale == DEFAULT:
        return str(value.strftime(pattern))
    date_form, datetime_form = _PATTERNS.get(pattern, ("medium", "medium"))
    if isinstance(value, dt.datetime):
        return format_datetime(value, datetime_form, locale=Locale.parse(locale))
    return format_date(value, date_form, locale=Locale.parse(locale))
