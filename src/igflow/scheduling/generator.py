"""Realistic synthetic instance generator for benchmarks and tests (synthetic data only).

``load`` is total demand chair-minutes divided by the capacity bound (sum over open site-days of
min(chairs, nurses x patients_per_nurse) x open minutes), so 0.8 means a centre booked at 80 %
of what its chairs and nurses can hold and 1.1 means more demand than capacity.

Courses (dose split over days, repeat interval, priority) come from the catalog's regimens and chair
times from the clinical engine's titration plans (:mod:`igflow.scheduling.clinical_times`); a different
``chair_minutes(indication, phase, weight_kg, day_index, first_infusion)`` callable may be passed in.
The tables below hold only synthetic choices: the indication mix, booking windows and centre shapes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from igflow.scheduling.clinical_times import CourseShape, clinical_chair_minutes, course_shape
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import (
    INSTANCE_FORMAT,
    After,
    Fixed,
    Instance,
    Session,
    Site,
    WeeklyHours,
    WeeklyNurses,
)
from igflow.scheduling.problem import compile_instance

ChairMinutes = Callable[[str, str, float, int, bool], int]


@dataclass(frozen=True)
class Regimen:
    """A line of the synthetic mix: a catalog indication and phase, its share and booking window."""

    indication: str  # catalog id
    phase: str  # catalog phase
    share: float  # share of patients (synthetic)
    window_before_days: int  # booking policy, not clinical
    window_after_days: int
    paediatric: bool = False

    @property
    def shape(self) -> CourseShape:
        return course_shape(self.indication, self.phase)

    @property
    def priority(self) -> int:
        return self.shape.priority

    @property
    def course_days(self) -> int:
        return self.shape.course_days

    @property
    def interval_days(self) -> tuple[int, ...]:
        weeks = self.shape.interval_weeks
        if weeks is None:
            return ()
        return tuple(7 * w for w in range(math.ceil(weeks[0]), math.floor(weeks[1]) + 1))


# --------------------------------------------------------------------------------------------
# PARAMETERS TABLE 2 — indication mix (synthetic shares of an IVIG service; the regimens
# themselves come from the catalog).
# --------------------------------------------------------------------------------------------
REGIMENS: tuple[Regimen, ...] = (
    Regimen("cidp", "maintenance", 0.28, 3, 3),
    Regimen("pid", "maintenance", 0.30, 3, 4),
    Regimen("sid", "maintenance", 0.06, 3, 4),
    Regimen("mmn", "maintenance", 0.08, 3, 4),
    Regimen("dermatomyositis", "maintenance", 0.05, 3, 4),
    Regimen("cidp", "induction", 0.06, 2, 5),
    Regimen("mmn", "induction", 0.02, 2, 5),
    Regimen("myasthenia-gravis", "acute", 0.04, 1, 4),
    Regimen("kawasaki", "acute", 0.02, 0, 2, paediatric=True),
    Regimen("gbs", "acute", 0.02, 0, 2),
    Regimen("itp-adult", "acute", 0.03, 0, 1),
    Regimen("itp-adult", "maintenance", 0.04, 3, 3),
)

# --------------------------------------------------------------------------------------------
# PARAMETERS TABLE 3 — centres.
# --------------------------------------------------------------------------------------------
SITE_NAMES = (
    "pasadena", "glendale", "burbank", "arcadia", "torrance",
    "downey", "whittier", "pomona", "ontario", "irvine",
    "anaheim", "fullerton", "carson", "compton", "encino",
)  # fmt: skip
CHAIRS_RANGE = (10, 16)
PATIENTS_PER_NURSE = 4
HOURS_CHOICES = (("08:00", "18:00"), ("07:30", "17:30"), ("08:00", "17:00"))
FRIDAY_CLOSE = "16:00"
SATURDAY_HOURS = ("08:00", "12:00")  # one centre opens Saturday mornings
PREFERRED_START_CHOICES = ((0.30, ("08:00", "09:30")), (0.15, ("10:00", "13:00")))
FIXED_SHARE = 0.05  # routine single sessions already booked


def regimen_for(indication: str, phase: str) -> Regimen:
    for r in REGIMENS:
        if r.indication == indication and r.phase == phase:
            return r
    raise KeyError(f"no regimen for {indication!r} / {phase!r}")


def _make_sites(rng: random.Random, count: int, start_date: dt.date, days: int) -> list[Site]:
    holiday = None
    if days >= 14:  # one shared holiday on a weekday of the second week
        monday = start_date + dt.timedelta(days=(7 - start_date.weekday()) % 7 + 7)
        holiday = monday + dt.timedelta(days=rng.randrange(5))
    sites = []
    for i in range(count):
        name = SITE_NAMES[i] if i < len(SITE_NAMES) else f"centre-{i + 1:02d}"
        chairs = rng.randint(*CHAIRS_RANGE)
        hours = rng.choice(HOURS_CHOICES)
        nurses = math.ceil(chairs / PATIENTS_PER_NURSE)
        closed = []
        if holiday is not None and holiday < start_date + dt.timedelta(days=days):
            closed.append(holiday)
        if rng.random() < 0.3:  # staff training day
            extra = start_date + dt.timedelta(days=rng.randrange(days))
            if extra.weekday() < 5 and extra not in closed:
                closed.append(extra)
        sites.append(
            Site(
                id=name,
                chairs=chairs,
                open=WeeklyHours(
                    mon=hours,
                    tue=hours,
                    wed=hours,
                    thu=hours,
                    fri=(hours[0], FRIDAY_CLOSE),
                    sat=SATURDAY_HOURS if i == 0 else None,
                    sun=None,
                ),
                nurses=WeeklyNurses(
                    mon=nurses,
                    tue=nurses,
                    wed=nurses,
                    thu=nurses,
                    fri=max(1, nurses - 1),
                    sat=2 if i == 0 else 0,
                    sun=0,
                ),
                patients_per_nurse=PATIENTS_PER_NURSE,
                starts_per_nurse_per_slot=1,
                closed_dates=sorted(closed),
            )
        )
    return sites


def _weekday_on_or_after(start_date: dt.date, day: int) -> int:
    while (start_date + dt.timedelta(days=day)).weekday() >= 5:
        day += 1
    return day


def generate(
    seed: int,
    load: float = 0.8,
    sites: int = 3,
    days: int = 28,
    *,
    start_date: dt.date = dt.date(2027, 1, 4),
    slot_minutes: int = 15,
    chair_minutes: ChairMinutes = clinical_chair_minutes,
    fixed_share: float = FIXED_SHARE,
) -> Instance:
    """A reproducible synthetic instance (same arguments, same document)."""
    rng = random.Random(seed)
    site_models = _make_sites(rng, sites, start_date, days)
    empty = Instance(
        format=INSTANCE_FORMAT,
        slot_minutes=slot_minutes,
        start_date=start_date,
        days=days,
        sites=site_models,
        sessions=[],
    )
    capacity = _capacity(empty)
    # catchments are sized to the centres: a patient's home centre is drawn in proportion to its
    # capacity (chair-minutes the nurses can staff), so `load` means the same at every centre
    weights = _capacity_by_site(empty)
    site_ids = [s.id for s in site_models]
    sessions: list[Session] = []
    demand = 0
    patient_no = 0
    shares = [r.share for r in REGIMENS]
    while demand < load * capacity:
        patient_no += 1
        patient = f"P{patient_no:05d}"
        r = rng.choices(REGIMENS, weights=shares)[0]
        weight_kg = rng.uniform(8, 30) if r.paediatric else min(130.0, max(45.0, rng.gauss(75, 15)))
        home = rng.choices(range(sites), weights=weights)[0]
        allowed = [site_ids[home]]
        if r.priority == 1:
            allowed += [x for x in site_ids if x != site_ids[home]]
        elif sites > 1 and rng.random() < 0.5:
            allowed.append(site_ids[(home + rng.choice((-1, 1))) % sites])
        pref = None
        roll = rng.random()
        for share, window in PREFERRED_START_CHOICES:
            if roll < share:
                pref = window
                break
            roll -= share
        span = (r.course_days - 1) * 3
        # course start targets (weekday), repeating at the regimen interval
        if r.interval_days:
            interval = rng.choice(r.interval_days)
            first = _weekday_on_or_after(start_date, rng.randrange(interval))
            starts = list(range(first, days - span, interval))
        else:
            if days - span <= 0:
                continue
            starts = [_weekday_on_or_after(start_date, rng.randrange(max(1, days - span)))]
        first_infusion = r.phase in ("induction", "acute") and rng.random() < 0.7
        for t0 in starts:
            prev: str | None = None
            target = t0
            for k in range(r.course_days):
                if k > 0:
                    target = _weekday_on_or_after(start_date, target + 1)
                if target >= days:
                    break
                earliest = max(0, t0 - r.window_before_days + k)
                latest = min(days - 1, t0 + r.window_after_days + 3 * k)
                earliest = min(earliest, target)
                latest = max(latest, target)
                sid = f"S{len(sessions) + 1:05d}"
                duration = chair_minutes(r.indication, r.phase, weight_kg, k, first_infusion and k == 0)
                sessions.append(
                    Session(
                        id=sid,
                        patient=patient,
                        duration_min=duration,
                        sites=allowed,
                        earliest=start_date + dt.timedelta(days=earliest),
                        latest=start_date + dt.timedelta(days=latest),
                        target=start_date + dt.timedelta(days=target),
                        priority=r.priority,
                        after=None if prev is None else After(session=prev, min_days=1, max_days=3),
                        preferred_start=pref,
                    )
                )
                demand += duration
                prev = sid
            first_infusion = False
    instance = empty.model_copy(update={"sessions": sessions})
    instance = Instance.model_validate(instance.model_dump())
    if fixed_share > 0:
        instance = _fix_some(instance, rng, fixed_share)
    return instance


def _capacity_by_site(instance: Instance) -> list[int]:
    p = compile_instance(instance)
    out = [0] * len(instance.sites)
    for (site, _day), sd in p.site_days.items():
        out[site] += sd.capacity * (sd.close_min - sd.open_slot * p.slot_minutes)
    return out


def _capacity(instance: Instance) -> int:
    return sum(_capacity_by_site(instance))


def _fix_some(instance: Instance, rng: random.Random, share: float) -> Instance:
    """Mark a share of routine single sessions as already booked, where a front desk put them."""
    followers = {s.after.session for s in instance.sessions if s.after is not None}
    booked = {a.session: a for a in solve_greedy(instance).assignments}
    sessions = []
    for s in instance.sessions:
        a = booked.get(s.id)
        if (
            a is not None
            and s.priority == 3
            and s.after is None
            and s.id not in followers
            and rng.random() < share
        ):
            s = s.model_copy(update={"fixed": Fixed(site=a.site, date=a.date, start=a.start, chair=a.chair)})
        sessions.append(s)
    return Instance.model_validate(instance.model_copy(update={"sessions": sessions}).model_dump())
