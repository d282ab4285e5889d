"""Booking under database guards (chair slots and nurse load), suggestions, direct booking, and
cancellation or no-show with repair suggestions for the freed time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import (
    Appointment,
    ChairSlot,
    Course,
    CourseSession,
    SiteSlotLoad,
    UnavailableDate,
)
from igflow.appointments.schemas import AppointmentOut, BookIn, CourseOut, SlotOptionOut
from igflow.appointments.service import preferences
from igflow.appointments.service._common import (
    _active_chairs,
    _capacity,
    _centres,
    _load_course,
    _sessions,
    closed_days,
    policy,
)
from igflow.appointments.service.courses import appointment_out, course_out
from igflow.appointments.service.instance import (
    _booked_schedule,
    _course_session_docs,
    _course_sites,
    _patient_sites,
    booked_days,
    build_instance,
    course_windows,
    unavailable_dates,
)
from igflow.appointments.states import APPOINTMENT, COURSE
from igflow.authorizations import service as authorizations_service
from igflow.authorizations.core import Use
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.scheduling.models import hhmm_to_min, min_to_hhmm
from igflow.scheduling.replan import CourseWindow, released_by_cancelling
from igflow.scheduling.suggest import SlotIndex
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Chair, Site


def _slots(start_min: int, duration_min: int, slot_minutes: int) -> range:
    first = start_min // slot_minutes
    return range(first, first + math.ceil(duration_min / slot_minutes))


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _add_load(
    session: Session,
    site_id: int,
    day: dt.date,
    slot: int,
    in_chairs: int,
    starts: int,
    caps: tuple[int, int],
) -> None:
    stmt = _insert(session)(SiteSlotLoad).values(
        site_id=site_id,
        date=day,
        slot=slot,
        in_chairs=in_chairs,
        starts=starts,
        max_in_chairs=caps[0],
        max_starts=caps[1],
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["site_id", "date", "slot"],
        set_={
            "in_chairs": SiteSlotLoad.in_chairs + in_chairs,
            "starts": SiteSlotLoad.starts + starts,
            "max_in_chairs": stmt.excluded.max_in_chairs,
            "max_starts": stmt.excluded.max_starts,
        },
    )
    session.execute(stmt)


def _conflict_message(exc: IntegrityError, site: Site, day: dt.date, start_min: int) -> str:
    text_ = str(exc.orig).lower()
    when = f"{site.name} on {day} at {min_to_hhmm(start_min)}"
    if "chair_slot" in text_:
        return f"that chair is already booked at {when}"
    if "nurse_starts" in text_:
        return f"the nurses on duty cannot start another infusion in that slot at {when}"
    if "nurse_load" in text_:
        return f"the nurses on duty already have as many patients in chairs as they can watch at {when}"
    if "patient_day" in text_ or "appointment.patient_id, appointment.date" in text_:
        return f"the patient already has a session on {day}"
    return f"the booking conflicts with another at {when}"


def _hold(session: Session, appt: Appointment, site: Site) -> None:
    """Take the chair's slots and the nurse capacity for a booked appointment (refused if already taken)."""
    rules = policy()
    _open, _close, max_in, max_starts = _capacity(site, appt.date)
    slots = _slots(appt.start_min, appt.duration_min, rules.slot_minutes)
    for slot in slots:
        session.add(ChairSlot(chair_id=appt.chair_id, date=appt.date, slot=slot, appointment_id=appt.id))
    session.flush()
    for k, slot in enumerate(slots):
        _add_load(session, site.id, appt.date, slot, 1, 1 if k == 0 else 0, (max_in, max_starts))


def _release(session: Session, appt: Appointment) -> None:
    rules = policy()
    session.execute(delete(ChairSlot).where(ChairSlot.appointment_id == appt.id))
    slots = list(_slots(appt.start_min, appt.duration_min, rules.slot_minutes))
    session.execute(
        update(SiteSlotLoad)
        .where(
            SiteSlotLoad.site_id == appt.site_id, SiteSlotLoad.date == appt.date, SiteSlotLoad.slot.in_(slots)
        )
        .values(in_chairs=SiteSlotLoad.in_chairs - 1)
    )
    session.execute(
        update(SiteSlotLoad)
        .where(
            SiteSlotLoad.site_id == appt.site_id,
            SiteSlotLoad.date == appt.date,
            SiteSlotLoad.slot == slots[0],
        )
        .values(starts=SiteSlotLoad.starts - 1)
    )


