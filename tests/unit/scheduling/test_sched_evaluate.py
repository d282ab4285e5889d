"""Evaluator: one failing schedule per hard constraint (each violation code proven), and figures."""

from __future__ import annotations

from typing import Any

import pytest

from igflow.scheduling.evaluate import Figures, compare, evaluate
from igflow.scheduling.models import Instance, Schedule


def _codes(inst_doc: dict[str, Any], sched_doc: dict[str, Any]) -> list[str]:
    result = evaluate(Instance.model_validate(inst_doc), Schedule.model_validate(sched_doc))
    for v in result.violations:
        assert v.message  # every violation explains itself
    return sorted({v.code for v in result.violations})


def test_valid_schedule_has_no_violation_and_exact_figures(docs: Any) -> None:
    sessions = [
        docs.session("S1", "P1", priority=1, preferred_start=["08:00", "08:00"]),
        docs.session("S2", "P2", priority=2, target="2027-01-05", sites=["north", "south"]),
        docs.session("S3", "P3", duration_min=61),
    ]
    inst = docs.instance(sessions, sites=[docs.site(), docs.site("south")])
    sched = docs.schedule(
        [
            docs.assignment("S1", start="09:00"),  # preferred start missed
            docs.assignment("S2", site_id="south", chair=1),  # not first site, 1 day from target
        ],
        unscheduled=["S3"],
    )
    result = evaluate(Instance.model_validate(inst), Schedule.model_validate(sched))
    assert result.violations == []
    f = result.figures
    assert f is not None
    assert (f.weighted_scheduled, f.target_distance_days, f.preference_misses, f.peak_load) == (110, 1, 2, 2)
    assert f.minutes_scheduled == 240
    # bound: min(demand 301, capacity 3 days x 2 sites x min(2 chairs, 1x2) x 240 min)
    assert f.minutes_bound == 301
    assert f.ratio == pytest.approx(240 / 301, abs=1e-6)


def test_every_session_exactly_once(docs: Any) -> None:
    inst = docs.instance([docs.session("S1", "P1"), docs.session("S2", "P2")])
    assert _codes(inst, docs.schedule([docs.assignment("S1")])) == ["S0-MISSING"]
    assert _codes(inst, docs.schedule([docs.assignment("S1")], ["S1", "S2"])) == ["S0-DUPLICATE"]
    assert _codes(inst, docs.schedule([docs.assignment("S1")], ["S2", "S9"])) == ["S0-UNKNOWN-SESSION"]


def test_c1_site_window_horizon_closed(docs: Any) -> None:
    two = [docs.site(), docs.site("south")]
    inst = docs.instance([docs.session("S1", "P1")], sites=two)
    assert _codes(inst, docs.schedule([docs.assignment("S1", site_id="south")])) == ["C1-SITE"]
    assert _codes(inst, docs.schedule([docs.assignment("S1", site_id="east")])) == ["C1-SITE"]
    assert _codes(inst, docs.schedule([docs.assignment("S1", date="2027-01-06")])) == ["C1-WINDOW"]
    wide = docs.instance([docs.session("S1", "P1", latest="2027-01-10")])
    assert _codes(wide, docs.schedule([docs.assignment("S1", date="2027-01-07")])) == ["C1-HORIZON"]
    holiday = docs.instance([docs.session("S1", "P1")], sites=[docs.site(closed_dates=["2027-01-04"])])
    assert _codes(holiday, docs.schedule([docs.assignment("S1")])) == ["C1-CLOSED"]
    staffed = docs.site(nurses={**docs.site()["nurses"], "sat": 1})  # staffed, but closed on Saturday
    weekend = docs.instance([docs.session("S1", "P1", latest="2027-01-09")], sites=[staffed], days=7)
    assert _codes(weekend, docs.schedule([docs.assignment("S1", date="2027-01-09")])) == ["C1-CLOSED"]


def test_c2_grid_open_close_with_rounding(docs: Any) -> None:
    inst = docs.instance([docs.session("S1", "P1")])
    assert _codes(inst, docs.schedule([docs.assignment("S1", start="08:30")])) == ["C2-GRID"]
    assert _codes(inst, docs.schedule([docs.assignment("S1", start="07:00")])) == ["C2-BEFORE-OPEN"]
    assert _codes(inst, docs.schedule([docs.assignment("S1", start="11:00")])) == ["C2-AFTER-CLOSE"]
    # 61 minutes rounds up to two 60-minute slots: 11:00 + 120 > 12:00
    short = docs.instance([docs.session("S1", "P1", duration_min=61)])
    assert _codes(short, docs.schedule([docs.assignment("S1", start="11:00")])) == ["C2-AFTER-CLOSE"]
    assert _codes(short, docs.schedule([docs.assignment("S1", start="10:00")])) == []


