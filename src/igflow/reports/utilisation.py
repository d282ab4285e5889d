"""Chair utilisation against staffed capacity, the mid-day peak, first-case start delay and the wait from
check-in to start (PURE: plain rows in, figures out; no database, no clock).

Staffed capacity. A centre open on a date (its opening hours for that weekday, not one of its closed
dates, at least one nurse on duty) offers ``staffed chairs`` = min(active chairs, nurses on duty x patients
per nurse) for every minute it is open: the same cap the booking guard puts on patients in chairs. An hour
of the day offers staffed chairs x the minutes of that hour the centre is open ("chair-minutes").

Use. A chair is in use for every minute of a booked or completed appointment (its booked start and chair
time). Per minute, chairs in use up to the staffed chairs count as use within capacity; chairs in use
beyond them, or while the centre is closed, count apart as use outside staffed capacity (never folded in,
so the share of capacity used stays between 0 and 1).

Peak. Per centre, the hour of the day with the most chairs in use on average over the days it was open
in that hour (chair-minutes in use / 60 / open days); with the most chairs in use at once in that hour.

First case. The first infusion of a centre's day is the infusion record whose appointment has the earliest
booked start that day. Its delay is the infusion's start minus the booked chair time plus the plan's
set-up minutes (the set-up is booked chair time before the infusion runs); the wait is the infusion's start
minus the check-in (when the chart was opened), for every infusion with both times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from igflow.reports import stats
from igflow.reports.table import Column, Table

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class OpeningHours:
    open_min: int  # minutes after local midnight
    close_min: int
    nurses: int


@dataclass(frozen=True)
class CentreSetup:
    """A centre's set-up as the report needs it: active chairs, hours per weekday (0 = Monday), the
    patients one nurse may have in chairs, and its closed dates."""

    site_id: int
    name: str
    chairs: int
    patients_per_nurse: int
    hours: Mapping[int, OpeningHours]
    closed: frozenset[date] = frozenset()


@dataclass(frozen=True)
class CentreDay:
    """A centre open on a date, with its staffed chairs."""

    site_id: int
    name: str
    day: date
    open_min: int
    close_min: int
    staffed_chairs: int


@dataclass(frozen=True)
class ChairUse:
    """One booked or completed appointment holding a chair (site-local date and minutes)."""

    site_id: int
    day: date
    start_min: int
    duration_min: int


@dataclass(frozen=True)
class InfusionTimes:
    """One infusion record's times at a centre, in minutes after the site-local midnight of its date."""

    site_id: int
    day: date
    booked_start_min: int
    setup_min: int
    checked_in_min: int | None
    started_min: int | None


def centre_days(centres: Iterable[CentreSetup], start: date, end: date) -> list[CentreDay]:
    """Every (centre, date) from ``start`` to ``end`` the centre is open with a nurse and a chair."""
    out: list[CentreDay] = []
    for centre in centres:
        day = start
        while day <= end:
            hours = centre.hours.get(day.weekday())
            if hours is not None and day not in centre.closed and hours.nurses > 0 and centre.chairs > 0:
                staffed = min(centre.chairs, hours.nurses * centre.patients_per_nurse)
                if staffed > 0 and hours.close_min > hours.open_min:
                    out.append(
                        CentreDay(centre.site_id, centre.name, day, hours.open_min, hours.close_min, staffed)
                    )
            day += timedelta(days=1)
    return out


@dataclass
class Cell:
    """Chair-minutes of one group (a centre, a weekday, an hour of the day)."""

    capacity_min: int = 0
    used_min: int = 0  # within staffed capacity
    outside_min: int = 0  # beyond the staffed chairs, or while closed
    open_days: int = 0  # days this group was open (for an hour: days open in that hour)
    peak_chairs: int = 0  # the most chairs in use at once

    @property
    def share(self) -> float | None:
        """Share of staffed capacity in use, 0 to 1 (None without capacity)."""
        return self.used_min / self.capacity_min if self.capacity_min else None

    @property
    def mean_chairs(self) -> float | None:
        """Chairs in use on average over the open minutes of the open days (for an hour cell)."""
        return self.used_min / 60 / self.open_days if self.open_days else None