def _lock_course(session: Session, course_id: int) -> Course:
    """The course, read afresh and locked to the end of the transaction (``SELECT … FOR UPDATE``; SQLite
    holds its write lock anyway). A change to a course's appointments takes it first, so two requests on
    one course (two of its days cancelled at once, a cancel and a publish) queue up rather than deadlock."""
    course = session.get(Course, course_id, with_for_update=True, populate_existing=True)
    assert course is not None
    return course


def _unbook(session: Session, appt: Appointment, to: str, reason: str, when: dt.datetime) -> None:
    """Move a booked appointment to ``to`` (compare-and-set), then release its chair and nurse capacity: of
    two concurrent requests only the one whose move went through releases it."""
    APPOINTMENT.move(session, appt, to, status_reason=reason, changed_at=when)
    _release(session, appt)


def _validate_slot(site: Site, chair: Chair, day: dt.date, start_min: int, duration_min: int) -> None:
    rules = policy()
    open_min, close_min, _max_in, _max_starts = _capacity(site, day)
    if start_min % rules.slot_minutes:
        raise InvalidInput(
            f"starts: {min_to_hhmm(start_min)} is not on the {rules.slot_minutes}-minute grid", "starts"
        )
    rounded = math.ceil(duration_min / rules.slot_minutes) * rules.slot_minutes
    if start_min < open_min or start_min + rounded > close_min:
        raise InvalidInput(
            f"starts: a {duration_min}-minute session from {min_to_hhmm(start_min)} does not fit "
            f"{site.name}'s hours {min_to_hhmm(open_min)}-{min_to_hhmm(close_min)} on {day}",
            "starts",
        )
    if chair.site_id != site.id or not chair.active:
        raise InvalidInput(f"chairs: chair {chair.label} is not an active chair of {site.name}", "chairs")


def _book_sessions(
    session: Session,
    principal: Principal,
    course: Course,
    placements: list[tuple[CourseSession, Site, Chair, dt.date, int]],
    source: str,
    *,
    other_centre_ok: bool = False,
) -> list[Appointment]:
    """Book every session of a course or none (savepoint): the database refuses any clash. The days of a
    course stay at one centre, except that a course released by a centre closure (``other_centre_ok``)
    may continue at another centre than the days it kept."""
    for cs, site, chair, day, start_min in placements:
        _validate_slot(site, chair, day, start_min, cs.duration_min)
    gap_lo, gap_hi = policy().multi_day_gap_days
    # The days placed now and the days that stay booked, in course order, must keep the gaps and centre.
    placed = {cs.id for cs, *_rest in placements}
    index = {cs.id: cs.day_index for cs in _sessions(session, course.id)}
    kept_rows = [a for a in booked_days(session, course.id).values() if a.course_session_id not in placed]
    kept = [(index[a.course_session_id], a.site_id, a.date) for a in kept_rows]
    in_chairs = [(index[a.course_session_id], a.site_id, a.date) for a in kept_rows if a.chair_id is not None]
    new_days = [(cs.day_index, site.id, day) for cs, site, _c, day, _s in placements]
    days = sorted([*kept, *new_days])
    # days kept at home (or, for a closure's released course, at the closed centre) set no centre
    same_site = sorted(new_days) if other_centre_ok else sorted([*in_chairs, *new_days])
    for (_a, site_a, _da), (_b, site_b, _db) in itertools.pairwise(same_site):
        if site_a != site_b:
            raise InvalidInput("site: all days of a course are given at the same centre", "site")
    for (_a, _sa, day_a), (_b, _sb, day_b) in itertools.pairwise(days):
        if not gap_lo <= (day_b - day_a).days <= gap_hi:
            raise InvalidInput(
                f"dates: days of a course must be {gap_lo}-{gap_hi} days apart ({day_a} and {day_b} are not)",
                "dates",
            )
    booked: list[Appointment] = []
    current = ("", dt.date.min, 0)
    try:
        with session.begin_nested():
            # The course first: of two concurrent bookings of one course the second waits here, then 409s.
            COURSE.move(session, course, "booked", field_name="course_id")
            for cs, site, chair, day, start_min in placements:
                current = (site.name, day, start_min)
                appt = Appointment(
                    course_session_id=cs.id,
                    patient_id=course.patient_id,
                    site_id=site.id,
                    chair_id=chair.id,
                    date=day,
                    start_min=start_min,
                    duration_min=cs.duration_min,
                    status="booked",
                    source=source,
                    created_by_user_id=principal.user_id,
                )
                session.add(appt)
                session.flush()
                _hold(session, appt, site)
                booked.append(appt)
    except Conflict:
        session.expire(course)  # the savepoint's rollback undid the move in the database
        raise
    except IntegrityError as exc:
        session.expire(course)
        site_name, day, start_min = current
        site = next(p[1] for p in placements if p[1].name == site_name)
        raise Conflict(f"Not booked: {_conflict_message(exc, site, day, start_min)}.", "slot") from None
    for appt in booked:
        audit.record(
            session,
            principal.actor,
            "appointment.book",
            "appointment",
            appt.id,
            patient_id=appt.patient_id,
            detail={
                "course_id": course.id,
                "site_id": appt.site_id,
                "date": appt.date.isoformat(),
                "source": source,
            },
        )
    return booked


