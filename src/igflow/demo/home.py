"""The demo's home-infusion service: coordinates for the centres and every patient's home (synthetic points
around the three centres), nine home nurses in three regions (one signs in as ``nurse.home``), home IVIG
for the home-only patients, SCIG switches for a few immunodeficiency patients, a routing run for the next
two weeks published into visits, and a nurse's sick day re-routed. Everything goes through the services.
No real people, no real places beyond approximate city coordinates."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from rich.console import Console
from sqlalchemy import select, update

from igflow.db import Database
from igflow.home.models import HomeNurse
from igflow.home.schemas import AbsenceIn, NurseIn, ShiftIn
from igflow.home.service import nurses as nurses_service
from igflow.home.service import runs as runs_service
from igflow.orders.models import Order
from igflow.patients.models import Patient, PatientSite
from igflow.sites.models import Site

# Approximate centres of three Los Angeles-area neighbourhoods (synthetic sites placed there).
CENTRE_POINTS = {"harbor": (33.79, -118.22), "oakridge": (34.19, -118.55), "mesa": (34.06, -118.05)}
NURSES = (
    ("harbor", "Hollis Home-Nurse (demo)", ["ivig_home", "scig_training", "first_dose"], "nurse.home"),
    ("harbor", "Ines Harbor-Home (synthetic)", ["ivig_home", "scig_training"], None),
    ("harbor", "Jo Waterside (synthetic)", ["ivig_home", "paediatric"], None),
    ("oakridge", "Kai Valley (synthetic)", ["ivig_home", "scig_training", "paediatric"], None),
    ("oakridge", "Lee Canyon (synthetic)", ["ivig_home", "first_dose"], None),
    ("oakridge", "Mo Ridge (synthetic)", ["scig_training", "ivig_home"], None),
    ("mesa", "Noor Eastside (synthetic)", ["ivig_home", "scig_training"], None),
    ("mesa", "Oli Foothill (synthetic)", ["ivig_home", "paediatric", "first_dose"], None),
    ("mesa", "Pia Mesa-Home (synthetic)", ["ivig_home", "scig_training"], None),
)
SCIG_SWITCHES = 4  # PID patients at centres switched to Cuvitru at home
DEGREES_PER_KM = 1 / 111


def _near(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    return (
        round(lat + rng.uniform(-km, km) * DEGREES_PER_KM, 5),
        round(lon + rng.uniform(-km, km) * DEGREES_PER_KM * 1.2, 5),
    )


def _place(session: Any, rng: random.Random) -> None:
    """Coordinates for the centres and for every patient's home, near their first centre."""
    sites = {s.code: s for s in session.execute(select(Site)).scalars()}
    for code, (lat, lon) in CENTRE_POINTS.items():
        if code in sites:
            sites[code].lat, sites[code].lon = lat, lon
    by_id = {s.id: s.code for s in sites.values()}
    firsts = dict(
        session.execute(
            select(PatientSite.patient_id, PatientSite.site_id).where(PatientSite.rank == 1)
        ).all()
    )
    codes = list(CENTRE_POINTS)
    for pid in session.execute(select(Patient.id)).scalars():
        code = by_id.get(firsts.get(pid, 0))
        if code not in CENTRE_POINTS:
            code = codes[pid % len(codes)]
        lat, lon = _near(rng, *CENTRE_POINTS[code], km=14)
        session.execute(update(Patient).where(Patient.id == pid).values(home_lat=lat, home_lon=lon))
    session.commit()


def _nurses(session: Any, principal: Any, rng: random.Random) -> list[HomeNurse]:
    from igflow.security.models import User

    users = {name: uid for name, uid in session.execute(select(User.username, User.id)).all()}
    out = []
    for region, name, skills, username in NURSES:
        lat, lon = _near(rng, *CENTRE_POINTS[region], km=10)
        data = NurseIn(
            name=name,
            user_id=users.get(username) if username else None,
            region=region.title(),
            home_lat=lat,
            home_lon=lon,
            skills=skills,
            max_visits_per_day=3,
            shifts=[ShiftIn(weekday=d, start_min=480, end_min=1020, break_min=30) for d in range(5)],
        )
        out.append(nurses_service.create_nurse(session, principal, data))
    return out


