"""Re-planning part of a multi-day course: the dates its unbooked days may take, given the days that stay
booked, and which booked days a cancellation forces to move too.

A course's days follow each other by ``gap`` days (the scheduling policy's ``multi_day_gap_days``, the
contract's ``after`` links). When one day is cancelled the others stay where they are, unless no date is
left for the cancelled day between its booked neighbours; then the days after it move with it, and if
even that leaves no date, the whole course is re-planned. Pure: dates in, dates out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """The dates one unbooked day of a course may take (both ends included), and its target."""

    lo: dt.date
    hi: dt.date
    target: dt.date

    def dates(self) -> list[dt.date]:
        return [self.lo + dt.timedelta(days=k) for k in range((self.hi - self.lo).days + 1)]


@dataclass(frozen=True)
class CourseWindow:
    """The course's own window for its first day (the cycle's clinical interval) and target."""

    earliest: dt.date
    latest: dt.date
    target: dt.date


def day_windows(
    n_days: int,
    booked: Mapping[int, dt.date],
    course: CourseWindow,
    gap: tuple[int, int],
    horizon: tuple[dt.date, dt.date],
    unavailable: Collection[dt.date] = (),
) -> dict[int, Window | None]:
    """For each day index (0-based) not in ``booked``, the window its booked neighbours leave it (None when
    no date is left). With no booked day, day k follows the course window shifted by k gaps, as a whole
    course is planned; with booked days, only the neighbours bind (the cycle already started)."""
    gap_lo, gap_hi = gap
    start, end = horizon
    out: dict[int, Window | None] = {}
    for k in range(n_days):
        if k in booked:
            continue
        before = [j for j in booked if j < k]
        after = [j for j in booked if j > k]
        if not before and not after:
            lo = course.earliest + dt.timedelta(days=k * gap_lo)
            hi = course.latest + dt.timedelta(days=k * gap_hi)
            target = course.target + dt.timedelta(days=k * gap_lo)
        else:
            lo, hi = dt.date.min, dt.date.max
            if before:
                j = max(before)
                lo = max(lo, booked[j] + dt.timedelta(days=(k - j) * gap_lo))
                hi = min(hi, booked[j] + dt.timedelta(days=(k - j) * gap_hi))
            if after:
                j = min(after)
                lo = max(lo, booked[j] - dt.timedelta(days=(j - k) * gap_hi))
                hi = min(hi, booked[j] - dt.timedelta(days=(j - k) * gap_lo))
            target = lo
        lo, hi = max(lo, start), min(hi, end)
        blocked = set(unavailable)
        while lo <= hi and lo in blocked:
            lo += dt.timedelta(days=1)
        while hi >= lo and hi in blocked:
            hi -= dt.timedelta(days=1)
        out[k] = Window(lo, hi, min(max(target, lo), hi)) if lo <= hi else None
    return out


def released_by_cancelling(
    n_days: int,
    booked: Mapping[int, dt.date],
    cancelled: int,
    course: CourseWindow,
    gap: tuple[int, int],
    horizon: tuple[dt.date, dt.date],
    unavailable: Collection[dt.date] = (),
) -> set[int]:
    """The booked days (indices) that cancelling day ``cancelled`` forces to move as well: none when the
    cancelled day (and any other unbooked day) still has a date between the days that stay; else the
    booked days after it; else every booked day."""
    remaining = {k: d for k, d in booked.items() if k != cancelled}

    def fits(kept: Mapping[int, dt.date]) -> bool:
        windows = day_windows(n_days, kept, course, gap, horizon, unavailable)
        return all(w is not None for w in windows.values())

    if fits(remaining):
        return set()
    later = {k for k in remaining if k > cancelled}
    if later and fits({k: d for k, d in remaining.items() if k not in later}):
        return later
    return set(remaining)