def suggest(
    session: Session, principal: Principal, course_id: int, top: int | None = None
) -> list[SlotOptionOut]:
    """The best options for a waiting course among everything booked in its window."""
    course = _load_course(session, principal, course_id)
    if course.status != "waiting":
        raise InvalidInput(f"course_id: course {course.id} is {course.status}, not waiting", "course_id")
    return _suggest_for(session, principal, course, booked_days(session, course.id), set(), top)


def suggest_move(
    session: Session, principal: Principal, appointment_id: int, top: int | None = None
) -> list[SlotOptionOut]:
    """Other places for one booked day of a course, the course's other days staying where they are."""
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    if appt.status != "booked" or appt.chair_id is None:
        raise Conflict(
            f"appointment_id: appointment {appt.id} is {APPOINTMENT.label(appt.status)}"
            + (" at home (the home-infusion service moves visits)" if appt.chair_id is None else "")
            + ": only a booked chair appointment moves",
            "appointment_id",
        )
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    keep = {k: a for k, a in booked_days(session, course.id).items() if a.id != appt.id}
    return _suggest_for(session, principal, course, keep, {appt.id}, top)


def _suggest_for(
    session: Session,
    principal: Principal,
    course: Course,
    keep: dict[int, Appointment],
    exclude_fixed: set[int],
    top: int | None,
) -> list[SlotOptionOut]:
    """Options for the days of ``course`` not in ``keep`` (its other days stay where they are); the
    appointments in ``exclude_fixed`` (a day being moved) free their chair time for the search."""
    today = utcnow().date()
    gap_hi = policy().multi_day_gap_days[1]
    n_sessions = len(_sessions(session, course.id))
    away = unavailable_dates(session, {course.patient_id})[course.patient_id]
    if keep:
        # Part of the course stays booked: only its other days are placed, around the days that stay.
        start = today
        last = max([course.latest, *(a.date for a in keep.values())])
        days = (last - start).days + 1 + gap_hi * n_sessions
        kept_site = session.get(Site, next(iter(keep.values())).site_id)
        assert kept_site is not None
        end = start + dt.timedelta(days=days - 1)
        windows = course_windows(session, course, start, end, keep, away | closed_days(kept_site, start, end))
        stuck = [w for w in windows.values() if w is None]
        if stuck:
            raise InvalidInput(
                "course_id: no date is left for the cancelled day between the days that stay booked; "
                "cancel the whole course on this page to plan all its days again",
                "course_id",
            )
    else:
        start = max(course.earliest, today)
        if start > course.latest:
            raise InvalidInput(
                f"course_id: the window of course {course.id} ended on {course.latest}; "
                "widen the window on this page (within the regimen's interval) or ask the prescriber",
                "course_id",
            )
        days = (course.latest - start).days + 1 + gap_hi * (n_sessions - 1)
    imap = build_instance(session, start, days, only_course_ids=set(), exclude_fixed=exclude_fixed)
    centres = _centres(session)
    preferred = _patient_sites(session, {course.patient_id}, {s.id: s.code for s in centres})
    sites = _course_sites(session, course, preferred[course.patient_id], centres)
    if not sites:
        raise InvalidInput(
            "course_id: this course is given at the patient's home, not in a chair: the home-infusion "
            "service routes it to a nurse (Home visits page, routing)",
            "course_id",
        )
    sites = [code for code in sites if scope.sees_site(principal, imap.site_ids[code])]
    if not sites:
        raise InvalidInput("course_id: none of the patient's centres is yours to book", "course_id")
    wish = preferences.preferences_for(session, {course.patient_id}).get(course.patient_id)
    docs = _course_session_docs(
        session,
        course,
        sites,
        start,
        imap.instance.end_date,
        keep,
        preferred=preferences.preferred_start(session, course, wish),
    )
    if keep and not docs:
        raise InvalidInput(
            "course_id: the days that stay booked are at a centre you cannot book, or no date is left "
            "between them; cancel the whole course on this page to plan all its days again",
            "course_id",
        )
    from igflow.scheduling.models import Session as ContractSession

    new = [ContractSession.model_validate(d) for d in docs]
    index = SlotIndex(imap.instance, _booked_schedule(imap))
    wanted = top or policy().suggestions
    # days the patient is booked where the chair instance does not look (a visit at home), and the dates
    # the patient cannot come
    taken = away | set(
        session.execute(
            select(Appointment.date).where(
                Appointment.patient_id == course.patient_id,
                Appointment.status == "booked",
                Appointment.chair_id.is_(None),
            )
        ).scalars()
    )
    # the dates this course's days were cancelled or missed on are not offered back to it (a day the
    # scheduler cancelled; the days that only moved with it, or were moved, may come back)
    taken |= {
        a.date
        for a in session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(CourseSession.course_id == course.id, Appointment.status.in_(("cancelled", "no_show")))
        ).scalars()
        if not a.status_reason.startswith(_KNOCK_ON_REASONS)
    }
    # a day being moved goes to another place than where it is
    here = [
        (a.date, a.start_min, a.chair_id)
        for a in session.execute(select(Appointment).where(Appointment.id.in_(exclude_fixed))).scalars()
    ]
    options = index.suggest(new, top=3 * wanted + 3 * len(taken))
    options = [o for o in options if not taken & {dt.date.fromisoformat(str(d)) for d in o.dates}]
    if here:
        chair_id_of = imap.chair_ids
        options = [
            o
            for o in options
            if not any(
                (dt.date.fromisoformat(str(d)), hhmm_to_min(st), chair_id_of[o.site][ch - 1]) in here
                for d, st, ch in zip(o.dates, o.starts, o.chairs, strict=True)
            )
        ]
    # The contract knows no weekday wish: options on the patient's weekdays come first, misses counted.
    misses = {id(o): preferences.weekday_misses(o.dates, wish) for o in options}
    options = sorted(options, key=lambda o: misses[id(o)])[:wanted]
    audit.record(
        session,
        principal.actor,
        "course.suggest",
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"options": len(options)},
    )
    session.commit()
    names = {c.code: c.name for c in centres}
    day_of = {f"S{cs.id}": cs.day_index for cs in _sessions(session, course.id)}
    days_placed = [day_of[d["id"]] for d in docs]
    return [
        SlotOptionOut(
            site=o.site,
            site_name=names.get(o.site, o.site),
            days=days_placed,
            dates=list(o.dates),
            starts=list(o.starts),
            chairs=list(o.chairs),
            target_distance_days=o.target_distance_days,
            preference_misses=o.preference_misses + misses[id(o)],
            peak_increase=o.peak_increase,
        )
        for o in options
    ]


