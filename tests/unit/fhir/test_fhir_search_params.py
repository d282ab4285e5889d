"""Search parameter parsing: the strict check, dates with prefixes, tokens, references, paging links."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from igflow.fhir.search import (
    BadRequest,
    DateRange,
    Token,
    page_links,
    parse,
    parse_date,
    parse_reference,
    parse_token,
    prefixed_id,
)

D = dt.date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-04", DateRange(D(2026, 3, 4), D(2026, 3, 5))),
        ("eq2026-03", DateRange(D(2026, 3, 1), D(2026, 4, 1))),
        ("2026-12", DateRange(D(2026, 12, 1), D(2027, 1, 1))),
        ("2026", DateRange(D(2026, 1, 1), D(2027, 1, 1))),
        ("ge2026-03-04", DateRange(D(2026, 3, 4), None)),
        ("gt2026-03-04", DateRange(D(2026, 3, 5), None)),
        ("le2026-03", DateRange(None, D(2026, 4, 1))),
        ("lt2026", DateRange(None, D(2026, 1, 1))),
        ("2024-02-29", DateRange(D(2024, 2, 29), D(2024, 3, 1))),
    ],
)
def test_a_date_is_a_range_of_days(value: str, expected: DateRange) -> None:
    assert parse_date("date", value) == expected


@pytest.mark.parametrize("value", ["2026-02-30", "26-01-01", "2026-01-01T10:00", "sa2026", "ne2026", "soon"])
def test_a_date_the_server_cannot_search_by_is_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_date("birthdate", value)
    assert refused.value.field == "birthdate" and refused.value.status_code == 400


def test_tokens_and_references() -> None:
    assert parse_token("http://loinc.org|8867-4") == Token("http://loinc.org", "8867-4")
    assert parse_token("8867-4") == Token(None, "8867-4")
    assert parse_token("|x") == Token("", "x")
    assert parse_reference("patient", "Patient/12", "Patient") == "12"
    assert parse_reference("patient", "https://host/fhir/R4/Patient/12", "Patient") == "12"
    assert parse_reference("patient", "12", "Patient") == "12"
    with pytest.raises(BadRequest, match="expected a reference to Patient"):
        parse_reference("patient", "Group/12", "Patient")
    assert prefixed_id("site-4", "site-") == 4
    assert prefixed_id("chair-4", "site-") is None
    assert prefixed_id("site-x", "site-") is None


def test_parameters_are_strict_and_paging_is_bounded() -> None:
    params = parse(
        "Patient",
        [("name", "ann,sol"), ("name", "north"), ("_count", "500"), ("birthdate", "")],
        ["name", "birthdate"],
    )
    assert params.values == {"name": [["ann", "sol"], ["north"]]}  # OR inside, AND between; empty ignored
    assert params.count == 200 and params.offset == 0
    for name, value, words in (
        ("colour", "blue", "not a search parameter"),
        ("name:exact", "Ann", "modifiers"),
        ("_sort", "name", "not a search parameter"),
        ("_count", "ten", "whole number"),
        ("_offset", "-1", "whole number"),
        ("_format", "xml", "only JSON"),
    ):
        with pytest.raises(BadRequest, match=words) as refused:
            parse("Patient", [(name, value)], ["name"])
        assert refused.value.field == name
    assert parse("Patient", [("_format", "application/fhir+json")], []).values == {}


def test_links_carry_the_parameters_and_the_paging() -> None:
    params = parse("Observation", [("patient", "1"), ("_count", "2"), ("_offset", "2")], ["patient"])
    links = {link["relation"]: link["url"] for link in page_links("http://h/fhir/R4/Observation", params, 5)}
    assert set(links) == {"self", "first", "previous", "next"}
    assert parse_qs(urlsplit(links["next"]).query) == {"patient": ["1"], "_count": ["2"], "_offset": ["4"]}
    assert parse_qs(urlsplit(links["previous"]).query)["_offset"] == ["0"]
    last = parse("Observation", [("_count", "2"), ("_offset", "4")], [])
    assert {link["relation"] for link in page_links("http://h/x", last, 5)} == {"self", "first", "previous"}
