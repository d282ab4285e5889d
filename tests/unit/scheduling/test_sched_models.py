"""Contract models: unknown keys rejected, fields validated, errors name the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from igflow.scheduling.models import Instance, Schedule, format_validation_error


def _error(model: Any, doc: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(doc)
    return format_validation_error(exc.value)


def test_valid_instance_round_trips(docs: Any) -> None:
    doc = docs.instance([docs.session("S1", "P1", preferred_start=["08:00", "10:00"])])
    inst = Instance.model_validate(doc)
    again = Instance.model_validate_json(inst.model_dump_json())
    assert again == inst
    assert inst.model_dump(mode="json")["sessions"][0]["earliest"] == "2027-01-04"


@pytest.mark.parametrize(
    ("path", "key"),
    [((), "colour"), (("sites", 0), "beds"), (("sessions", 0), "prority"), (("sites", 0, "open"), "mond")],
)
def test_unknown_key_rejected_naming_it(docs: Any, path: tuple[Any, ...], key: str) -> None:
    doc = docs.instance([docs.session("S1", "P1")])
    node = doc
    for part in path:
        node = node[part]
    node[key] = 1
    msg = _error(Instance, doc)
    assert key in msg
    assert "Extra inputs are not permitted" in msg


def test_unknown_key_in_fixed_and_schedule(docs: Any) -> None:
    fixed = {"site": "north", "date": "2027-01-04", "start": "08:00", "chair": 1, "room": 3}
    assert "room" in _error(Instance, docs.instance([docs.session("S1", "P1", fixed=fixed)]))
    sched = docs.schedule([docs.assignment("S1")])
    sched["assignments"][0]["nurse"] = "x"
    assert "assignments.0.nurse" in _error(Schedule, sched)
    sched = docs.schedule([])
    sched["extra"] = True
    assert "extra" in _error(Schedule, sched)


@pytest.mark.parametrize("slot", [0, 7, 45, 90])
def test_slot_minutes_must_be_allowed(docs: Any, slot: int) -> None:
    assert "slot_minutes" in _error(Instance, docs.instance([], slot_minutes=slot))


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("earliest", "2027-1-4", "earliest"),
        ("target", "2027-01-09", "target"),
        ("preferred_start", ["8:00", "10:00"], "preferred_start"),
        ("preferred_start", ["11:00", "10:00"], "preferred_start"),
        ("priority", 4, "priority"),
        ("duration_min", 0, "duration_min"),
        ("sites", ["south"], "sites[0]"),
        ("after", {"session": "S9", "min_days": 1, "max_days": 2}, "after.session"),
        ("after", {"session": "S1", "min_days": 1, "max_days": 2}, "after.session"),
        ("after", {"session": "S1", "min_days": 3, "max_days": 2}, "min_days"),
        ("fixed", {"site": "south", "date": "2027-01-04", "start": "08:00", "chair": 1}, "fixed.site"),
        ("fixed", {"site": "north", "date": "2027-01-04", "start": "08:00", "chair": 9}, "fixed.chair"),
        ("fixed", {"site": "north", "date": "2027-01-04", "start": "08:30", "chair": 1}, "fixed.start"),
        ("fixed", {"site": "north", "date": "2027-01-06", "start": "08:00", "chair": 1}, "fixed.date"),
    ],
)
def test_session_fields_validated(docs: Any, field: str, value: Any, needle: str) -> None:
    doc = docs.instance([docs.session("S1", "P1", **{field: value})])
    assert needle in _error(Instance, doc)


def test_site_fields_and_references(docs: Any) -> None:
    bad_hours = docs.site(open={**docs.site()["open"], "mon": ["12:00", "08:00"]})
    assert "mon" in _error(Instance, docs.instance([], sites=[bad_hours]))
    bad_time = docs.site(open={**docs.site()["open"], "tue": ["25:00", "26:00"]})
    assert "open.tue" in _error(Instance, docs.instance([], sites=[bad_time]))
    missing_day = docs.site()
    del missing_day["nurses"]["sun"]
    assert "nurses.sun" in _error(Instance, docs.instance([], sites=[missing_day]))
    assert "duplicate site" in _error(Instance, docs.instance([], sites=[docs.site(), docs.site()]))
    dup = [docs.session("S1", "P1"), docs.session("S1", "P2")]
    assert "duplicate session" in _error(Instance, docs.instance(dup))
    assert "format" in _error(Instance, docs.instance([], format="igflow.schedule-instance/2"))


def test_after_cycle_rejected(docs: Any) -> None:
    a = docs.session("S1", "P1", after={"session": "S2", "min_days": 1, "max_days": 1})
    b = docs.session("S2", "P1", after={"session": "S1", "min_days": 1, "max_days": 1})
    assert "cycle" in _error(Instance, docs.instance([a, b]))
