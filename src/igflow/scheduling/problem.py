"""Compiled, index-based view of an instance shared by the evaluator, greedy, CP-SAT and suggestion.

Times are in *slots of the day*: slot ``k`` starts at ``k * slot_minutes`` minutes after local
midnight. Dates are *day indices* counted from ``start_date``. Durations are rounded up to slots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from igflow.scheduling.models import Instance, Session, hhmm_to_min, min_to_hhmm

PRIORITY_WEIGHT = {1: 100, 2: 10, 3: 1}


@dataclass(frozen=True)
class SiteDay:
    """One site on one day (only open, staffed days exist)."""

    site: int
    day: int
    open_slot: int  # first allowed start slot
    close_min: int  # closing time, minutes after midnight
    chairs: int
    in_chair_cap: int  # nurses * patients_per_nurse
    starts_cap: int  # nurses * starts_per_nurse_per_slot

    @property
    def capacity(self) -> int:
        """Sessions that may be in chairs at once: min(chairs, nurses x patients per nurse)."""
        return min(self.chairs, self.in_chair_cap)


@dataclass
class SessionInfo:
    index: int
    id: str
    patient: str
    duration_min: int
    dur_slots: int
    sites: list[int]  # in preference order
    earliest: int  # day index, clipped to the horizon
    latest: int
    target: int
    priority: int
    weight: int
    parent: int | None  # index of the `after` session
    min_days: int
    max_days: int
    pref_lo: int | None  # preferred start window in slots (inclusive)
    pref_hi: int | None
    fixed: tuple[int, int, int, int] | None  # (site, day, start_slot, chair)
    course: int = -1


@dataclass
class Problem:
    instance: Instance
    slot_minutes: int
    n_slots: int  # slots per day
    days: int
    site_ids: list[str]
    site_days: dict[tuple[int, int], SiteDay]
    sessions: list[SessionInfo]
    courses: list[list[int]]  # session indices, parents before children
    session_index: dict[str, int]
    site_index: dict[str, int]
    children: list[list[int]] = field(default_factory=list)

    def date_of(self, day: int) -> dt.date:
        return self.instance.start_date + dt.timedelta(days=day)

    def day_of(self, date: dt.date) -> int:
        return (date - self.instance.start_date).days

    def hhmm(self, start_slot: int) -> str:
        return min_to_hhmm(start_slot * self.slot_minutes)

    def start_range(self, s: SessionInfo, sd: SiteDay) -> range:
        """Start slots at which session ``s`` fits inside the opening hours of ``sd``."""
        last = (sd.close_min - s.dur_slots * self.slot_minutes) // self.slot_minutes
        return range(sd.open_slot, last + 1)

    def options(self, s: SessionInfo) -> list[tuple[int, int]]:
        """(site, day) pairs where the session may take place (constraint 1 and capacity > 0)."""
        if s.fixed is not None:
            return [(s.fixed[0], s.fixed[1])]
        out = []
        for site in s.sites:
            for day in range(s.earliest, s.latest + 1):
                sd = self.site_days.get((site, day))
                if sd is not None and sd.capacity > 0 and sd.starts_cap > 0 and len(self.start_range(s, sd)):
                    out.append((site, day))
        return out

    def minutes_bound(self) -> int:
        demand = sum(s.duration_min for s in self.sessions)
        capacity = sum(
            sd.capacity * (sd.close_min - sd.open_slot * self.slot_minutes) for sd in self.site_days.values()
        )
        return min(demand, capacity)


def session_info(
    inst: Instance, site_index: dict[str, int], session_index: dict[str, int], i: int, s: Session
) -> SessionInfo:
    """Index view of one session (``session_index`` must hold its ``after`` session)."""
    slot = inst.slot_minutes
    day0 = inst.start_date
    fixed = None
    if s.fixed is not None:
        fixed = (
            site_index[s.fixed.site],
            (s.fixed.date - day0).days,
            hhmm_to_min(s.fixed.start) // slot,
            s.fixed.chair,
        )
    pref_lo = pref_hi = None
    if s.preferred_start is not None:
        pref_lo = -(-hhmm_to_min(s.preferred_start[0]) // slot)
        pref_hi = hhmm_to_min(s.preferred_start[1]) // slot
    return SessionInfo(
        index=i,
        id=s.id,
        patient=s.patient,
        duration_min=s.duration_min,
        dur_slots=-(-s.duration_min // slot),
        sites=[site_index[x] for x in s.sites],
        earliest=max(0, (s.earliest - day0).days),
        latest=min(inst.days - 1, (s.latest - day0).days),
        target=(s.target - day0).days,
        priority=s.priority,
        weight=PRIORITY_WEIGHT[s.priority],
        parent=session_index[s.after.session] if s.after is not None else None,
        min_days=s.after.min_days if s.after is not None else 0,
        max_days=s.after.max_days if s.after is not None else 0,
        pref_lo=pref_lo,
        pref_hi=pref_hi,
        fixed=fixed,
    )


def compile_instance(inst: Instance) -> Problem:
    slot = inst.slot_minutes
    n_slots = 24 * 60 // slot
    site_index = {site.id: i for i, site in enumerate(inst.sites)}
    site_days: dict[tuple[int, int], SiteDay] = {}
    for i, site in enumerate(inst.sites):
        closed = set(site.closed_dates)
        for day in range(inst.days):
            date = inst.start_date + dt.timedelta(days=day)
            hours = site.open.on(date.weekday())
            if hours is None or date in closed:
                continue
            open_min, close_min = hhmm_to_min(hours[0]), hhmm_to_min(hours[1])
            nurses = site.nurses.on(date.weekday())
            site_days[(i, day)] = SiteDay(
                site=i,
                day=day,
                open_slot=-(-open_min // slot),
                close_min=close_min,
                chairs=site.chairs,
                in_chair_cap=nurses * site.patients_per_nurse,
                starts_cap=nurses * site.starts_per_nurse_per_slot,
            )
    session_index = {s.id: i for i, s in enumerate(inst.sessions)}
    sessions = [session_info(inst, site_index, session_index, i, s) for i, s in enumerate(inst.sessions)]
    children: list[list[int]] = [[] for _ in sessions]
    for s in sessions:
        if s.parent is not None:
            children[s.parent].append(s.index)
    courses: list[list[int]] = []
    for s in sessions:
        if s.parent is None:
            order = [s.index]
            k = 0
            while k < len(order):
                order.extend(children[order[k]])
                k += 1
            for j in order:
                sessions[j].course = len(courses)
            courses.append(order)
    return Problem(
        instance=inst,
        slot_minutes=slot,
        n_slots=n_slots,
        days=inst.days,
        site_ids=[site.id for site in inst.sites],
        site_days=site_days,
        sessions=sessions,
        courses=courses,
        session_index=session_index,
        site_index=site_index,
        children=children,
    )


IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]


class SiteDayState:
    """Occupancy of one site-day: sessions in chairs and starts per slot, busy slots per chair."""

    __slots__ = ("_slot", "busy", "load", "sd", "starts")

    def __init__(self, sd: SiteDay, n_slots: int) -> None:
        self.sd = sd
        self._slot = 24 * 60 // n_slots
        self.load: IntArray = np.zeros(n_slots + 1, dtype=np.int32)
        self.starts: IntArray = np.zeros(n_slots + 1, dtype=np.int32)
        self.busy: BoolArray = np.zeros((sd.chairs, n_slots + 1), dtype=np.bool_)

    def peak(self) -> int:
        return int(self.load.max())

    def add(self, start: int, dur: int, chair: int) -> None:
        self.load[start : start + dur] += 1
        self.starts[start] += 1
        self.busy[chair - 1, start : start + dur] = True

    def remove(self, start: int, dur: int, chair: int) -> None:
        self.load[start : start + dur] -= 1
        self.starts[start] -= 1
        self.busy[chair - 1, start : start + dur] = False

    def feasible_starts(self, starts: range, dur: int) -> tuple[IntArray, IntArray]:
        """For each candidate start (vectorised): whether capacity allows it, and the first free chair.

        Returns (start_slots, chair) arrays of the feasible starts only (chair numbered from 1).
        """
        if len(starts) == 0:
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty
        lo, hi = starts.start, starts.stop - 1
        cap = self.sd.capacity
        windows = np.lib.stride_tricks.sliding_window_view(self.load[lo : hi + dur], dur)
        ok = windows.max(axis=1) < cap
        ok &= self.starts[lo : hi + 1] < self.sd.starts_cap
        if not ok.any():
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty
        busy_windows = np.lib.stride_tricks.sliding_window_view(self.busy[:, lo : hi + dur], dur, axis=1)
        free: BoolArray = np.logical_not(busy_windows.any(axis=2))  # chairs x starts
        any_free = free.any(axis=0)
        ok &= any_free
        idx = np.nonzero(ok)[0]
        chairs = free[:, idx].argmax(axis=0) + 1
        return (idx + lo).astype(np.int32), chairs.astype(np.int32)

    def best_fit(self, starts: range, dur: int) -> tuple[int, int] | None:
        """Best-fit placement: the tightest free stretch of a chair that holds the session, at its start.

        Score (smaller is better): length of the free stretch, then idle slots before the start,
        then the start. Returns (start slot, chair) or None.
        """
        feasible, _ = self.feasible_starts(starts, dur)
        if len(feasible) == 0:
            return None
        lo = self.sd.open_slot
        end = self.sd.close_min // self._slot
        width = end - lo
        free = ~self.busy[:, lo:end]
        chairs = free.shape[0]
        right = np.zeros((chairs, width + 1), dtype=np.int32)
        left = np.zeros((chairs, width + 1), dtype=np.int32)
        for t in range(width - 1, -1, -1):
            right[:, t] = np.where(free[:, t], right[:, t + 1] + 1, 0)
        for t in range(width):
            left[:, t + 1] = np.where(free[:, t], left[:, t] + 1, 0)
        rel = feasible - lo
        r = right[:, rel]  # chairs x candidates
        lft = left[:, rel]
        ok = r >= dur
        big = 10**6
        seg = np.where(ok, lft + r, big)
        score = (seg * 10_000 + np.where(ok, lft, 0)) * 1_000 + rel[None, :]
        flat = int(np.argmin(score))
        c, k = divmod(flat, len(rel))
        if seg[c, k] >= big:
            return None
        return int(feasible[k]), c + 1


class Occupancy:
    """Occupancy index of a whole (partial) schedule: site-day states and patient dates."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.states: dict[tuple[int, int], SiteDayState] = {}
        self.patient_days: dict[str, set[int]] = {}

    def state(self, site: int, day: int) -> SiteDayState:
        key = (site, day)
        st = self.states.get(key)
        if st is None:
            sd = self.problem.site_days.get(key)
            if sd is None:  # closed day (only reachable through an inconsistent fixed session)
                chairs = self.problem.instance.sites[site].chairs
                sd = SiteDay(site, day, open_slot=0, close_min=0, chairs=chairs, in_chair_cap=0, starts_cap=0)
            st = SiteDayState(sd, self.problem.n_slots)
            self.states[key] = st
        return st

    def add(self, s: SessionInfo, site: int, day: int, start: int, chair: int) -> None:
        self.state(site, day).add(start, s.dur_slots, chair)
        self.patient_days.setdefault(s.patient, set()).add(day)

    def remove(self, s: SessionInfo, site: int, day: int, start: int, chair: int) -> None:
        self.state(site, day).remove(start, s.dur_slots, chair)
        self.patient_days[s.patient].discard(day)

    def patient_free(self, patient: str, day: int) -> bool:
        return day not in self.patient_days.get(patient, ())


# A placement of one session: (site index, day index, start slot, chair number).
Placement = tuple[int, int, int, int]