@dataclass
class Utilisation:
    names: dict[int, str]
    by_centre: dict[int, Cell] = field(default_factory=dict)
    by_weekday: dict[tuple[int, int], Cell] = field(default_factory=dict)  # (site, weekday)
    by_hour: dict[tuple[int, int], Cell] = field(default_factory=dict)  # (site, hour of day)
    outside_days_min: int = 0  # chair-minutes booked on days a centre was not open (closed, no nurse)

    def peak(self, site_id: int) -> tuple[int, Cell] | None:
        """The hour of the day with the most chairs in use on average (the earlier hour on a tie)."""
        hours = [(h, c) for (s, h), c in sorted(self.by_hour.items()) if s == site_id and c.open_days]
        if not hours:
            return None
        return max(hours, key=lambda hc: (hc[1].mean_chairs or 0.0, -hc[0]))


def _in_use(uses: Sequence[ChairUse]) -> list[int]:
    """Chairs in use per minute of the day (a difference array over the appointments' minutes)."""
    delta = [0] * (MINUTES_PER_DAY + 1)
    for use in uses:
        first = max(0, use.start_min)
        last = min(MINUTES_PER_DAY, use.start_min + use.duration_min)
        if last > first:
            delta[first] += 1
            delta[last] -= 1
    counts, running = [0] * MINUTES_PER_DAY, 0
    for minute in range(MINUTES_PER_DAY):
        running += delta[minute]
        counts[minute] = running
    return counts


def utilisation(
    days: Iterable[CentreDay], uses: Iterable[ChairUse], names: Mapping[int, str] | None = None
) -> Utilisation:
    """Chair-minutes used within staffed capacity, per centre, centre and weekday, centre and hour.
    ``names``: the centres' names (default: those of ``days``)."""
    days = list(days)
    by_day: dict[tuple[int, date], list[ChairUse]] = defaultdict(list)
    for use in uses:
        by_day[(use.site_id, use.day)].append(use)
    report = Utilisation(names={**{d.site_id: d.name for d in days}, **(names or {})})
    open_keys = set()
    for cd in days:
        open_keys.add((cd.site_id, cd.day))
        counts = _in_use(by_day.get((cd.site_id, cd.day), []))
        centre = report.by_centre.setdefault(cd.site_id, Cell())
        weekday = report.by_weekday.setdefault((cd.site_id, cd.day.weekday()), Cell())
        centre.open_days += 1
        weekday.open_days += 1
        for hour in range(24):
            lo, hi = max(hour * 60, cd.open_min), min(hour * 60 + 60, cd.close_min)
            inside = max(0, hi - lo)
            hour_minutes = counts[hour * 60 : hour * 60 + 60]
            total = sum(hour_minutes)
            used = sum(min(c, cd.staffed_chairs) for c in counts[lo:hi]) if inside else 0
            if not inside and not total:
                continue
            cell = report.by_hour.setdefault((cd.site_id, hour), Cell())
            if inside:
                cell.open_days += 1
            capacity = cd.staffed_chairs * inside
            for target in (centre, weekday, cell):
                target.capacity_min += capacity
                target.used_min += used
                target.outside_min += total - used
                target.peak_chairs = max(target.peak_chairs, max(hour_minutes))
    for (site_id, day), items in by_day.items():
        if (site_id, day) not in open_keys:
            booked = sum(
                max(0, min(MINUTES_PER_DAY, u.start_min + u.duration_min) - max(0, u.start_min))
                for u in items
            )
            report.outside_days_min += booked
            report.by_centre.setdefault(site_id, Cell()).outside_min += booked
    return report


# --- first case and wait ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstCase:
    site_id: int
    day: date
    booked_start_min: int
    setup_min: int
    started_min: int

    @property
    def delay_min(self) -> int:
        """Minutes the first infusion started after its booked chair time plus planned set-up (negative:
        early)."""
        return self.started_min - (self.booked_start_min + self.setup_min)


