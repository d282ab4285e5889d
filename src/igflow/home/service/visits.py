"""Home visits: which waiting courses go home and what stops them, the routing instance built from them,
and the routes as booked.

A course is given at home when its order's setting is ``home`` (IVIG with a visiting nurse, or SCIG, whose
nurse visits are training visits). Its sessions become visits: the plan's chair time at the patient's home,
inside the course's date window, started inside the service's start window (catalog ``home.yaml``), by a
nurse with the skills the visit needs (IVIG at home or SCIG training; paediatric under the adult age; first
dose where a site allows it). What stops a course from being routed is said in words, with who resolves it:
no coordinates for the home, a first dose the site policy keeps at a centre, or a reaction at home that
sends the next dose to a centre until a pharmacist clears it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.home.models import HomeNurse, HomeVisit, NurseSlot
from igflow.home.service.rules import CLEARANCE_TASK
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.orders.models import Order
from igflow.patients.models import Patient
from igflow.patients.service import age_years
from igflow.security import scope
from igflow.security.principal import Principal


@dataclass
class HomeCourse:
    """A waiting course of a home order, with what its visits need and what stops them."""

    course: Course
    order: Order
    patient: Patient
    sessions: list[CourseSession]
    kind: str  # ivig | scig_training
    skills: set[str] = field(default_factory=set)
    blockers: list[str] = field(default_factory=list)  # in words, with who resolves it


def is_home_order(order: Order) -> bool:
    return order.setting == "home"


def centre_hold(session: Session, patient_id: int) -> WorkTask | None:
    """The clearance task that keeps this patient's next dose at a centre: the newest one, while it is open
    or was answered "not cleared"; None when there is none or the pharmacist cleared the patient."""
    task = session.execute(
        select(WorkTask)
        .where(WorkTask.patient_id == patient_id, WorkTask.kind == CLEARANCE_TASK)
        .order_by(WorkTask.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if task is None:
        return None
    if task.status == "open" or (task.outcome or {}).get("cleared") != "yes":
        return task
    return None


def goes_home(session: Session, order: Order) -> bool:
    """True when the order's courses are visits at home now (home setting, no centre hold)."""
    return is_home_order(order) and centre_hold(session, order.patient_id) is None


def is_first_dose(session: Session, order: Order, course: Course) -> bool:
    """The patient's first dose of this product: the prescriber marked the order a first infusion, and
    neither an earlier course nor an infusion record of the product says otherwise."""
    if not order.first_infusion or course.cycle > 1:
        return False
    row = session.execute(
        select(InfusionRecord.id)
        .where(InfusionRecord.patient_id == order.patient_id, InfusionRecord.product_id == order.product_id)
        .limit(1)
    ).first()
    return row is None


def visit_kind(order: Order) -> str:
    product = load_catalog().products.get(order.product_id)
    return "ivig" if product is None or product.is_iv else "scig_training"


def describe(session: Session, course: Course, order: Order, patient: Patient, today: dt.date) -> HomeCourse:
    """What a home course's visits need and what, if anything, stops them being routed."""
    catalog = load_catalog()
    home = catalog.home
    sessions = list(
        session.execute(
            select(CourseSession)
            .where(CourseSession.course_id == course.id)
            .order_by(CourseSession.day_index)
        ).scalars()
    )
    kind = visit_kind(order)
    hc = HomeCourse(course=course, order=order, patient=patient, sessions=sessions, kind=kind)
    hc.skills.add("ivig_home" if kind == "ivig" else "scig_training")
    adult = catalog.administration.screening.adult_age_years.value
    if adult is not None and age_years(patient.date_of_birth, today) < adult:
        hc.skills.add("paediatric")
    if patient.home_lat is None or patient.home_lon is None:
        hc.blockers.append(
            "The patient's home has no coordinates: intake or a pharmacist enters them on the patient's page."
        )
    # A patient switching from IVIG to SCIG is not immunoglobulin-naive: the site policies that keep first
    # doses at a centre name IG-naive patients for SCIG (home.yaml sources), so the training visit goes home.
    switching = kind == "scig_training" and order.previous_iv_dose_g is not None
    if not switching and is_first_dose(session, order, course):
        if home.first_dose_at_home.allowed.value:
            hc.skills.add(home.first_dose_at_home.nurse_skill)
        else:
            hc.blockers.append(
                "First dose of this product for the patient: the site policy gives first doses at a centre. "
                "A scheduler books it at a centre (Schedule page); later doses come home."
            )
    hold = centre_hold(session, patient.id)
    if hold is not None:
        hc.blockers.append(
            f"{hold.title}: the next dose is given at a centre until a pharmacist clears the patient "
            "for home"
            " (Tasks page)."
        )
    return hc