def authorisation_uses(session: Session, order_id: int, exclude_course_id: int | None = None) -> list[Use]:
    """The order's infusion days booked or given (not cancelled or missed): what counts against its
    authorisation. Grams are the day's planned dose."""
    query = (
        select(Appointment.date, CourseSession.dose_g, Course.id)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .where(Course.order_id == order_id, Appointment.status.in_(("booked", "completed")))
        .order_by(Appointment.date)
    )
    product = session.execute(select(Order.product_id).where(Order.id == order_id)).scalar_one()
    return [
        Use(date=day, grams=float(grams), product_id=product, site_of_care="facility")
        for day, grams, course in session.execute(query).all()
        if course != exclude_course_id
    ]


def authorisation_check(
    session: Session,
    course: Course,
    days: list[tuple[CourseSession, dt.date]],
    used: list[Use] | None = None,
) -> authorizations_service.Check | None:
    """What booking ``days`` of ``course`` would do to the authorisation covering them (None: no
    coverage on record, nothing to check). ``used``: the order's other days, when the caller already has
    them (a page checking several options)."""
    product = session.execute(select(Order.product_id).where(Order.id == course.order_id)).scalar_one()
    new = [
        Use(date=day, grams=float(cs.dose_g), product_id=product, site_of_care="facility") for cs, day in days
    ]
    if used is None:
        used = authorisation_uses(session, course.order_id, exclude_course_id=course.id)
    return authorizations_service.check_days(session, course.order_id, course.patient_id, used, new)


