"""Instance generator and slot suggestions."""

from __future__ import annotations

import datetime as dt
import math

from igflow.scheduling.clinical_times import clinical_chair_minutes, course_shape
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import _capacity, generate
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import After, Instance, Schedule, Session
from igflow.scheduling.suggest import SlotIndex


def test_generator_reproducible_and_load_means_demand_over_capacity() -> None:
    a = generate(7, 0.8, 2, 14)
    assert a.model_dump_json() == generate(7, 0.8, 2, 14).model_dump_json()
    assert a.model_dump_json() != generate(8, 0.8, 2, 14).model_dump_json()
    capacity = _capacity(a)
    demand = sum(s.duration_min for s in a.sessions)
    assert 0.8 * capacity <= demand <= 0.8 * capacity + 2_000
    heavy = generate(7, 1.1, 2, 14)
    assert sum(s.duration_min for s in heavy.sessions) >= 1.1 * _capacity(heavy)


def test_generator_realism() -> None:
    inst = generate(3, 0.9, 3, 28)
    assert all(10 <= s.chairs <= 16 for s in inst.sites)
    assert sum(1 for s in inst.sites if s.open.sat is not None) == 1
    assert all(s.closed_dates for s in inst.sites)  # a shared holiday
    priorities = {s.priority for s in inst.sessions}
    assert priorities == {1, 2, 3}
    assert any(s.after is not None for s in inst.sessions)  # multi-day courses
    assert any(s.fixed is not None for s in inst.sessions)
    assert any(s.preferred_start is not None for s in inst.sessions)
    # fixed sessions are consistent with each other: the greedy keeps them without violations
    assert evaluate(inst, solve_greedy(inst)).violations == []


def test_chair_minutes_come_from_the_clinical_engines_plan() -> None:
    from igflow.catalog import load_catalog
    from igflow.clinical import DoseRequest, plan_dose

    minutes = clinical_chair_minutes("pid", "maintenance", 70.0, 0, False)
    plan = plan_dose(
        DoseRequest(
            indication="pid",
            phase="maintenance",
            product="gammagard-liquid",
            weight_kg=70.0,
            height_cm=170.0,
            sex="female",
            age_years=55.0,
            policy="actual",
        ),
        load_catalog(),
    )
    assert minutes == math.ceil(plan.days[0].chair_min or 0)
    # A first infusion is observed longer; a 5-day induction has a plan for each day.
    assert clinical_chair_minutes("pid", "maintenance", 70.0, 0, True) > minutes
    assert clinical_chair_minutes("cidp", "induction", 70.0, 4, False) > 0
    shape = course_shape("cidp", "induction")
    assert shape.course_days == load_catalog().indications["cidp"].regimens["induction"].usual_days


def test_generator_takes_a_chair_minutes_callable() -> None:
    calls = []

    def fake(indication: str, phase: str, weight_kg: float, day_index: int, first: bool) -> int:
        calls.append((indication, phase, day_index))
        return 200

    inst = generate(1, 0.5, 1, 7, chair_minutes=fake)
    assert calls and {s.duration_min for s in inst.sessions} == {200}


def _new_course(inst: Instance) -> list[Session]:
    day = inst.start_date + dt.timedelta(days=7)
    sites = [inst.sites[0].id, inst.sites[1].id]
    first = Session(
        id="NEW1",
        patient="PNEW",
        duration_min=270,
        sites=sites,
        earliest=day,
        latest=day + dt.timedelta(days=4),
        target=day + dt.timedelta(days=1),
        priority=2,
        preferred_start=("08:00", "10:00"),
    )
    second = first.model_copy(
        update={
            "id": "NEW2",
            "earliest": day + dt.timedelta(days=1),
            "latest": day + dt.timedelta(days=7),
            "target": day + dt.timedelta(days=2),
            "after": After(session="NEW1", min_days=1, max_days=3),
        }
    )
    return [first, second]


def test_suggestions_are_ranked_and_bookable() -> None:
    inst = generate(2, 0.3, 2, 21)
    schedule = solve_greedy(inst)
    index = SlotIndex(inst, schedule)
    course = _new_course(inst)
    options = index.suggest(course)
    assert 1 <= len(options) <= 5
    assert [o.key() for o in options] == sorted(o.key() for o in options)
    for option in options:
        assert len(option.dates) == 2 and option.dates[0] < option.dates[1]
        booked = Instance.model_validate(
            {
                **inst.model_dump(),
                "sessions": [*inst.model_dump()["sessions"], *(s.model_dump() for s in course)],
            }
        )
        extra = [
            {"session": s.id, "site": option.site, "chair": c, "date": d, "start": t}
            for s, d, t, c in zip(course, option.dates, option.starts, option.chairs, strict=True)
        ]
        new_schedule = Schedule.model_validate(
            {**schedule.model_dump(), "assignments": [*schedule.model_dump()["assignments"], *extra]}
        )
        assert evaluate(booked, new_schedule).violations == []


def test_booking_an_option_updates_the_index() -> None:
    inst = generate(2, 0.3, 2, 21)
    index = SlotIndex(inst, solve_greedy(inst))
    course = _new_course(inst)
    first = index.suggest(course)[0]
    index.book(first, course)
    again = [o for o in index.suggest(course) if o.dates == first.dates and o.site == first.site]
    # the same patient cannot be booked twice on the same dates
    assert again == []


def test_suggestion_continuing_a_booked_course_keeps_site_and_gap() -> None:
    inst = generate(2, 0.3, 2, 21)
    schedule = solve_greedy(inst)
    patient_of = {s.id: s.patient for s in inst.sessions}
    count: dict[str, int] = {}
    for a in schedule.assignments:
        count[patient_of[a.session]] = count.get(patient_of[a.session], 0) + 1
    booked = next(a for a in schedule.assignments if count[patient_of[a.session]] == 1)
    session = next(s for s in inst.sessions if s.id == booked.session)
    follow = Session(
        id="NEXT",
        patient=session.patient,
        duration_min=200,
        sites=[s.id for s in inst.sites],
        earliest=inst.start_date,
        latest=inst.end_date,
        target=booked.date + dt.timedelta(days=2),
        priority=2,
        after=After(session=booked.session, min_days=1, max_days=3),
    )
    options = SlotIndex(inst, schedule).suggest([follow])
    assert options
    for o in options:
        assert o.site == booked.site
        assert 1 <= (o.dates[0] - booked.date).days <= 3
