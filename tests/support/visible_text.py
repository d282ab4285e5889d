"""What a person reads on a page, and the words in it that are the program's, not the person's.

``visible_text(html)`` is the page's text as a reader sees it: tags, attributes (hence URLs, ids and form
names) and the contents of ``<script>``, ``<style>`` and ``<template>`` left out, one text node a line.
``offending(html)`` lists the snippets of that text that speak in codes:

- a field's name said twice (``date_of_birth: date_of_birth: ...``) or any ``name: name:`` repeat;
- ``payload.`` (a chart entry's internal prefix), ``form: `` (the key of a refusal naming no field);
- Pydantic's own words (``Value error, ``, ``Input should be ...``, ``String should ...``);
- a bare catalog id (``gammagard-liquid``, ``cidp``) as a whole word, where the catalog has a name for it.
  Ids that are ordinary words, written as the name is (``dermatomyositis`` for "Dermatomyositis"), cannot
  be told from prose and are not looked for.

Use it on a page's HTML in any test: ``assert offending(response.text) == []``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from html.parser import HTMLParser

#: elements whose content is not read on the page
_UNSEEN = {"script", "style", "template", "title", "head"}

#: text patterns that are the program's words (the pattern, and what it means, for the failure message)
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[a-z_]+: [a-z_]+:"), "a field name said twice"),
    (re.compile(r"\b([a-z][a-z0-9_]*): \1:"), "a field name said twice"),
    (re.compile(r"payload\."), "an internal 'payload.' prefix"),
    (re.compile(r"\bform: "), "the 'form:' key of a refusal"),
    (re.compile(r"Value error, "), "Pydantic's 'Value error,'"),
    (re.compile(r"\b(?:Input|String) should\b"), "Pydantic's own words"),
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNSEEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _UNSEEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            text = " ".join(data.split())
            if text:
                self.nodes.append(text)


def text_nodes(html: str) -> list[str]:
    """Each piece of visible text of the page, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.nodes


def visible_text(html: str) -> str:
    """The page's visible text, one text node a line."""
    return "\n".join(text_nodes(html))


@lru_cache(maxsize=1)
def catalog_ids() -> frozenset[str]:
    """Product and indication ids of the catalog that a reader could tell from prose."""
    from igflow.catalog import load_catalog

    catalog = load_catalog()
    items = [*catalog.products.values(), *catalog.indications.values()]
    return frozenset(i.id for i in items if i.id.lower() != i.name.lower())


def _id_pattern(ids: Iterable[str]) -> re.Pattern[str]:
    words = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    # whole words: not inside a longer id, a path, a query ("/orders/new?indication_id=cidp") or a web
    # address ("privigen.com"), and not a unit after a number ("34 ms")
    return re.compile(rf"(?<![\w/=.-])(?<!\d )({words})(?![\w-]|\.\w)")


def offending(html: str, ids: Iterable[str] | None = None) -> list[str]:
    """The snippets of the page's visible text that speak in codes (see the module's docstring)."""
    found: list[str] = []
    bare = _id_pattern(catalog_ids() if ids is None else ids)
    for node in text_nodes(html):
        for pattern, _meaning in PATTERNS:
            for match in pattern.finditer(node):
                found.append(_snippet(node, match.start(), match.end()))
        for match in bare.finditer(node):
            found.append(_snippet(node, match.start(), match.end()))
    return found


def _snippet(text: str, start: int, end: int, around: int = 30) -> str:
    left = max(0, start - around)
    return ("…" if left else "") + text[left : end + around] + ("…" if end + around < len(text) else "")