def _respect_authorisation(
    session: Session, course: Course, days: list[tuple[CourseSession, dt.date]], acknowledged: bool
) -> dict[str, Any] | None:
    """Refuse a booking beyond the authorisation unless the scheduler acknowledged the warning; refuse it
    always when the payer makes it a hard stop. Returns what to audit."""
    check = authorisation_check(session, course, days)
    if check is None or not check.findings:
        return None
    words = " ".join(check.messages)
    if check.hard_stop:
        raise Conflict(
            f"authorisation: not booked. {words} This payer does not allow booking beyond an authorisation: "
            "the prior-authorisation specialist can ask the payer for more on the patient's prior "
            "authorisation page, or book within the authorised dates.",
            "authorisation",
        )
    if not acknowledged:
        raise Conflict(
            f"acknowledge_authorisation: {words} Book anyway only if you have checked with the "
            "prior-authorisation specialist; tick the acknowledgement to book.",
            "acknowledge_authorisation",
        )
    return {"authorisation_findings": check.messages, "authorisation_acknowledged": True}


def book(session: Session, principal: Principal, course_id: int, data: BookIn) -> CourseOut:
    course = _load_course(session, principal, course_id)
    COURSE.check(course.status, "booked", "course_id")
    keep = booked_days(session, course.id)
    sessions = [cs for cs in _sessions(session, course.id) if cs.id not in keep]
    if not len(data.dates) == len(data.starts) == len(data.chairs) == len(sessions):
        still = " still to book" if keep else ""
        raise InvalidInput(
            f"dates: give one date, start and chair for each of the course's {len(sessions)} sessions{still}",
            "dates",
        )
    windows = (
        course_windows(
            session,
            course,
            utcnow().date(),
            dt.date.max,
            keep,
            unavailable_dates(session, {course.patient_id})[course.patient_id],
        )
        if keep
        else {}
    )
    site = session.execute(
        select(Site).where(Site.code == data.site, Site.kind == "centre")
    ).scalar_one_or_none()
    if site is None:
        raise InvalidInput(f"site: unknown centre '{data.site}'", "site")
    scope.require_own_site(principal, site.id, "site")
    chairs = _active_chairs(site)
    placements = []
    for cs, day, start, number in zip(sessions, data.dates, data.starts, data.chairs, strict=True):
        window = windows.get(cs.id)
        if keep and (window is None or not window.lo <= day <= window.hi):
            allowed = f"{window.lo} to {window.hi}" if window else "no date"
            raise InvalidInput(
                f"dates: day {cs.day_index} must fall between the days that stay booked ({allowed})",
                "dates",
            )
        if not keep and (
            not course.earliest
            <= day
            <= course.latest + dt.timedelta(days=policy().multi_day_gap_days[1] * (cs.day_index - 1))
        ):
            raise InvalidInput(
                f"dates: {day} is outside the course window {course.earliest} to {course.latest}", "dates"
            )
        if not 1 <= number <= len(chairs):
            raise InvalidInput(f"chairs: {site.name} has chairs 1 to {len(chairs)}", "chairs")
        try:
            start_min = hhmm_to_min(start)
        except ValueError:
            raise InvalidInput(f"starts: '{start}' is not a time HH:MM", "starts") from None
        placements.append((cs, site, chairs[number - 1], day, start_min))
    away = unavailable_dates(session, {course.patient_id})[course.patient_id]
    clash = sorted({p[3] for p in placements} & away)
    if clash:
        raise InvalidInput(
            f"dates: the patient cannot come on {clash[0]} (recorded on the course page); choose another "
            "date, or remove that date from the patient's dates they cannot come if it has changed",
            "dates",
        )
    acknowledged = _respect_authorisation(
        session, course, [(p[0], p[3]) for p in placements], data.acknowledge_authorisation
    )
    booked = _book_sessions(session, principal, course, placements, "booking")
    if acknowledged:
        for appt in booked:
            audit.record(
                session,
                principal.actor,
                "appointment.book_beyond_authorisation",
                "appointment",
                appt.id,
                patient_id=appt.patient_id,
                detail=acknowledged,
            )
    session.commit()
    return course_out(session, course)


