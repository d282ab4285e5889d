"""A walk per role through the pages it reaches (issue 12): every demo user signs in and follows the links
it is shown, two clicks deep from its home page, in a real browser. No page may fail, log a console error,
or show the program's words instead of a person's (a field name said twice, an internal prefix, a bare
catalog id: :func:`tests.support.visible_text.offending`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from igflow.demo.network import DEMO_USERS
from tests.e2e.conftest import sign_in
from tests.support.visible_text import offending

PASSWORDS = {u.username: u.password for u in DEMO_USERS}
# Links the walk does not follow: downloads, the API and its docs, signing out.
SKIP = ("/logout", "/api/", "/docs", "/openapi.json", "/static/", "/fhir/")
SKIP_ENDINGS = (".ics", ".pdf", ".csv", ".json", ".xlsx", ".png", ".svg")
MAX_PAGES = 28  # per role: enough to reach each of its pages once from the menu and its first lists


def _links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "main a[href], nav a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    out = []
    for href in hrefs:
        url = urljoin(base + "/", href)
        parsed = urlparse(url)
        if parsed.netloc != urlparse(base).netloc or (parsed.fragment and not parsed.path):
            continue
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        if path.startswith(SKIP) or parsed.path.endswith(SKIP_ENDINGS):
            continue
        out.append(path)
    return out


def _shape(path: str) -> str:
    """'/patients/12' and '/patients/13' are the same page: visit one of each."""
    parts = urlparse(path).path.split("/")
    return "/".join("#" if p.isdigit() else p for p in parts)


@pytest.mark.parametrize(
    "username",
    sorted(u.username for u in DEMO_USERS),
)
def test_each_role_walks_its_pages_without_errors_or_codes(
    page: Any, live_server: str, username: str
) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    sign_in(page, username, PASSWORDS[username])
    start = urlparse(page.url).path or "/"
    queue: list[tuple[str, int]] = [(start, 0)]
    seen_shapes: set[str] = set()
    problems: list[str] = []
    visited = 0
    while queue and visited < MAX_PAGES:
        path, depth = queue.pop(0)
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        visited += 1
        status = response.status if response is not None else 0
        if status >= 400 and status != 404:  # a link to a record another role removed is not the page's fault
            problems.append(f"{path}: HTTP {status}")
            continue
        for snippet in offending(page.content()):
            problems.append(f"{path}: {snippet}")
        if depth < 2:
            queue.extend((link, depth + 1) for link in _links(page, live_server))
    assert visited >= 2, f"{username} reached no page beyond its home"
    assert problems == [], "\n".join(problems)
    assert errors == [], "\n".join(errors)