def _scig_switches(session: Any, prescriber: Any, pharmacist: Any, scheduler: Any, count: int) -> int:
    """PID patients on maintenance IVIG at a centre switch to Cuvitru weekly at home (after 4-weekly IV)."""
    from igflow.appointments import service as appointments_service
    from igflow.errors import IgflowError
    from igflow.orders import service as orders_service
    from igflow.orders.schemas import OrderIn, VerificationIn

    rows = (
        session.execute(
            select(Order)
            .where(Order.indication_id == "pid", Order.status == "active", Order.setting == "centre")
            .order_by(Order.id)
        )
        .scalars()
        .all()
    )
    made = 0
    for order in rows:
        if made >= count:
            break
        data = OrderIn(
            patient_id=order.patient_id,
            prescriber_id=order.prescriber_id,
            referral_id=order.referral_id,
            indication_id="pid",
            phase="maintenance",
            product_id="cuvitru",
            setting="home",
            previous_iv_dose_g=30,
            iv_interval_weeks=4,
            sc_interval_days=7,
            notes="Switch from IVIG to SCIG at home (demo).",
        )
        try:
            new = orders_service.create(session, prescriber, data)
            verified = orders_service.verify(
                session, pharmacist, new.id, VerificationIn(version=1, decision="verified")
            )
        except IgflowError:
            session.rollback()
            continue
        if verified.verification_status != "verified":
            continue
        order.status = "discontinued"
        session.commit()
        try:
            appointments_service.create_course(session, scheduler, new.id)
        except IgflowError:
            session.rollback()
            continue
        made += 1
    return made


def _sign_in_busiest(session: Any, start: dt.date) -> None:
    """The demo's home-nurse sign-in goes to the nurse the routing run gave the most visits (the solver's
    choice is not fixed in advance), so ``nurse.home`` always has a day to show. Names are swapped with it."""
    from sqlalchemy import func

    from igflow.appointments.models import Appointment
    from igflow.home.models import HomeVisit

    busiest = session.execute(
        select(HomeVisit.nurse_id, func.count())
        .join(Appointment, Appointment.id == HomeVisit.appointment_id)
        .where(HomeVisit.nurse_id.is_not(None), Appointment.date >= start)
        .group_by(HomeVisit.nurse_id)
        .order_by(func.count().desc(), HomeVisit.nurse_id)
        .limit(1)
    ).first()
    linked = session.execute(select(HomeNurse).where(HomeNurse.user_id.is_not(None))).scalars().first()
    if busiest is None or linked is None or busiest[0] == linked.id:
        return
    other = session.get(HomeNurse, busiest[0])
    user_id, linked.user_id = linked.user_id, None
    session.flush()
    other.user_id = user_id
    other.name, linked.name = linked.name, other.name
    session.commit()


def load_home_demo(db: Database, *, seed: int, console: Console) -> dict[str, int]:
    from igflow.jobs import routing as routing_job
    from igflow.security.service import get_user_by_username, principal_for_user

    rng = random.Random(seed + 11)
    with db.session() as session:

        def principal(username: str) -> Any:
            user = get_user_by_username(session, username)
            assert user is not None
            return principal_for_user(user, client_address="demo-loader")

        scheduler = principal("scheduler")
        _place(session, rng)
        nurses = _nurses(session, scheduler, rng)
        switched = _scig_switches(
            session, principal("prescriber"), principal("pharmacist"), scheduler, SCIG_SWITCHES
        )
        session.commit()
    start = dt.date.today()
    run = routing_job.route(db, scheduler, {"start_date": start.isoformat(), "days": 14, "time_limit_s": 10})
    with db.session() as session:
        result = runs_service.publish(session, scheduler, run.id)
    booked = len(result["booked_appointment_ids"])
    with db.session() as session:
        _sign_in_busiest(session, start)
    # A nurse calls in sick on the next working day with visits: her visits are re-routed to colleagues.
    rerouted = 0
    with db.session() as session:
        for day_offset in range(1, 8):
            day = start + dt.timedelta(days=day_offset)
            busy = [n for n in nurses if nurses_service.visits_of_nurse_on(session, n.id, day)]
            # a nurse whose skills a colleague free that day also has, so the demo's re-route succeeds
            cover = [n for n in busy if any(set(n.skills) <= set(o.skills) for o in nurses if o not in busy)]
            if cover:
                sick = cover[0]
                nurses_service.add_absence(
                    session, scheduler, sick.id, AbsenceIn(date=day, reason="Sick (demo)")
                )
                repair = routing_job.route(
                    db, scheduler, {"start_date": day.isoformat(), "days": 1, "time_limit_s": 5}
                )
                rerouted = len(runs_service.publish(session, scheduler, repair.id)["moved_appointment_ids"])
                break
    console.print(
        f"Home infusion: {len(nurses)} nurses, {switched} SCIG switches, {booked} home visits booked by "
        f"routing run "
        f"{run.id}; a sick day re-routed {rerouted} visit(s)."
    )
    return {"nurses": len(nurses), "scig": switched, "visits": booked, "rerouted": rerouted}
