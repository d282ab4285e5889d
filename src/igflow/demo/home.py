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


def _scig_switches(session: Any, prescriber: Any, pharmacist: Any, scheduler: Any, count: int) -> list[int]:
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
    made: list[int] = []
    for order in rows:
        if len(made) >= count:
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
        made.append(new.id)
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


def _scig_patient_user(session: Any, patient_id: int) -> None:
    """The ``patient.scig`` sign-in: the first patient switched to SCIG, who logs self-infusions."""
    from datetime import UTC, datetime

    from igflow.demo.network import DEMO_USERS
    from igflow.security.models import User, UserRole
    from igflow.security.passwords import hash_password

    demo_user = next(u for u in DEMO_USERS if u.username == "patient.scig")
    patient = session.get(Patient, patient_id)
    user = User(
        username=demo_user.username,
        display_name=f"{patient.given_name} {patient.family_name}",
        password_hash=hash_password(demo_user.password, enforce_strength=False),  # see network.DEMO_USERS
        patient_id=patient_id,
        password_changed_at=datetime.now(UTC),
    )
    user.roles = [UserRole(role="patient")]
    session.add(user)
    session.commit()


def _principal(session: Any, username: str) -> Any:
    from igflow.security.service import get_user_by_username, principal_for_user

    user = get_user_by_username(session, username)
    assert user is not None
    return principal_for_user(user, client_address="demo-loader")


def _supply(db: Database, scig_orders: list[Order]) -> dict[str, int]:
    """A delivery for each SCIG switch: the first received at home (and one self-infusion logged from it),
    one on its way, one with a courier's temperature excursion (held at home, a pharmacist task)."""
    from igflow.errors import IgflowError
    from igflow.home.delivery_schemas import DeliveryIn, ExcursionIn, ReceiveIn, ShipIn, VersionIn
    from igflow.home.selflog_schemas import SelfInfusionIn
    from igflow.home.service import deliveries, excursions, selflog

    counts = {"deliveries": 0, "excursions": 0, "self_infusions": 0}
    today = dt.date.today()
    with db.session() as session:
        pharmacist, nurse = _principal(session, "pharmacist"), _principal(session, "nurse")
        _receive_cuvitru(session, pharmacist)
        for k, order in enumerate(scig_orders):
            site_id = (
                session.execute(
                    select(PatientSite.site_id)
                    .join(Site, Site.id == PatientSite.site_id)
                    .where(PatientSite.patient_id == order.patient_id, Site.kind == "centre")
                    .order_by(PatientSite.rank)
                )
                .scalars()
                .first()
            )
            if site_id is None:
                continue
            try:
                d = deliveries.plan(
                    session,
                    pharmacist,
                    DeliveryIn(
                        patient_id=order.patient_id,
                        from_site_id=site_id,
                        order_id=order.id,
                        needed_by=today + dt.timedelta(days=2 + k),
                        infusions=3,
                        supplies="Needles, tubing, pump, sharps bin, alcohol swabs",
                    ),
                )
                d = deliveries.pack(session, pharmacist, d.id, VersionIn(version=d.version))
                d = deliveries.ship(
                    session,
                    pharmacist,
                    d.id,
                    ShipIn(
                        version=d.version,
                        carrier="ColdRun Couriers (synthetic)",
                        carrier_reference=f"CR-{order.id:05d}",
                    ),
                )
                counts["deliveries"] += 1
                if k == 0:
                    d = deliveries.receive(session, nurse, d.id, ReceiveIn(version=d.version))
                    lot = d.lines[0].lot_number if d.lines else ""
                    _scig_patient_user(session, order.patient_id)
                    patient = _principal(session, "patient.scig")
                    words = selflog.my_log(session, patient).plan
                    assert words is not None
                    selflog.log(
                        session,
                        patient,
                        SelfInfusionIn(
                            client_id=f"demo-self-{order.id}-1",
                            infused_at=dt.datetime.combine(today - dt.timedelta(days=1), dt.time(18, 30)),
                            lot=lot,
                            vials=sum(count for _size, count in words.vials) or 1,
                            volume_ml=float(words.volume_ml or 1),
                            sites=int(words.sites or 1),
                            duration_min=int(words.duration_min or 60),
                            reaction="none",
                        ),
                    )
                    counts["self_infusions"] += 1
                elif k == 2:
                    excursions.flag_excursion(
                        session,
                        pharmacist,
                        d.id,
                        ExcursionIn(note="Courier: the box waited 3 hours in a hot van"),
                    )
                    counts["excursions"] += 1
            except IgflowError:
                session.rollback()
    return counts


def _receive_cuvitru(session: Any, pharmacist: Any) -> None:
    """Cuvitru lots at each centre's pharmacy for the SCIG deliveries (synthetic lot numbers and GTINs)."""
    from igflow.catalog import load_catalog
    from igflow.demo.inventory import demo_gtin
    from igflow.inventory import service as inventory_service
    from igflow.inventory.schemas import ReceiptIn

    product = load_catalog().products["cuvitru"]
    today = dt.date.today()
    centres = session.execute(select(Site).where(Site.kind == "centre").order_by(Site.id)).scalars().all()
    for k, site in enumerate(centres):
        for size in product.vial_sizes_g.value or []:
            inventory_service.receive(
                session,
                pharmacist,
                ReceiptIn(
                    product_id="cuvitru",
                    lot_number=f"CV{k}{round(size * 10):03d}",
                    gtin=demo_gtin(90, size),
                    label_expiry=today + dt.timedelta(days=300),
                    vial_size_g=size,
                    site_id=site.id,
                    count=12,
                    storage_place="Fridge SC",
                    acquisition_cost_cents=round(11_000 * size),  # synthetic, not a real price
                    supplier="Synthetic SC Distributor",
                ),
            )


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
    supply = _supply(db, [o for o in (db_order(db, i) for i in switched) if o is not None])
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
        f"Home infusion: {len(nurses)} nurses, {len(switched)} SCIG switches, {booked} home visits booked by "
        f"routing run "
        f"{run.id}; a sick day re-routed {rerouted} visit(s)."
    )
    console.print(
        f"Home supply: {supply['deliveries']} deliveries shipped, {supply['excursions']} with a temperature "
        f"excursion held for the pharmacist; {supply['self_infusions']} self-infusion logged by patient.scig."
    )
    return {"nurses": len(nurses), "scig": len(switched), "visits": booked, "rerouted": rerouted, **supply}


def db_order(db: Database, order_id: int) -> Order | None:
    with db.session() as session:
        order = session.get(Order, order_id)
        if order is not None:
            session.expunge(order)
        return order
