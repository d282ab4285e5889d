"""Slot suggestions for one new course among booked sessions.

Build a :class:`SlotIndex` once from the instance and its current schedule (the occupancy index:
load and starts per slot and busy chairs per site-day, and each patient's booked dates), then call
:meth:`SlotIndex.suggest` for each new course. Options are ranked by the contract's quality order
after the course is booked: total ``|date - target|``, then preference misses, then the increase in
peak load; ties go to the earlier date and start. At most one option per (site, dates) is returned,
with its best start on each date, so the front desk sees genuinely different choices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from igflow.scheduling.models import Instance, Schedule, Session, hhmm_to_min
from igflow.scheduling.problem import Occupancy, Problem, SessionInfo, compile_instance, session_info


@dataclass(frozen=True)
class SlotOption:
    site: str
    dates: tuple[dt.date, ...]  # one per session of the course, in the given order
    starts: tuple[str, ...]
    chairs: tuple[int, ...]
    target_distance_days: int
    preference_misses: int
    peak_increase: int

    def key(self) -> tuple[int, int, int, tuple[dt.date, ...], tuple[str, ...]]:
        return (
            self.target_distance_days,
            self.preference_misses,
            self.peak_increase,
            self.dates,
            self.starts,
        )


_Choice = tuple[tuple[int, int, int], int, int, int]  # (score, day, start, chair)


class SlotIndex:
    """Occupancy of a booked schedule, built once and queried many times."""

    def __init__(self, instance: Instance, schedule: Schedule) -> None:
        self.instance = instance
        self.problem: Problem = compile_instance(instance)
        self.occ = Occupancy(self.problem)
        self.booked: dict[int, tuple[int, int]] = {}  # session index -> (site, day)
        p = self.problem
        for a in schedule.assignments:
            s = p.sessions[p.session_index[a.session]]
            start = hhmm_to_min(a.start) // p.slot_minutes
            self.occ.add(s, p.site_index[a.site], p.day_of(a.date), start, a.chair)
            self.booked[s.index] = (p.site_index[a.site], p.day_of(a.date))

    def book(self, option: SlotOption, course: list[Session]) -> None:
        """Record a chosen option in the index (so the next query sees it)."""
        infos = self._infos(course)
        p = self.problem
        for s, date, start, chair in zip(infos, option.dates, option.starts, option.chairs, strict=True):
            site = p.site_index[option.site]
            self.occ.add(s, site, p.day_of(date), hhmm_to_min(start) // p.slot_minutes, chair)

    def _infos(self, course: list[Session]) -> list[SessionInfo]:
        p = self.problem
        local = {s.id: len(p.sessions) + k for k, s in enumerate(course)}
        ids = {**p.session_index, **local}
        return [session_info(self.instance, p.site_index, ids, local[s.id], s) for s in course]

    def _best_on(self, s: SessionInfo, site: int, day: int) -> _Choice | None:
        p = self.problem
        sd = p.site_days.get((site, day))
        if sd is None or not self.occ.patient_free(s.patient, day):
            return None
        st = self.occ.state(site, day)
        starts, chairs = st.feasible_starts(p.start_range(s, sd), s.dur_slots)
        if len(starts) == 0:
            return None
        peak = int(st.load.max())
        windows = np.lib.stride_tricks.sliding_window_view(st.load, s.dur_slots)[starts]
        increase = np.maximum(windows.max(axis=1) + 1 - peak, 0)
        miss = np.zeros(len(starts), dtype=np.int64)
        if s.pref_lo is not None and s.pref_hi is not None:
            miss = ((starts < s.pref_lo) | (starts > s.pref_hi)).astype(np.int64)
        miss += int(site != s.sites[0])
        k = int(np.lexsort((starts, increase, miss))[0])
        score = (abs(day - s.target), int(miss[k]), int(increase[k]))
        return score, day, int(starts[k]), int(chairs[k])

    def suggest(self, course: list[Session], top: int = 5) -> list[SlotOption]:
        """The ``top`` best options for ``course`` (linked by ``after`` in the given order)."""
        p = self.problem
        infos = self._infos(course)
        by_index = {s.index: k for k, s in enumerate(infos)}
        root = infos[0]
        root_sites, root_lo, root_hi = root.sites, root.earliest, root.latest
        if root.parent is not None:  # continues a booked course: same site, inside the gap
            if root.parent not in self.booked:
                return []
            booked_site, booked_day = self.booked[root.parent]
            root_sites = [booked_site] if booked_site in root.sites else []
            root_lo = max(root_lo, booked_day + root.min_days)
            root_hi = min(root_hi, booked_day + root.max_days)
        options: list[SlotOption] = []
        for site in root_sites:
            if any(site not in s.sites for s in infos):
                continue
            for day in range(root_lo, root_hi + 1):
                first = self._best_on(root, site, day)
                if first is None:
                    continue
                chosen: list[_Choice] = [first]
                added = [(root, site, first[1], first[2], first[3])]
                self.occ.add(root, site, first[1], first[2], first[3])
                ok = True
                for s in infos[1:]:
                    if s.parent is None:
                        # not linked to the day before it (a part-booked course: a booked day lies
                        # between), so its own window already keeps the gaps to the booked days
                        lo, hi = s.earliest, s.latest
                    elif s.parent in by_index:
                        parent_day = chosen[by_index[s.parent]][1]
                        lo = max(s.earliest, parent_day + s.min_days)
                        hi = min(s.latest, parent_day + s.max_days)
                    else:
                        ok = False
                        break
                    best: _Choice | None = None
                    for d in range(lo, hi + 1):
                        got = self._best_on(s, site, d)
                        if got is not None and (best is None or (got[0], got[1]) < (best[0], best[1])):
                            best = got
                    if best is None:
                        ok = False
                        break
                    chosen.append(best)
                    self.occ.add(s, site, best[1], best[2], best[3])
                    added.append((s, site, best[1], best[2], best[3]))
                for s, a_site, a_day, a_start, a_chair in added:
                    self.occ.remove(s, a_site, a_day, a_start, a_chair)
                if not ok:
                    continue
                options.append(
                    SlotOption(
                        site=p.site_ids[site],
                        dates=tuple(p.date_of(c[1]) for c in chosen),
                        starts=tuple(p.hhmm(c[2]) for c in chosen),
                        chairs=tuple(c[3] for c in chosen),
                        target_distance_days=sum(c[0][0] for c in chosen),
                        preference_misses=sum(c[0][1] for c in chosen),
                        peak_increase=sum(c[0][2] for c in chosen),
                    )
                )
        options.sort(key=SlotOption.key)
        return options[:top]
