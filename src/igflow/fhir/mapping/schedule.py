"""Schedule and Slot: each chair of a centre has one Schedule; its free time is cut into Slots (pure).

- Schedule ``chair-N``: the chair's (``Location/chair-N``) calendar, active while the chair and its centre
  are; the comment gives the centre's opening hours (site-local).
- Slot ``chair-N-YYYYMMDD-HHMM``: one step of igflow's booking grid (``slot_minutes`` of the scheduling
  policy) on one chair, starting at that site-local date and time, when it is free: the centre is open
  then (its hours, not a closed date), no booked appointment holds the chair, and the nurses on duty have
  room for one more patient in chairs. The id is the chair, the site-local date and the start, so a Slot
  keeps its id until it is booked (then it is gone) and a client can rebuild it. Only free slots are
  served (status ``free``); a booked one would be another patient's appointment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from igflow.fhir.mapping.common import local_instant, pruned, ref
from igflow.fhir.mapping.location import chair_location_id, site_location_id
from igflow.sites.models import Chair, Site

WEEKDAY_WORDS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SLOT_ID = re.compile(r"^chair-(\d{1,18})-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})$")


def schedule_id(chair_id: int) -> str:
    return chair_location_id(chair_id)


def slot_id(chair_id: int, day: dt.date, start_min: int) -> str:
    return f"{schedule_id(chair_id)}-{day:%Y%m%d}-{start_min // 60:02d}{start_min % 60:02d}"


@dataclass(frozen=True)
class SlotKey:
    chair_id: int
    day: dt.date
    start_min: int


def parse_slot_id(value: str) -> SlotKey | None:
    match = _SLOT_ID.match(value)
    if match is None:
        return None
    chair, year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        return SlotKey(chair, dt.date(year, month, day), hour * 60 + minute)
    except ValueError:
        return None


@dataclass(frozen=True)
class OpeningHours:
    weekday: int  # 0 = Monday
    open_time: dt.time
    close_time: dt.time


def hours_text(hours: Sequence[OpeningHours]) -> str:
    if not hours:
        return "No opening hours set."
    days = [
        f"{WEEKDAY_WORDS[h.weekday]} {h.open_time:%H:%M}-{h.close_time:%H:%M}"
        for h in sorted(hours, key=lambda h: h.weekday)
    ]
    return "Open (site-local time): " + ", ".join(days) + "."


def to_schedule(
    chair: Chair, site: Site, hours: Sequence[OpeningHours], horizon: tuple[dt.date, dt.date]
) -> Schedule:
    """``horizon``: the days whose free slots are searched by default (first, last)."""
    return Schedule.model_validate(
        pruned(
            {
                "resourceType": "Schedule",
                "id": schedule_id(chair.id),
                "active": bool(chair.active and site.active),
                "actor": [
                    ref("Location", chair_location_id(chair.id), f"{site.name} {chair.label}"),
                    ref("Location", site_location_id(site.id), site.name),
                ],
                "planningHorizon": {"start": horizon[0].isoformat(), "end": horizon[1].isoformat()},
                "comment": hours_text(hours),
            }
        )
    )


def to_slot(key: SlotKey, slot_minutes: int, timezone: str) -> Slot:
    start = local_instant(key.day, key.start_min, timezone)
    return Slot.model_validate(
        {
            "resourceType": "Slot",
            "id": slot_id(key.chair_id, key.day, key.start_min),
            "schedule": ref("Schedule", schedule_id(key.chair_id)),
            "status": "free",
            "start": start,
            "end": local_instant(key.day, key.start_min + slot_minutes, timezone),
        }
    )