def _plan_release(
    session: Session,
    course: Course,
    appt: Appointment,
    status: str,
    *,
    whole_course: bool,
    also_unavailable: set[dt.date] | frozenset[dt.date] = frozenset(),
) -> tuple[list[Appointment], list[Appointment], str]:
    """Which other booked days of ``appt``'s course a cancellation (or no-show) releases, which stay, and
    the reason written on the released ones. Reads only."""
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    sessions = _sessions(session, course.id)
    position = {s.id: k for k, s in enumerate(sessions)}
    stays = {cs_id: a for cs_id, a in booked_days(session, course.id).items() if a.id != appt.id}
    siblings = sorted((a for a in stays.values() if a.status == "booked"), key=lambda a: a.id)
    if whole_course or appt.chair_id is None:
        # A home visit's course is routed whole by the home-infusion service.
        return siblings, [], f"whole course cancelled with appointment {appt.id}"
    # the cancelled date is not offered back to the course (see _suggest_for), nor the patient's others
    away = unavailable_dates(session, {course.patient_id})[course.patient_id] | set(also_unavailable)
    away.add(appt.date)
    # The days that stay keep their centre, so the cancelled day may only move to a day it is open.
    site = session.get(Site, appt.site_id)
    assert site is not None
    gap_hi = policy().multi_day_gap_days[1]
    last = max([appt.date, *(a.date for a in stays.values())]) + dt.timedelta(days=gap_hi * len(sessions))
    away |= closed_days(site, utcnow().date(), last)
    released = released_by_cancelling(
        len(sessions),
        {**{position[k]: a.date for k, a in stays.items()}, position[cs.id]: appt.date},
        position[cs.id],
        CourseWindow(course.earliest, max(course.latest, appt.date), course.target),
        policy().multi_day_gap_days,
        (utcnow().date(), dt.date.max),
        away,
    )
    moved = [a for a in siblings if position[a.course_session_id] in released]
    kept = [a for a in siblings if a not in moved]
    what = "cancelled" if status == "cancelled" else "missed"
    why = f"course changed: day {cs.day_index} ({appt.date}) was {what} and this day must move with it"
    return moved, kept, why


