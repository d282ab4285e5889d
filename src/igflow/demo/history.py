"""A past month of infusions for the demo: completed appointments of earlier cycles, their vials dispensed
from stock and their charts (checklist, weight, vitals, vials, rate steps, reactions at plausible rates,
end, discharge vitals, signature), plus the follow-up tasks still open.

History is written as it would be imported from the previous system: the appointments are created
directly (they are in the past, so no booking guard applies), the vials go through the inventory
service (ledger and balances), and chart entries carry their past times.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import load_catalog
from igflow.clinical.infusion_day import follow_up_task
from igflow.db import Database
from igflow.infusions.models import ChartEntry, InfusionRecord, WorkTask
from igflow.orders.models import Order, PlanVersion
from igflow.patients.models import PatientSite
from igflow.sites.models import Site

# Share of infusions with a reaction, by worst grade. Chosen to sit inside the published baseline that the
# reactions panel shows beside them (catalog infusion_day.yaml baseline_rates): about 12 % any reaction,
# under 5 % grade 2 or more, under 0.5 % grade 3.
_GRADE_SHARES = ((3, 0.004), (2, 0.03), (1, 0.09))
_SYMPTOMS = {
    1: ["headache", "flushing", "chills"],
    2: ["headache", "nausea", "back-pain"],
    3: ["dyspnoea", "chest-tightness"],
}
_ACTIONS = {1: "continue", 2: "slow_to_previous_step", 3: "stop_and_escalate"}


#: the window reason of every course the demo's history made (the outcomes demo finds them by it)
HISTORY = "previous cycle, imported history (synthetic)"


def add_completed_course(
    session: Any, like: Course, site: Site, placed: list[tuple[CourseSession, date, int, int]]
) -> list[int]:
    """A completed course of ``like``'s order and plan on the placed days (session, day, chair, start),
    with completed appointments; their ids."""
    past = Course(
        order_id=like.order_id,
        plan_version_id=like.plan_version_id,
        patient_id=like.patient_id,
        cycle=0,
        priority=like.priority,
        target=placed[0][1],
        earliest=placed[0][1],
        latest=placed[-1][1],
        window_reason=HISTORY,
        status="completed",
    )
    session.add(past)
    session.flush()
    made = []
    for cs, when, chair_id, start_min in placed:
        copy = CourseSession(
            course_id=past.id, day_index=cs.day_index, duration_min=cs.duration_min, dose_g=cs.dose_g
        )
        session.add(copy)
        session.flush()
        appointment = Appointment(
            course_session_id=copy.id,
            patient_id=like.patient_id,
            site_id=site.id,
            chair_id=chair_id,
            date=when,
            start_min=start_min,
            duration_min=cs.duration_min,
            status="completed",
            source="history",
        )
        session.add(appointment)
        session.flush()
        made.append(appointment.id)
    return made


def create_past_appointments(db: Database, *, seed: int, count: int, console: Console) -> list[int]:
    """Completed appointments in the last month for the previous cycle of booked demo courses."""
    rng = random.Random(seed + 9)
    today = datetime.now(UTC).date()
    made: list[int] = []
    with db.session() as session:
        courses = list(
            session.execute(select(Course).where(Course.status == "booked").order_by(Course.id)).scalars()
        )[:count]
        busy: dict[tuple[int, date], dict[int, int]] = {}
        for course in courses:
            sessions = list(
                session.execute(
                    select(CourseSession)
                    .where(CourseSession.course_id == course.id)
                    .order_by(CourseSession.day_index)
                ).scalars()
            )
            site_id = session.execute(
                select(PatientSite.site_id)
                .join(Site, Site.id == PatientSite.site_id)
                .where(PatientSite.patient_id == course.patient_id, Site.kind == "centre")
                .order_by(PatientSite.rank)
                .limit(1)
            ).scalar_one_or_none()
            if site_id is None:
                continue
            site = session.get(Site, site_id)
            assert site is not None
            day = today - timedelta(days=rng.randint(3, 30))
            placed: list[tuple[CourseSession, date, int, int]] = []
            for cs in sessions:
                slot = _place(site, day, cs.duration_min, busy)
                # The first day may move back to find a chair; later days only forward, after the day
                # before (a full network once put day 2 before day 1: earliest after latest).
                while slot is None and not placed and day > today - timedelta(days=40):
                    day -= timedelta(days=1)
                    slot = _place(site, day, cs.duration_min, busy)
                while slot is None and placed and day < today - timedelta(days=1):
                    day += timedelta(days=1)
                    slot = _place(site, day, cs.duration_min, busy)
                if slot is None:
                    break
                placed.append((cs, day, *slot))
                day += timedelta(days=1)
            if len(placed) != len(sessions) or placed[-1][1] >= today:
                continue
            made += add_completed_course(session, course, site, placed)
        session.commit()
    console.print(f"History: {len(made)} completed appointments in the last month.")
    return made


def _place(
    site: Site, day: date, duration_min: int, busy: dict[tuple[int, date], dict[int, int]]
) -> tuple[int, int] | None:
    hours = {h.weekday: h for h in site.hours}.get(day.weekday())
    if hours is None or any(c.date == day for c in site.closed_dates):
        return None
    open_min = hours.open_time.hour * 60 + hours.open_time.minute
    close_min = hours.close_time.hour * 60 + hours.close_time.minute
    free = busy.setdefault((site.id, day), {c.id: open_min for c in site.chairs if c.active})
    chair_id = min(free, key=lambda c: free[c])
    start = -(-free[chair_id] // 15) * 15
    if start + duration_min > close_min:
        return None
    free[chair_id] = start + duration_min
    return chair_id, start


def chart_past_infusions(
    db: Database, *, seed: int, appointment_ids: list[int], console: Console
) -> dict[str, int]:
    """Dispense each past appointment's vials (FEFO) and write its signed chart."""
    from igflow.inventory import service as inventory_service
    from igflow.inventory.models import InventoryLot, StockBalance, StockMove
    from igflow.security.service import get_user_by_username, principal_for_user

    rng = random.Random(seed + 11)
    catalog = load_catalog()
    counts = {"records": 0, "reactions": 0, "grade3": 0, "follow_ups_open": 0}
    now = datetime.now(UTC)
    with db.session() as session:
        nurse_user = get_user_by_username(session, "nurse")
        pharmacist_user = get_user_by_username(session, "pharmacist")
        assert nurse_user is not None and pharmacist_user is not None
        nurse = principal_for_user(nurse_user, client_address="demo-history")
        pharmacist = principal_for_user(pharmacist_user, client_address="demo-history")
        _receive_history_stock(session, pharmacist, appointment_ids, seed)
        for appointment_id in appointment_ids:
            appointment = session.get(Appointment, appointment_id)
            assert appointment is not None
            cs = session.get(CourseSession, appointment.course_session_id)
            assert cs is not None
            course = session.get(Course, cs.course_id)
            assert course is not None
            version = session.get(PlanVersion, course.plan_version_id)
            order = session.get(Order, course.order_id)
            assert version is not None and order is not None
            plan = version.plan
            day = next(d for d in plan["days"] if int(d["day"]) == cs.day_index)
            already: dict[float, int] = {}
            for move, lot in session.execute(
                select(StockMove, InventoryLot)
                .join(InventoryLot, InventoryLot.id == StockMove.lot_id)
                .where(StockMove.appointment_id == appointment.id, StockMove.kind == "dispense")
            ).all():
                already[float(lot.vial_size_g)] = already.get(float(lot.vial_size_g), 0) + move.count
            short = False
            for vial in day["vials"]:
                size, need = float(vial["size_g"]), int(vial["count"]) - already.get(float(vial["size_g"]), 0)
                lots = session.execute(
                    select(InventoryLot)
                    .where(
                        InventoryLot.product_id == plan["product"],
                        InventoryLot.vial_size_g == size,
                        InventoryLot.status == "available",
                        InventoryLot.label_expiry >= appointment.date,
                        InventoryLot.supplier == "Imported history (synthetic)",
                    )
                    .order_by(InventoryLot.label_expiry, InventoryLot.id)
                ).scalars()
                for lot in lots:
                    if need <= 0:
                        break
                    balance = session.execute(
                        select(StockBalance).where(
                            StockBalance.lot_id == lot.id, StockBalance.site_id == appointment.site_id
                        )
                    ).scalar_one_or_none()
                    available = 0 if balance is None else balance.on_hand - balance.allocated
                    take = min(need, available)
                    if take > 0:
                        inventory_service.dispense(
                            session,
                            nurse,
                            appointment.id,
                            lot.id,
                            take,
                            client_id=f"hist-{appointment.id}-{lot.id}",
                        )
                        need -= take
                short = short or need > 0
            if short:
                continue  # no stock for this past infusion in the synthetic pharmacy: leave it uncharted
            counts["records"] += 1
            grade = next((g for g, share in _GRADE_SHARES if rng.random() < share), 0)
            counts["reactions"] += grade > 0
            counts["grade3"] += grade >= 3
            _chart(
                session,
                appointment,
                course,
                order,
                version,
                day,
                nurse_user.id,
                grade,
                rng,
                catalog,
                now,
                counts,
            )
        session.commit()
    console.print(
        f"History: {counts['records']} signed infusion charts, {counts['reactions']} with a reaction "
        f"({counts['grade3']} grade 3), {counts['follow_ups_open']} follow-up calls still open."
    )
    return counts


