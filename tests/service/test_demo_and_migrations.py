"""The demo network is deterministic and safe to re-run; the migrations build exactly the models' schema."""

from __future__ import annotations

from collections import Counter
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from rich.console import Console
from sqlalchemy import func, select

from igflow.db import Database
from igflow.demo.network import DEMO_USERS, load_demo
from igflow.migrate import include_object
from igflow.models import Base
from igflow.patients.models import Measurement, Patient, PatientSite
from igflow.referrals.models import Referral
from igflow.security.audit import verify_chain
from igflow.security.models import User
from igflow.sites.models import Chair, Site

QUIET = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - lives for the test session


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], "the models changed without a migration: run alembic revision --autogenerate"


def _snapshot(db: Database) -> list[tuple[object, ...]]:
    with db.session() as session:
        return list(
            session.execute(
                select(
                    Patient.mrn, Patient.family_name, Patient.date_of_birth, Patient.sex, Patient.diabetes
                ).order_by(Patient.id)
            ).all()
        )


def test_demo_network_is_plausible_deterministic_and_idempotent(db: Database) -> None:
    assert load_demo(db, seed=7, patients=300, console=QUIET, orders=25) is True
    first = _snapshot(db)
    assert load_demo(db, seed=7, patients=300, console=QUIET, orders=25) is False  # re-run adds nothing
    assert _snapshot(db) == first
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(Patient)).scalar_one() == 300
        centres = session.execute(select(Site).where(Site.kind == "centre")).scalars().all()
        assert len(centres) == 3
        assert all(10 <= len(site.chairs) <= 16 for site in centres)
        assert any(h.weekday == 5 for site in centres for h in site.hours), "one centre opens on Saturday"
        assert session.execute(select(Site).where(Site.kind == "home")).scalar_one()
        usernames = set(session.execute(select(User.username)).scalars())
        assert {u.username for u in DEMO_USERS} <= usernames
        indications = Counter(session.execute(select(Referral.indication_id)).scalars())
        assert indications["cidp"] > 30 and indications["pid"] > 30 and indications["kawasaki"] >= 1
        statuses = set(session.execute(select(Referral.status)).scalars())
        assert statuses == {"new", "in_review", "accepted", "declined"}
        # Children and obesity are present in the weights.
        weights = (
            session.execute(select(Measurement.value).where(Measurement.kind == "weight_kg")).scalars().all()
        )
        assert min(weights) < 25 and max(weights) > 110
        assert session.execute(select(func.count()).select_from(PatientSite)).scalar_one() >= 300
        assert session.execute(select(func.count()).select_from(Chair)).scalar_one() == sum(
            len(s.chairs) for s in centres
        )
        assert verify_chain(session).ok
        from igflow.appointments.models import Appointment, Course
        from igflow.demo.home import SCIG_SWITCHES
        from igflow.home.models import HomeNurse, HomeVisit
        from igflow.orders.models import Order

        # the clinical flow's orders, plus the SCIG switches of the home-infusion demo
        assert (
            20 <= session.execute(select(func.count()).select_from(Order)).scalar_one() <= 25 + SCIG_SWITCHES
        )
        assert session.execute(select(func.count()).select_from(HomeNurse)).scalar_one() >= 9
        visits = session.execute(select(HomeVisit)).scalars().all()
        assert visits and all(v.nurse_id is not None for v in visits), (
            "routing booked home visits with nurses"
        )
        assert session.execute(
            select(func.count()).select_from(Order).where(Order.setting == "home")
        ).scalar_one()
        assert session.execute(select(func.count()).select_from(Course)).scalar_one() >= 15
        booked = session.execute(select(Appointment).where(Appointment.status == "booked")).scalars().all()
        assert len(booked) >= 10, "the demo's planning run booked courses onto chairs"
        from igflow.infusions.models import InfusionRecord
        from igflow.inventory.models import InventoryLot

        records = session.execute(select(InfusionRecord)).scalars().all()
        assert len(records) >= 10, "a past month of charted infusions"
        assert all(r.status == "signed" for r in records)
        recalled = session.execute(select(InventoryLot).where(InventoryLot.status == "recalled")).scalars()
        recalled = list(recalled)
        assert len(recalled) == 1
        _check_outcome_histories(session)
        _check_patient_side(session)


def _check_patient_side(session: Any) -> None:
    """The demo patient chose their contact hours and has an answered call back (and a request to move a
    day when they have one booked)."""
    from igflow.infusions.models import WorkTask
    from igflow.messages.models import ContactPreference

    patient_id = session.execute(select(User.patient_id).where(User.username == "patient")).scalar_one()
    pref = session.execute(select(ContactPreference).where(ContactPreference.patient_id == patient_id))
    assert pref.scalar_one().quiet_from_min is not None
    asked = session.execute(
        select(WorkTask).where(WorkTask.kind == "patient_request", WorkTask.patient_id == patient_id)
    ).scalars()
    states = {(t.detail["request"], t.status) for t in asked}
    assert ("call_back", "done") in states
    from igflow.portal.models import SymptomReport

    [report] = session.execute(select(SymptomReport)).scalars().all()
    task = session.get(WorkTask, report.task_id)
    assert report.level == "call_now" and task.queue == "nurse" and task.status == "open"


def _check_outcome_histories(session: Any) -> None:
    """The demo's outcome orders: the CIDP non-responder is flagged after two cycles with one prescriber
    review task; the responders are not flagged."""
    from datetime import date

    from igflow.infusions.models import WorkTask
    from igflow.orders.models import Order
    from igflow.outcomes import service as outcomes_service
    from igflow.outcomes.models import OutcomeReading

    order_ids = sorted({r.order_id for r in session.execute(select(OutcomeReading)).scalars()})
    views = [outcomes_service.evaluate(session, session.get(Order, i), date.today()) for i in order_ids]
    assert all(len(v.cycles) >= 2 for v in views)
    outcomes = sorted((v.order.indication_id, v.summary.outcome.value, v.flagged) for v in views)
    assert ("cidp", "no_meaningful_improvement", True) in outcomes
    assert all(flagged == (outcome != "improved") for _, outcome, flagged in outcomes)
    flagged = next(v for v in views if v.flagged)
    tasks = session.execute(
        select(WorkTask).where(
            WorkTask.kind == "response_review", WorkTask.patient_id == flagged.order.patient_id
        )
    ).scalars()
    assert [(t.queue, t.status) for t in tasks] == [("prescriber", "open")]


def test_a_different_seed_gives_a_different_network(db: Database, database_url: str) -> None:
    load_demo(db, seed=1, patients=40, console=QUIET, orders=0)
    first = _snapshot(db)
    from tests.conftest import wipe

    wipe(db)
    load_demo(db, seed=2, patients=40, console=QUIET, orders=0)
    assert _snapshot(db) != first