def appointment_course(session: Session, principal: Principal, appointment_id: int) -> int:
    """The course of an appointment the principal may see (others are not found)."""
    appt = scope.appointment(session, principal, appointment_id)
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    return cs.course_id


def preview_status_change(
    session: Session,
    principal: Principal,
    appointment_id: int,
    status: str,
    *,
    whole_course: bool = False,
    patient_unavailable: bool = False,
) -> dict[str, Any]:
    """What :func:`change_status` would do, for the confirmation page: the days released with it and the
    days that stay booked. Writes nothing."""
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    APPOINTMENT.check(appt.status, status)
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    moved, kept, _why = _plan_release(
        session,
        course,
        appt,
        status,
        whole_course=whole_course,
        also_unavailable={appt.date} if patient_unavailable else frozenset(),
    )
    n_days = len(_sessions(session, course.id))
    return {
        "appointment": appointment_out(session, appt),
        "course_id": course.id,
        "days": n_days,
        "released": [appointment_out(session, a) for a in moved],
        "kept": [appointment_out(session, a) for a in kept],
        "whole_course": whole_course,
    }


def change_status(
    session: Session,
    principal: Principal,
    appointment_id: int,
    status: str,
    reason: str,
    *,
    whole_course: bool = False,
    patient_unavailable: bool = False,
) -> tuple[AppointmentOut, list[dict[str, Any]]]:
    """Cancel one session or mark it a no-show, or cancel every booked day of its course
    (``whole_course``, chosen explicitly). Frees the chair and nurse capacity and puts the course back on
    the waiting list for the days that need a place; the course's other days stay booked unless no date
    is left for the cancelled day between them (:func:`igflow.scheduling.replan.released_by_cancelling`),
    and everyone else stays where they are. ``patient_unavailable`` records the date as one the patient
    cannot come, so no suggestion or planning run offers it again. Returns the appointment and waiting
    courses that could use the freed time."""
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    APPOINTMENT.check(appt.status, status)
    if patient_unavailable and status != "cancelled":
        raise InvalidInput(
            "patient_unavailable: only a cancellation records a date the patient cannot come",
            "patient_unavailable",
        )
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = _lock_course(session, cs.course_id)
    when = utcnow()
    # A concurrent change of this appointment that committed while we waited for the course makes this
    # move a 409 ("changed meanwhile"), before anything is released.
    if patient_unavailable:
        _record_unavailable(session, principal, appt.patient_id, appt.date, reason)
    moved, kept, why = _plan_release(session, course, appt, status, whole_course=whole_course)
    _unbook(session, appt, status, reason, when)
    for other in moved:
        _unbook(session, other, "cancelled", why, when)
    if course.status == "booked":
        COURSE.move(session, course, "waiting", expected="booked", latest=max(course.latest, appt.date))
    else:  # already waiting for another of its days
        course.latest = max(course.latest, appt.date)
    released_all = sorted([appt, *moved], key=lambda a: a.id)
    audit.record(
        session,
        principal.actor,
        f"appointment.{status}",
        "appointment",
        appt.id,
        patient_id=appt.patient_id,
        detail={
            "course_id": course.id,
            "released": [a.id for a in released_all],
            "whole_course": whole_course,
            "kept": [a.id for a in kept],
            "patient_unavailable": patient_unavailable,
        },
    )
    session.commit()
    repair = _repair_suggestions(session, principal, appt, exclude_course=course.id)
    return appointment_out(session, appt), repair