def _receive_history_stock(session: Any, pharmacist: Any, appointment_ids: list[int], seed: int) -> None:
    """The stock the past month used, received as lots of their own (so today's stock stays as loaded)."""
    from igflow.demo.inventory import DEMO_INVENTORY_PRODUCTS, demo_gtin
    from igflow.inventory import service as inventory_service
    from igflow.inventory.schemas import ReceiptIn

    need: dict[tuple[int, str, float], tuple[int, date]] = {}
    for appointment_id in appointment_ids:
        appointment = session.get(Appointment, appointment_id)
        cs = session.get(CourseSession, appointment.course_session_id)
        course = session.get(Course, cs.course_id)
        plan = session.get(PlanVersion, course.plan_version_id).plan
        day = next(d for d in plan["days"] if int(d["day"]) == cs.day_index)
        for vial in day["vials"]:
            key = (appointment.site_id, str(plan["product"]), float(vial["size_g"]))
            count, first = need.get(key, (0, appointment.date))
            need[key] = (count + int(vial["count"]), min(first, appointment.date))
    for k, ((site_id, product, size), (count, first)) in enumerate(sorted(need.items())):
        index = DEMO_INVENTORY_PRODUCTS.index(product) if product in DEMO_INVENTORY_PRODUCTS else 90
        inventory_service.receive(
            session,
            pharmacist,
            ReceiptIn(
                product_id=product,
                lot_number=f"H{seed % 100:02d}{k:04d}",
                gtin=demo_gtin(index, size),
                label_expiry=first + timedelta(days=240),
                vial_size_g=size,
                site_id=site_id,
                count=count,
                storage_place="main fridge",
                acquisition_cost_cents=round(size * 9500),
                supplier="Imported history (synthetic)",
                client_id=f"hist-receipt-{seed}-{k}",
            ),
        )