def first_cases(rows: Iterable[InfusionTimes]) -> list[FirstCase]:
    """The first infusion of each centre's day (earliest booked start; the earlier start on a tie) that
    has started, by centre and date."""
    firsts: dict[tuple[int, date], InfusionTimes] = {}
    for row in rows:
        key = (row.site_id, row.day)
        best = firsts.get(key)
        if best is None or (row.booked_start_min, row.started_min or 0) < (
            best.booked_start_min,
            best.started_min or 0,
        ):
            firsts[key] = row
    return [
        FirstCase(r.site_id, r.day, r.booked_start_min, r.setup_min, r.started_min)
        for _k, r in sorted(firsts.items())
        if r.started_min is not None
    ]


def waits(rows: Iterable[InfusionTimes]) -> dict[int, list[int]]:
    """Minutes from check-in to the infusion's start per centre, for every infusion with both times."""
    out: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row.checked_in_min is not None and row.started_min is not None:
            out[row.site_id].append(row.started_min - row.checked_in_min)
    return dict(out)


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None
    p90: float | None
    mean: float | None


def spread(values: Sequence[float]) -> Spread:
    return Spread(
        count=len(values),
        median=stats.median(values),
        p90=stats.p90(values),
        mean=round(sum(values) / len(values), 1) if values else None,
    )


# --- tables -------------------------------------------------------------------------------------------------