def move_session(
    session: Session, principal: Principal, appointment_id: int, data: BookIn, reason: str
) -> CourseOut:
    """Move one booked day of a course to another place (another time, chair, date or centre within what
    the course's other days allow), the other days staying where they are. One transaction: the old place
    is released and the new one held, or nothing changes (a clash is a 409)."""
    if not reason.strip():
        raise InvalidInput("reason: say why the day moves", "reason")
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    APPOINTMENT.check(appt.status, "cancelled")
    if appt.chair_id is None:
        raise Conflict(
            "appointment_id: a visit at home is moved by the home-infusion service", "appointment_id"
        )
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = _lock_course(session, cs.course_id)
    if course.status != "booked":
        raise Conflict(
            f"course_id: course {course.id} is {COURSE.label(course.status)}: book its free days on the "
            "course page first (a day moves when every day has a place)",
            "course_id",
        )
    if len(data.dates) != 1 or len(data.starts) != 1 or len(data.chairs) != 1:
        raise InvalidInput("dates: give one date, start and chair for the day that moves", "dates")
    day, start, number = data.dates[0], data.starts[0], data.chairs[0]
    site = session.execute(
        select(Site).where(Site.code == data.site, Site.kind == "centre")
    ).scalar_one_or_none()
    if site is None:
        raise InvalidInput(f"site: unknown centre '{data.site}'", "site")
    scope.require_own_site(principal, site.id, "site")
    chairs = _active_chairs(site)
    if not 1 <= number <= len(chairs):
        raise InvalidInput(f"chairs: {site.name} has chairs 1 to {len(chairs)}", "chairs")
    try:
        start_min = hhmm_to_min(start)
    except ValueError:
        raise InvalidInput(f"starts: '{start}' is not a time HH:MM", "starts") from None
    if day < utcnow().date():
        raise InvalidInput(f"dates: {day} is in the past", "dates")
    if day in unavailable_dates(session, {course.patient_id})[course.patient_id]:
        raise InvalidInput(f"dates: the patient cannot come on {day}", "dates")
    before = {"date": appt.date.isoformat(), "start": min_to_hhmm(appt.start_min), "site_id": appt.site_id}
    when = utcnow()
    _unbook(session, appt, "cancelled", f"moved to {day} {start}: {reason.strip()}", when)
    COURSE.move(session, course, "waiting", expected="booked")
    booked = _book_sessions(
        session, principal, course, [(cs, site, chairs[number - 1], day, start_min)], "move"
    )
    audit.record(
        session,
        principal.actor,
        "appointment.move",
        "appointment",
        booked[0].id,
        patient_id=course.patient_id,
        detail={
            "course_id": course.id,
            "from_appointment_id": appt.id,
            "before": before,
            "after": {"date": day.isoformat(), "start": start, "site_id": site.id},
        },
    )
    session.commit()
    return course_out(session, course)


# reasons igflow writes on days that were released only because another day was changed
_KNOCK_ON_REASONS = ("course changed:", "whole course cancelled with", "moved to ", "moved by planning run")


def _record_unavailable(
    session: Session, principal: Principal, patient_id: int, day: dt.date, reason: str
) -> None:
    exists_ = session.execute(
        select(UnavailableDate.id).where(
            UnavailableDate.patient_id == patient_id, UnavailableDate.date == day
        )
    ).first()
    if exists_ is not None:
        return
    row = UnavailableDate(
        patient_id=patient_id, date=day, reason=reason, created_by_user_id=principal.user_id
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "patient.unavailable_date.add",
        "patient_unavailable_date",
        row.id,
        patient_id=patient_id,
        detail={"date": day.isoformat()},
    )


def _repair_suggestions(
    session: Session, principal: Principal, freed: Appointment, exclude_course: int
) -> list[dict[str, Any]]:
    """Waiting courses that could use the freed day at that centre, with their best option there."""
    out: list[dict[str, Any]] = []
    waiting = list(
        session.execute(
            select(Course)
            .where(
                Course.status == "waiting",
                Course.earliest <= freed.date,
                Course.latest >= freed.date,
                Course.id != exclude_course,
            )
            .order_by(Course.priority, Course.target)
            .limit(20)
        ).scalars()
    )
    site = session.get(Site, freed.site_id)
    assert site is not None
    for course in waiting:
        try:
            options = suggest(session, principal, course.id, top=10)
        except (InvalidInput, NotFound):
            continue
        on_day = [o for o in options if o.site == site.code and o.dates[0] == freed.date]
        if on_day:
            out.append(
                {
                    "course_id": course.id,
                    "patient_id": course.patient_id,
                    "priority": course.priority,
                    "option": on_day[0].model_dump(mode="json"),
                }
            )
        if len(out) >= policy().suggestions:
            break
    return out