def _chart(
    session: Any,
    appointment: Appointment,
    course: Course,
    order: Order,
    version: PlanVersion,
    day: dict[str, Any],
    nurse_id: int,
    grade: int,
    rng: random.Random,
    catalog: Any,
    now: datetime,
    counts: dict[str, int],
) -> None:
    from igflow.inventory.models import InventoryLot, StockMove

    site = session.get(Site, appointment.site_id)
    zone = ZoneInfo(site.timezone)
    begin = datetime.combine(appointment.date, time(0), tzinfo=zone).astimezone(UTC) + timedelta(
        minutes=appointment.start_min
    )
    setup = int(day.get("setup_min") or 0)
    # Synthetic chair times for the utilisation report: the patient checks in up to 15 minutes before the
    # booked time and the infusion starts up to 20 minutes after the planned set-up, varied by appointment
    # (no draw from ``rng``, so every other synthetic figure stays as it was).
    early_min, late_min = appointment.id * 7 % 16, appointment.id * 11 % 21
    started = begin + timedelta(minutes=setup + late_min)
    infusion_min = float(day["infusion_min"])
    stopped = grade >= 3
    ended = started + timedelta(minutes=infusion_min * (0.5 if stopped else 1.0))
    record = InfusionRecord(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        order_id=order.id,
        plan_version_id=version.id,
        day_index=int(day["day"]),
        product_id=str(version.plan["product"]),
        status="signed",
        started_at=started,
        ended_at=ended,
        volume_infused_ml=round(float(day["volume_ml"]) * (0.5 if stopped else 1.0), 1),
        max_reaction_grade=grade,
        next_plan_flags=["premedication", "product_review", "slower_titration"] if stopped else [],
        first_infusion=bool(version.plan.get("first_infusion")),
        signed_by_user_id=nurse_id,
        signed_at=ended + timedelta(minutes=int(day.get("observation_min") or 0)),
        created_by_user_id=nurse_id,
        created_at=begin - timedelta(minutes=early_min),
    )
    session.add(record)
    session.flush()
    n = 0

    def entry(kind: str, payload: dict[str, Any], at: datetime, result: dict[str, Any] | None = None) -> None:
        nonlocal n
        n += 1
        session.add(
            ChartEntry(
                record_id=record.id,
                client_id=f"hist-{record.id}-{n:03d}",
                kind=kind,
                payload=payload,
                result=result or {},
                created_by_user_id=nurse_id,
                created_at=at,
            )
        )

    def vitals(at: datetime) -> None:
        entry(
            "vitals",
            {
                "systolic_bp_mmhg": rng.randint(105, 140),
                "heart_rate_bpm": rng.randint(60, 92),
                "temperature_c": round(rng.uniform(36.3, 37.2), 1),
                "spo2_percent": rng.randint(95, 99),
            },
            at,
            {"alerts": []},
        )

    entry(
        "checklist",
        {
            "identifiers": ["name", "date_of_birth"],
            "hydration": True,
            "iv_access": "22G forearm",
            "premedications": [],
        },
        begin,
    )
    entry(
        "weight", {"weight_kg": version.plan["weight_kg"]}, begin, {"needs_pharmacist": False, "alerts": []}
    )
    vitals(begin + timedelta(minutes=2))
    for move, lot in session.execute(
        select(StockMove, InventoryLot)
        .join(InventoryLot, InventoryLot.id == StockMove.lot_id)
        .where(StockMove.appointment_id == appointment.id, StockMove.kind == "dispense")
    ).all():
        for _ in range(move.count):
            entry(
                "vial",
                {"scan_text": f"(imported) lot {lot.lot_number}"},
                begin + timedelta(minutes=5),
                {
                    "lot_id": lot.id,
                    "lot_number": lot.lot_number,
                    "size_g": float(lot.vial_size_g),
                    "move_id": move.id,
                },
            )
    entry("start", {}, started)
    for k, step in enumerate(day["steps"][1:], start=1):
        at = started + timedelta(minutes=float(step["start_min"]))
        if stopped and at >= ended:
            break
        entry("rate_change", {"rate_ml_per_h": step["rate_ml_per_h"], "note": ""}, at, {"step": k})
    if grade:
        entry(
            "reaction",
            {
                "grade": grade,
                "symptoms": _SYMPTOMS[grade][: rng.randint(1, 2)],
                "action_taken": _ACTIONS[grade],
                "medications": ["paracetamol 1 g"] if grade >= 1 else [],
                "outcome": "settled",
            },
            ended - timedelta(minutes=5),
            {"stops_infusion": stopped},
        )
    entry("end", {"volume_infused_ml": record.volume_infused_ml, "vials_wasted": 0, "note": ""}, ended)
    vitals(record.signed_at - timedelta(minutes=1))
    entry("sign", {"statement": "I charted this infusion and the record is complete"}, record.signed_at)
    if stopped:
        for queue in ("pharmacist", "prescriber"):
            session.add(
                WorkTask(
                    kind="reaction_review",
                    queue=queue,
                    patient_id=record.patient_id,
                    record_id=record.id,
                    title=f"Grade {grade} infusion reaction",
                    detail={"grade": grade, "next_plan_flags": record.next_plan_flags},
                )
            )
    task = follow_up_task(ended, catalog.infusion_day.follow_up)
    done = task.due_by_utc < now
    session.add(
        WorkTask(
            kind="follow_up",
            queue="nurse",
            patient_id=record.patient_id,
            record_id=record.id,
            title="Follow-up call after the infusion",
            detail={"checklist": [{"id": c.id, "label": c.label} for c in task.checklist]},
            due_from=task.due_from_utc,
            due_by=task.due_by_utc,
            status="done" if done else "open",
            outcome={"note": "no concerns (imported)"} if done else None,
            completed_at=task.due_from_utc if done else None,
        )
    )
    counts["follow_ups_open"] += not done