def test_c3_chair_range_and_overlap(docs: Any) -> None:
    inst = docs.instance([docs.session("S1", "P1"), docs.session("S2", "P2")])
    bad_range = docs.schedule([docs.assignment("S1", chair=3), docs.assignment("S2", start="10:00")])
    assert _codes(inst, bad_range) == ["C3-CHAIR-RANGE"]
    overlap = docs.schedule([docs.assignment("S1"), docs.assignment("S2", start="09:00")])
    assert _codes(inst, overlap) == ["C3-CHAIR-OVERLAP"]
    back_to_back = docs.schedule([docs.assignment("S1"), docs.assignment("S2", start="10:00")])
    assert _codes(inst, back_to_back) == []


def test_c4_nurse_capacity(docs: Any) -> None:
    sessions = [
        docs.session("S1", "P1", duration_min=180),
        docs.session("S2", "P2", duration_min=120),
        docs.session("S3", "P3", duration_min=120),
    ]
    inst = docs.instance(sessions, sites=[docs.site(chairs=3)])  # 1 nurse x 2 patients
    sched = docs.schedule(
        [
            docs.assignment("S1", chair=1),
            docs.assignment("S2", start="09:00", chair=2),
            docs.assignment("S3", start="10:00", chair=3),
        ]
    )
    assert _codes(inst, sched) == ["C4-NURSE-CAPACITY"]


def test_c5_start_capacity(docs: Any) -> None:
    inst = docs.instance([docs.session("S1", "P1"), docs.session("S2", "P2")])
    sched = docs.schedule([docs.assignment("S1", chair=1), docs.assignment("S2", chair=2)])
    assert _codes(inst, sched) == ["C5-START-CAPACITY"]


def test_c6_patient_one_session_per_date(docs: Any) -> None:
    inst = docs.instance(
        [docs.session("S1", "P1", duration_min=60), docs.session("S2", "P1", duration_min=60)]
    )
    sched = docs.schedule([docs.assignment("S1"), docs.assignment("S2", start="10:00")])
    assert _codes(inst, sched) == ["C6-PATIENT-DAY"]


def test_c7_after_links_and_whole_courses(docs: Any) -> None:
    link = {"session": "S1", "min_days": 1, "max_days": 1}
    s1 = docs.session("S1", "P1", sites=["north", "south"])
    s2 = docs.session("S2", "P1", sites=["north", "south"], latest="2027-01-06", after=link)
    inst = docs.instance([s1, s2], sites=[docs.site(), docs.site("south")])
    gap = docs.schedule([docs.assignment("S1"), docs.assignment("S2", date="2027-01-06")])
    assert _codes(inst, gap) == ["C7-AFTER-GAP"]
    other_site = docs.schedule(
        [docs.assignment("S1"), docs.assignment("S2", date="2027-01-05", site_id="south")]
    )
    assert _codes(inst, other_site) == ["C7-AFTER-SITE"]
    partial = docs.schedule([docs.assignment("S1")], unscheduled=["S2"])
    assert _codes(inst, partial) == ["C7-COURSE-PARTIAL"]
    ok = docs.schedule([docs.assignment("S1"), docs.assignment("S2", date="2027-01-05")])
    assert _codes(inst, ok) == []
    assert _codes(inst, docs.schedule([], unscheduled=["S1", "S2"])) == []


def test_c8_fixed_kept_exactly(docs: Any) -> None:
    fixed = {"site": "north", "date": "2027-01-04", "start": "08:00", "chair": 1}
    inst = docs.instance([docs.session("S1", "P1", fixed=fixed)])
    assert _codes(inst, docs.schedule([docs.assignment("S1", chair=2)])) == ["C8-FIXED"]
    assert _codes(inst, docs.schedule([docs.assignment("S1", start="09:00")])) == ["C8-FIXED"]
    assert _codes(inst, docs.schedule([], unscheduled=["S1"])) == ["C8-FIXED"]
    assert _codes(inst, docs.schedule([docs.assignment("S1")])) == []


def _fig(w: int, d: int, m: int, p: int) -> Figures:
    return Figures(w, d, m, p, 0, 0, 0, 0, 0.0)


def test_lexicographic_compare() -> None:
    assert compare(_fig(10, 99, 99, 99), _fig(9, 0, 0, 0)) == -1  # more weighted sessions wins
    assert compare(_fig(10, 1, 99, 99), _fig(10, 2, 0, 0)) == -1
    assert compare(_fig(10, 1, 1, 99), _fig(10, 1, 2, 0)) == -1
    assert compare(_fig(10, 1, 1, 1), _fig(10, 1, 1, 2)) == -1
    assert compare(_fig(10, 1, 1, 2), _fig(10, 1, 1, 1)) == 1
    assert compare(_fig(10, 1, 1, 1), _fig(10, 1, 1, 1)) == 0