def hhmm(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _hours(minutes: int) -> float:
    return round(minutes / 60, 1)


def centre_table(u: Utilisation) -> Table:
    rows = []
    for site_id, cell in sorted(u.by_centre.items(), key=lambda kv: u.names.get(kv[0], "")):
        peak = u.peak(site_id)
        rows.append(
            {
                "centre": u.names.get(site_id, "Another centre"),
                "open_days": cell.open_days,
                "capacity_h": _hours(cell.capacity_min),
                "used_h": _hours(cell.used_min),
                "share_pct": _pct(cell.share),
                "outside_h": _hours(cell.outside_min),
                "peak_hour": f"{hhmm(peak[0] * 60)}–{hhmm(peak[0] * 60 + 60)}" if peak else None,
                "peak_mean": round(peak[1].mean_chairs or 0.0, 1) if peak else None,
                "peak_chairs": peak[1].peak_chairs if peak else None,
            }
        )
    return Table(
        "Utilisation by centre",
        (
            Column("centre", "Centre"),
            Column("open_days", "Days open", "days"),
            Column("capacity_h", "Staffed chair time", "chair-hours"),
            Column("used_h", "Chair time in use", "chair-hours"),
            Column("share_pct", "Share of staffed capacity in use", "%"),
            Column("outside_h", "In use outside staffed capacity", "chair-hours"),
            Column("peak_hour", "Peak hour"),
            Column("peak_mean", "Chairs in use in the peak hour, on average", "chairs"),
            Column("peak_chairs", "Most chairs in use at once in the peak hour", "chairs"),
        ),
        tuple(rows),
        (
            "Staffed capacity: active chairs, capped by nurses on duty x patients per nurse, for every "
            "minute the centre is open (its hours, not a closed date).",
            "In use: booked and completed appointments, from their booked start for their chair time.",
        ),
    )


def weekday_table(u: Utilisation) -> Table:
    rows = [
        {
            "centre": u.names.get(site_id, "Another centre"),
            "weekday": WEEKDAY_NAMES[weekday],
            "open_days": cell.open_days,
            "capacity_h": _hours(cell.capacity_min),
            "used_h": _hours(cell.used_min),
            "share_pct": _pct(cell.share),
        }
        for (site_id, weekday), cell in sorted(
            u.by_weekday.items(), key=lambda kv: (u.names.get(kv[0][0], ""), kv[0][1])
        )
    ]
    return Table(
        "Utilisation by weekday",
        (
            Column("centre", "Centre"),
            Column("weekday", "Weekday"),
            Column("open_days", "Days open", "days"),
            Column("capacity_h", "Staffed chair time", "chair-hours"),
            Column("used_h", "Chair time in use", "chair-hours"),
            Column("share_pct", "Share in use", "%"),
        ),
        tuple(rows),
    )


def hour_table(u: Utilisation) -> Table:
    rows = [
        {
            "centre": u.names.get(site_id, "Another centre"),
            "hour": f"{hhmm(hour * 60)}–{hhmm(hour * 60 + 60)}",
            "open_days": cell.open_days,
            "capacity_h": _hours(cell.capacity_min),
            "used_h": _hours(cell.used_min),
            "share_pct": _pct(cell.share),
            "mean_chairs": None if cell.mean_chairs is None else round(cell.mean_chairs, 1),
            "peak_chairs": cell.peak_chairs,
        }
        for (site_id, hour), cell in sorted(
            u.by_hour.items(), key=lambda kv: (u.names.get(kv[0][0], ""), kv[0][1])
        )
    ]
    return Table(
        "Utilisation by hour of day",
        (
            Column("centre", "Centre"),
            Column("hour", "Hour (site time)"),
            Column("open_days", "Days open in this hour", "days"),
            Column("capacity_h", "Staffed chair time", "chair-hours"),
            Column("used_h", "Chair time in use", "chair-hours"),
            Column("share_pct", "Share in use", "%"),
            Column("mean_chairs", "Chairs in use on average", "chairs"),
            Column("peak_chairs", "Most chairs in use at once", "chairs"),
        ),
        tuple(rows),
    )


def start_table(names: Mapping[int, str], cases: Sequence[FirstCase], wait: Mapping[int, list[int]]) -> Table:
    sites = sorted({c.site_id for c in cases} | set(wait), key=lambda s: names.get(s, ""))
    rows = []
    for site_id in sites:
        delays = spread([c.delay_min for c in cases if c.site_id == site_id])
        waited = spread(wait.get(site_id, []))
        rows.append(
            {
                "centre": names.get(site_id, "Another centre"),
                "first_cases": delays.count,
                "delay_median": delays.median,
                "delay_p90": delays.p90,
                "late_15": sum(1 for c in cases if c.site_id == site_id and c.delay_min > 15),
                "waits": waited.count,
                "wait_median": waited.median,
                "wait_p90": waited.p90,
            }
        )
    return Table(
        "First-case start and wait",
        (
            Column("centre", "Centre"),
            Column("first_cases", "First infusions of the day", "days"),
            Column("delay_median", "First-case delay, median", "min"),
            Column("delay_p90", "First-case delay, 90th percentile", "min"),
            Column("late_15", "First cases more than 15 minutes late", "days"),
            Column("waits", "Infusions with check-in and start", "infusions"),
            Column("wait_median", "Check-in to start, median", "min"),
            Column("wait_p90", "Check-in to start, 90th percentile", "min"),
        ),
        tuple(rows),
        (
            "First-case delay: the first infusion of a centre's day (earliest booked time), its start minus "
            "the booked chair time and the plan's set-up minutes; negative is early.",
            "Check-in: when the nurse opened the chart for the appointment; start: the infusion's start as "
            "charted. Median: the middle value (the mean of the two middle ones for an even count); 90th "
            "percentile by nearest rank (the value at rank ceil(0.9 n) of the sorted values).",
        ),
    )


def first_case_table(names: Mapping[int, str], cases: Sequence[FirstCase]) -> Table:
    rows = [
        {
            "centre": names.get(c.site_id, "Another centre"),
            "date": c.day,
            "booked": hhmm(c.booked_start_min),
            "setup_min": c.setup_min,
            "started": hhmm(c.started_min),
            "delay_min": c.delay_min,
        }
        for c in sorted(cases, key=lambda c: (names.get(c.site_id, ""), c.day))
    ]
    return Table(
        "First case of each day",
        (
            Column("centre", "Centre"),
            Column("date", "Date"),
            Column("booked", "Booked chair time (site time)"),
            Column("setup_min", "Planned set-up", "min"),
            Column("started", "Infusion started (site time)"),
            Column("delay_min", "Delay", "min"),
        ),
        tuple(rows),
    )