def waiting_home_courses(
    session: Session, principal: Principal, today: dt.date | None = None
) -> list[HomeCourse]:
    """Waiting courses of home orders the principal may see, oldest window first."""
    today = today or dt.date.today()
    query = (
        select(Course, Order, Patient)
        .join(Order, Order.id == Course.order_id)
        .join(Patient, Patient.id == Course.patient_id)
        .where(Course.status == "waiting", Order.setting == "home", Order.status == "active")
        .order_by(Course.earliest, Course.id)
    )
    rows = session.execute(scope.rows(query, principal, Course)).all()
    return [describe(session, course, order, patient, today) for course, order, patient in rows]


# A nurse's time is held in 5-minute slots, finer than the chairs' 15: two visits on one route are at least
# one drive apart, and the travel model's shortest drive is 5 minutes (home.yaml fixed_min_per_leg), so
# back-to-back visits never share a slot; a real overlap does, and the database refuses it.
NURSE_SLOT_MIN = 5


def slots_of(start_min: int, duration_min: int) -> range:
    """The nurse slots of [start, start + duration): the end is exclusive."""
    return range(start_min // NURSE_SLOT_MIN, (start_min + duration_min - 1) // NURSE_SLOT_MIN + 1)


def hold_nurse_slots(session: Session, nurse_id: int, appt: Appointment) -> None:
    """The nurse's slots for a visit: the unique key refuses an overlapping second visit (IntegrityError)."""
    for slot in slots_of(appt.start_min, appt.duration_min):
        session.add(NurseSlot(nurse_id=nurse_id, date=appt.date, slot=slot, appointment_id=appt.id))
    session.flush()


def release_nurse_slots(session: Session, appointment_id: int) -> None:
    session.execute(delete(NurseSlot).where(NurseSlot.appointment_id == appointment_id))


@dataclass
class BookedVisit:
    appointment: Appointment
    visit: HomeVisit
    course: Course
    patient: Patient
    nurse: HomeNurse | None


def booked_visits(
    session: Session, principal: Principal, start: dt.date, end: dt.date, nurse_id: int | None = None
) -> list[BookedVisit]:
    """Booked home visits between two dates (inclusive), in route order."""
    query = (
        select(Appointment, HomeVisit, Course, Patient, HomeNurse)
        .join(HomeVisit, HomeVisit.appointment_id == Appointment.id)
        .join(CourseSession, CourseSession.id == Appointment.course_session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(HomeNurse, HomeNurse.id == HomeVisit.nurse_id)
        .where(
            Appointment.status.in_(("booked", "completed")),
            Appointment.date >= start,
            Appointment.date <= end,
        )
        .order_by(Appointment.date, HomeVisit.nurse_id, HomeVisit.sequence, Appointment.start_min)
    )
    if nurse_id is not None:
        query = query.where(HomeVisit.nurse_id == nurse_id)
    rows = session.execute(scope.rows(query, principal, Appointment)).all()
    return [BookedVisit(a, v, c, p, n) for a, v, c, p, n in rows]


def visit_for_appointment(session: Session, appointment_id: int) -> HomeVisit | None:
    return session.execute(
        select(HomeVisit).where(HomeVisit.appointment_id == appointment_id)
    ).scalar_one_or_none()


def nurse_names(session: Session, nurse_ids: Any) -> dict[int, str]:
    ids = {i for i in nurse_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(HomeNurse.id, HomeNurse.name).where(HomeNurse.id.in_(ids))).all()
    return {nurse_id: name for nurse_id, name in rows}


def nurse_visit_for_cycle(order: Order, cycle: int) -> tuple[bool, str]:
    """Whether SCIG infusion number ``cycle`` of the order is a nurse visit: the first supervised (training)
    infusions, then a check visit every so many weeks (home.yaml); the rest the patient gives and logs.
    Always True for IVIG at home (a nurse stays for the whole infusion)."""
    if visit_kind(order) != "scig_training":
        return True, ""
    training = load_catalog().home.scig_training
    supervised = int(training.supervised_infusions.value or 0)
    if cycle <= supervised:
        return True, ""
    every_days = int(training.check_visit_every_weeks.value or 0) * 7
    interval = max(1, int(order.sc_interval_days or 7))
    every = max(1, every_days // interval) if every_days else 0
    if every and (cycle - supervised) % every == 0:
        return True, ""
    next_check = cycle + (every - (cycle - supervised) % every) if every else None
    return False, (
        f"infusion {cycle} of this SCIG order is self-infused at home: the patient logs it in their infusion "
        f"log (My infusion log); the nurse trains the first {supervised}"
        + (f" and visits again at infusion {next_check} for a check" if next_check else "")
    )
