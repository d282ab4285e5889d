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

from igflow.appointments.models import Appointment, ChairSlot, Course, CourseSession, SiteSlotLoad
from igflow.appointments.schemas import AppointmentOut, BookIn, CourseOut, SlotOptionOut
from igflow.appointments.service._common import (
    _active_chairs,
    _capacity,
    _centres,
    _load_course,
    _sessions,
    policy,
)
from igflow.appointments.service.courses import appointment_out, course_out
from igflow.appointments.service.instance import (
    _booked_schedule,
    _course_session_docs,
    _course_sites,
    _patient_sites,
    build_instance,
)
from igflow.appointments.states import APPOINTMENT, COURSE
from igflow.authorizations import service as authorizations_service
from igflow.authorizations.core import Use
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.scheduling.models import hhmm_to_min, min_to_hhmm
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
) -> list[Appointment]:
    """Book every session of a course or none (savepoint): the database refuses any clash."""
    for cs, site, chair, day, start_min in placements:
        _validate_slot(site, chair, day, start_min, cs.duration_min)
    gap_lo, gap_hi = policy().multi_day_gap_days
    for (_a, site_a, _c, day_a, _s), (_b, site_b, _d, day_b, _t) in itertools.pairwise(placements):
        if site_a.id != site_b.id:
            raise InvalidInput("site: all days of a course are given at the same centre", "site")
        if not gap_lo <= (day_b - day_a).days <= gap_hi:
            raise InvalidInput(f"dates: days of a course must be {gap_lo}-{gap_hi} days apart", "dates")
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
    start = max(course.earliest, utcnow().date())
    if start > course.latest:
        raise InvalidInput(
            f"course_id: the window of course {course.id} ended on {course.latest}", "course_id"
        )
    gap_hi = policy().multi_day_gap_days[1]
    n_sessions = len(_sessions(session, course.id))
    days = (course.latest - start).days + 1 + gap_hi * (n_sessions - 1)
    imap = build_instance(session, start, days, only_course_ids=set())
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
    docs = _course_session_docs(session, course, sites, start, imap.instance.end_date)
    from igflow.scheduling.models import Session as ContractSession

    new = [ContractSession.model_validate(d) for d in docs]
    index = SlotIndex(imap.instance, _booked_schedule(imap))
    wanted = top or policy().suggestions
    # days the patient is booked where the chair instance does not look (a visit at home)
    taken = set(
        session.execute(
            select(Appointment.date).where(
                Appointment.patient_id == course.patient_id,
                Appointment.status == "booked",
                Appointment.chair_id.is_(None),
            )
        ).scalars()
    )
    options = index.suggest(new, top=wanted + 3 * len(taken))
    options = [o for o in options if not taken & {dt.date.fromisoformat(str(d)) for d in o.dates}][:wanted]
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
    return [
        SlotOptionOut(
            site=o.site,
            dates=list(o.dates),
            starts=list(o.starts),
            chairs=list(o.chairs),
            target_distance_days=o.target_distance_days,
            preference_misses=o.preference_misses,
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
    sessions = _sessions(session, course.id)
    if not len(data.dates) == len(data.starts) == len(data.chairs) == len(sessions):
        raise InvalidInput(
            f"dates: give one date, start and chair for each of the course's {len(sessions)} sessions",
            "dates",
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
        if (
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


def change_status(
    session: Session, principal: Principal, appointment_id: int, status: str, reason: str
) -> tuple[AppointmentOut, list[dict[str, Any]]]:
    """Cancel or mark a no-show: frees the chair and nurse capacity, puts the course back to waiting, and
    suggests the freed time to waiting courses (everyone else stays where they are)."""
    appt = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appt.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    APPOINTMENT.check(appt.status, status)
    cs = session.get(CourseSession, appt.course_session_id)
    assert cs is not None
    course = _lock_course(session, cs.course_id)
    when = utcnow()
    # A concurrent change of this appointment that committed while we waited for the course makes this
    # move a 409 ("changed meanwhile"), before anything is released.
    _unbook(session, appt, status, reason, when)
    # A course is whole or absent: cancelling one day releases its remaining days too.
    siblings = list(
        session.execute(
            select(Appointment)
            .join(CourseSession, CourseSession.id == Appointment.course_session_id)
            .where(CourseSession.course_id == course.id, Appointment.status == "booked")
            .order_by(Appointment.id)
        ).scalars()
    )
    for other in siblings:
        _unbook(session, other, "cancelled", f"course changed: appointment {appt.id} {status}", when)
    COURSE.move(session, course, "waiting", expected="booked", latest=max(course.latest, appt.date))
    released = sorted([appt, *siblings], key=lambda a: a.id)
    audit.record(
        session,
        principal.actor,
        f"appointment.{status}",
        "appointment",
        appt.id,
        patient_id=appt.patient_id,
        detail={"course_id": course.id, "released": [a.id for a in released]},
    )
    session.commit()
    repair = _repair_suggestions(session, principal, appt, exclude_course=course.id)
    return appointment_out(session, appt), repair


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
