"""Courses: made from a verified plan's next cycle, read, and listed while they wait to be booked."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.appointments.schemas import AppointmentOut, CourseOut, CourseSessionOut
from igflow.appointments.service._common import _load_course, _sessions, policy
from igflow.appointments.states import APPOINTMENT, COURSE
from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.scheduling.models import min_to_hhmm
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites.models import Chair, Site


def _last_session_date(session: Session, order_id: int) -> dt.date | None:
    return session.execute(
        select(func.max(Appointment.date))
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .where(Course.order_id == order_id, Appointment.status.in_(("booked", "completed")))
    ).scalar_one_or_none()


def create_course(
    session: Session, principal: Principal, order_id: int, not_before: dt.date | None = None
) -> Course:
    """A course for the next cycle of a verified order: sessions, chair minutes, window, priority."""
    order = scope.get(session, principal, Order, order_id, "order")
    try:
        patients_service.check_access(session, principal, order.patient_id)
    except NotFound:
        raise NotFound(f"order {order_id} not found", "order_id") from None
    verified = orders_service.current_verified_plan(session, order_id)
    if verified is None:
        session.commit()  # keep a plan version the refresh may have appended
        raise InvalidInput(
            "order_id: the order's current plan is not verified by a pharmacist; "
            "courses are made from verified plans only",
            "order_id",
        )
    version, _verification = verified
    open_course = session.execute(
        select(Course.id).where(Course.order_id == order_id, Course.status == "waiting")
    ).first()
    if open_course is not None:
        raise Conflict(
            f"order_id: course {open_course[0]} of this order is still waiting to be booked", "order_id"
        )
    plan = version.plan
    days = plan.get("days") or []
    if not days or any(day.get("chair_min") is None for day in days):
        raise InvalidInput("order_id: the verified plan has no chair times to schedule", "order_id")
    rules = policy()
    today = not_before or utcnow().date()
    priority = int(plan.get("priority") or 3)
    interval = (plan.get("regimen") or {}).get("interval_weeks")
    last = _last_session_date(session, order_id)
    if last is not None and interval:
        target = last + dt.timedelta(weeks=float(interval[0]))
        due_by = last + dt.timedelta(weeks=float(interval[1]))
        reason = (
            f"last infusion {last}; regimen interval {interval[0]:g}-{interval[1]:g} weeks; "
            f"booking may start {rules.maintenance_early_days} days early"
        )
        if due_by < today:
            # overdue: as soon as possible, with room for the days the centres are closed
            earliest, target = today, today
            latest = today + dt.timedelta(days=rules.overdue_window_days)
            span = rules.overdue_window_days
            reason += f"; overdue since {due_by}: as soon as possible, within {span} days"
        else:
            earliest = max(today, target - dt.timedelta(days=rules.maintenance_early_days))
            latest = max(earliest, due_by)
            target = min(max(target, earliest), latest)
    elif last is not None:
        earliest = max(today, last + dt.timedelta(days=1))
        target, latest = earliest, earliest + dt.timedelta(days=rules.default_window_days)
        reason = f"last infusion {last}; the regimen gives no interval"
    else:
        lo, hi = rules.first_course_window_days[priority]
        earliest, latest = today + dt.timedelta(days=lo), today + dt.timedelta(days=hi)
        target = earliest
        reason = f"first course at priority {priority}: {lo}-{hi} days from {today}"
    cycle = (
        int(
            session.execute(
                select(func.count()).select_from(Course).where(Course.order_id == order_id)
            ).scalar_one()
        )
        + 1
    )
    if order.setting == "home":
        from igflow.home.service import visits as home_visits  # home reads appointments, not the reverse

        needed, why = home_visits.nurse_visit_for_cycle(order, cycle)
        if not needed:
            raise InvalidInput(f"order_id: {why}", "order_id")
    course = Course(
        order_id=order.id,
        plan_version_id=version.id,
        patient_id=order.patient_id,
        cycle=cycle,
        priority=priority,
        target=target,
        earliest=earliest,
        latest=latest,
        window_reason=reason,
        status="waiting",
        created_by_user_id=principal.user_id,
    )
    session.add(course)
    session.flush()
    for day in days:
        session.add(
            CourseSession(
                course_id=course.id,
                day_index=int(day["day"]),
                duration_min=math.ceil(float(day["chair_min"])),
                dose_g=float(day["dispensed_g"]),
            )
        )
    session.flush()
    audit.record(
        session,
        principal.actor,
        "course.create",
        "course",
        course.id,
        patient_id=order.patient_id,
        detail={"order_id": order.id, "plan_version": version.version, "sessions": len(days)},
    )
    session.commit()
    return course


def course_out(session: Session, course: Course) -> CourseOut:
    sessions = _sessions(session, course.id)
    appointments = list(
        session.execute(
            select(Appointment)
            .where(Appointment.course_session_id.in_([s.id for s in sessions]))
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )
    return CourseOut(
        id=course.id,
        order_id=course.order_id,
        plan_version_id=course.plan_version_id,
        patient_id=course.patient_id,
        cycle=course.cycle,
        priority=course.priority,
        target=course.target,
        earliest=course.earliest,
        latest=course.latest,
        window_reason=course.window_reason,
        status=course.status,
        sessions=[CourseSessionOut.model_validate(s) for s in sessions],
        appointments=[appointment_out(session, a) for a in appointments],
        to_book=[]
        if course.status != "waiting"
        else [
            s.day_index
            for s in sessions
            if not any(
                a.course_session_id == s.id and a.status in ("booked", "completed") for a in appointments
            )
        ],
    )


def read_course(session: Session, principal: Principal, course_id: int) -> CourseOut:
    course = _load_course(session, principal, course_id)
    audit.record(session, principal.actor, "course.read", "course", course.id, patient_id=course.patient_id)
    session.commit()
    return course_out(session, course)


def waiting_courses(session: Session, principal: Principal) -> list[CourseOut]:
    query = select(Course).where(Course.status == "waiting").order_by(Course.priority, Course.target)
    visible = list(session.execute(scope.rows(query, principal, Course)).scalars())
    audit.record(
        session, principal.actor, "course.list", "course", detail={"returned_ids": [c.id for c in visible]}
    )
    session.commit()
    return [course_out(session, c) for c in visible]


def appointment_out(session: Session, appt: Appointment) -> AppointmentOut:
    site = session.get(Site, appt.site_id)
    chair = session.get(Chair, appt.chair_id) if appt.chair_id is not None else None
    cs = session.get(CourseSession, appt.course_session_id)
    assert site is not None and cs is not None
    return AppointmentOut(
        id=appt.id,
        course_id=cs.course_id,
        course_session_id=appt.course_session_id,
        patient_id=appt.patient_id,
        site_id=appt.site_id,
        site_code=site.code,
        site_name=site.name,
        day_index=cs.day_index,
        chair_id=appt.chair_id,
        chair_label=chair.label if chair is not None else "at home",
        date=appt.date,
        start=min_to_hhmm(appt.start_min),
        end=min_to_hhmm(appt.start_min + appt.duration_min),
        duration_min=appt.duration_min,
        status=appt.status,
        status_reason=appt.status_reason,
        source=appt.source,
    )


def complete_day(session: Session, principal: Principal, appointment_id: int) -> bool:
    """The infusion of this appointment was signed: the appointment is completed, and its course once no
    day of it is still booked (so the order is ready for its next cycle's course). In the caller's
    transaction; audited. An appointment that is no longer booked (cancelled while the chart was open)
    is left as it is: False."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != "booked":
        return False
    APPOINTMENT.move(session, appointment, "completed", changed_at=utcnow())
    cs = session.get(CourseSession, appointment.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    still_booked = session.execute(
        select(func.count())
        .select_from(Appointment)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .where(CourseSession.course_id == course.id, Appointment.status == "booked")
    ).scalar_one()
    course_done = still_booked == 0 and course.status == "booked"
    if course_done:
        COURSE.move(session, course, "completed")
    audit.record(
        session,
        principal.actor,
        "appointment.completed",
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        detail={"course_id": course.id, "course_completed": course_done},
    )
    return True
