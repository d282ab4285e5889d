"""Loads the synthetic three-centre network: sites, chairs, staff, prescribers, payers, patients, referrals.

Deterministic for a given seed. Patients are bulk-inserted in batches (100,000 in a few minutes on SQLite),
with a Rich progress bar. Re-running on a database that already holds an organisation adds nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.db import Database
from igflow.demo import names
from igflow.demo.prices import load_demo_prices
from igflow.directory.models import Payer, Prescriber
from igflow.jobs import planning as planning_job
from igflow.patients.models import Coverage, Measurement, Patient, PatientSite
from igflow.referrals.models import Referral
from igflow.security import audit
from igflow.security.audit import SYSTEM
from igflow.security.models import User, UserRole, UserSite
from igflow.security.passwords import hash_password
from igflow.sites.models import Chair, ClosedDate, Organisation, Site, SiteHours

# The reference date the synthetic history is built around (fixed, so the data is the same every run).
REFERENCE_DATE = date(2026, 11, 16)
BATCH = 5000


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str
    display_name: str
    site_code: str | None = None
    extra_roles: tuple[str, ...] = ()


# The published demo sign-ins (README, `igflow demo` output): each password is made from its username,
# which the name rule of igflow.security.passwords.check_strength refuses for a real account, so they are
# hashed with enforce_strength=False. The rule itself is unchanged; these are demo data, not a choice.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin", "demo-admin-2026", "Avery Admin (demo)"),
    DemoUser("pharmacist", "pharmacist", "demo-pharmacist-2026", "Pat Pharmacist (demo)"),
    DemoUser(
        "pharmacist2",
        "pharmacist",
        "demo-pharmacist2-2026",
        "Quinn Second-Check (demo)",
        None,
        ("pt_approver",),
    ),
    DemoUser("nurse", "nurse", "demo-nurse-2026", "Nico Nurse (demo)"),
    DemoUser("nurse.harbor", "nurse", "demo-nurse-harbor-2026", "Hana Harbor-Nurse (demo)", "harbor"),
    DemoUser("nurse.home", "nurse", "demo-nurse-home-2026", "Hollis Home-Nurse (demo)", "home"),
    DemoUser("scheduler", "scheduler", "demo-scheduler-2026", "Sam Scheduler (demo)"),
    DemoUser("intake", "intake", "demo-intake-2026", "Ira Intake (demo)"),
    DemoUser("prescriber", "prescriber", "demo-prescriber-2026", "Dr Drew Prescriber (demo)"),
    DemoUser("priorauth", "prior_auth", "demo-priorauth-2026", "Parker Prior-Auth (demo)"),
    DemoUser("auditor", "auditor", "demo-auditor-2026", "Aud Auditor (demo)"),
    DemoUser("patient", "patient", "demo-patient-2026", "Demo Patient"),
    DemoUser("patient.scig", "patient", "demo-patient-scig-2026", "Demo SCIG Patient"),
)

# (code, name, chairs, beds, {weekday: (open, close, nurses)}, patients_per_nurse)
_SITES: tuple[tuple[str, str, int, int, dict[int, tuple[str, str, int]], int], ...] = (
    (
        "harbor",
        "Harbor View Infusion Centre",
        11,
        1,
        {d: ("07:30", "18:00", 3) for d in range(5)},
        4,
    ),
    (
        "oakridge",
        "Oak Ridge Infusion Centre",
        14,
        2,
        {**{d: ("08:00", "19:00", 4) for d in range(5)}, 5: ("08:00", "12:30", 2)},
        4,
    ),
    (
        "mesa",
        "Mesa Infusion Centre",
        10,
        0,
        {**{d: ("08:00", "17:00", 3) for d in range(4)}, 4: ("08:00", "15:00", 2)},
        4,
    ),
)
_HOLIDAYS = (
    (date(2026, 11, 26), "Thanksgiving"),
    (date(2026, 12, 25), "Christmas Day"),
    (date(2027, 1, 1), "New Year's Day"),
)

# Indication mix of an IVIG/SCIG service (share of patients), with phase of therapy shares.
_MIX: tuple[tuple[str, float], ...] = (
    ("cidp", 0.22),
    ("pid", 0.22),
    ("myasthenia-gravis", 0.09),
    ("mmn", 0.06),
    ("dermatomyositis", 0.06),
    ("sid", 0.07),
    ("itp-adult", 0.07),
    ("itp-child", 0.03),
    ("gbs", 0.04),
    ("sle", 0.03),
    ("kawasaki", 0.03),
    ("polymyositis", 0.02),
    ("lupus-nephritis", 0.01),
    ("ms", 0.02),
    ("aiha", 0.02),
)
_ICD10 = {
    "cidp": ("G61.81", "Chronic inflammatory demyelinating polyneuropathy"),
    "pid": ("D80.1", "Nonfamilial hypogammaglobulinaemia"),
    "myasthenia-gravis": ("G70.01", "Myasthenia gravis with exacerbation"),
    "mmn": ("G61.82", "Multifocal motor neuropathy"),
    "dermatomyositis": ("M33.10", "Other dermatomyositis"),
    "sid": ("D80.1", "Hypogammaglobulinaemia secondary to CLL therapy"),
    "itp-adult": ("D69.3", "Immune thrombocytopenic purpura"),
    "itp-child": ("D69.3", "Immune thrombocytopenic purpura"),
    "gbs": ("G61.0", "Guillain-Barré syndrome"),
    "sle": ("M32.9", "Systemic lupus erythematosus"),
    "kawasaki": ("M30.3", "Mucocutaneous lymph node syndrome"),
    "polymyositis": ("M33.20", "Polymyositis"),
    "lupus-nephritis": ("M32.14", "Glomerular disease in SLE"),
    "ms": ("G35", "Multiple sclerosis"),
    "aiha": ("D59.11", "Warm autoimmune haemolytic anaemia"),
}
_CHILD_ONLY = {"kawasaki", "itp-child"}
_NOT_RECOMMENDED_HERE = {"ms", "aiha"}

_PRESCRIBERS = (
    ("Dr Imani Okonkwo", "Neurology"),
    ("Dr Lars Pettersen", "Neurology"),
    ("Dr Keiko Matsuda", "Neuromuscular medicine"),
    ("Dr Rafael Quintero", "Clinical immunology"),
    ("Dr Saoirse Delaney", "Clinical immunology"),
    ("Dr Anil Varghese", "Haematology"),
    ("Dr Beatrix Holm", "Haematology"),
    ("Dr Tomasz Wierzbicki", "Rheumatology"),
    ("Dr Amara Nwosu", "Rheumatology"),
    ("Dr Felipe Arce", "Paediatric cardiology"),
    ("Dr Ingrid Solberg", "Paediatric haematology"),
    ("Dr Marcus Elling", "Oncology"),
)
_PAYERS = (
    ("medicare-b", "Medicare Part B (synthetic)", None),
    ("blueharbor", "Blue Harbor Health (synthetic)", "adjusted-bmi30"),
    ("summit", "Summit Care Plans (synthetic)", None),
    ("medicaid", "State Medicaid (synthetic)", None),
    ("pacific", "Pacific Mutual (synthetic)", "adjusted-bmi30"),
)


def _t(value: str) -> time:
    return time.fromisoformat(value)


def _choose(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in table)
    for key, weight in table:
        roll -= weight
        if roll <= 0:
            return key
    return table[-1][0]


def _age_for(rng: random.Random, indication: str) -> int:
    if indication == "kawasaki":
        return rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6])
    if indication == "itp-child":
        return rng.randint(2, 15)
    if indication == "pid":
        return rng.choice([rng.randint(5, 17), rng.randint(18, 85), rng.randint(18, 85)])
    if indication in ("myasthenia-gravis", "cidp", "mmn", "sid"):
        return min(92, max(19, int(rng.gauss(62, 13))))
    return min(90, max(18, int(rng.gauss(50, 15))))


def _body(rng: random.Random, age: int, sex: str) -> tuple[float, float]:
    """Synthetic height (cm) and weight (kg) with a plausible spread, obesity included."""
    if age < 18:
        height = (
            75 + 6.2 * age + rng.gauss(0, 4)
            if age < 12
            else 150 + (age - 12) * (3.0 if sex == "male" else 1.5)
        )
        bmi = max(13.0, rng.gauss(17 + 0.3 * age, 2.5))
    else:
        height = rng.gauss(176, 7) if sex == "male" else rng.gauss(163, 6.5)
        bmi = rng.choice([rng.gauss(24, 2.5), rng.gauss(28, 2), rng.gauss(34, 4), rng.gauss(27, 4)])
        bmi = max(17.0, min(bmi, 55.0))
    height = round(max(70.0, height), 1)
    return height, round(bmi * (height / 100) ** 2, 1)


def _dob(rng: random.Random, age: int) -> date:
    return REFERENCE_DATE - timedelta(days=age * 365 + rng.randint(0, 364))


def load_demo(
    db: Database, *, seed: int = 42, patients: int = 250, console: Console | None = None, orders: int = 120
) -> bool:
    """Create the demo network; returns False (and changes nothing) if an organisation already exists."""
    console = console or Console()
    catalog = load_catalog()
    for indication, _ in _MIX:
        if indication not in catalog.indications:
            raise RuntimeError(f"demo mix names indication '{indication}' that the catalog lacks")
    with db.session() as session:
        if session.execute(select(Organisation.id)).first() is not None:
            return False
        rng = random.Random(seed)
        session.add(
            Organisation(
                name="Sunrise Specialty Pharmacy (synthetic)",
                timezone="America/Los_Angeles",
                default_dosing_policy_id=catalog.default_policy,
                demo_seed=seed,
            )
        )
        site_ids = _load_sites(session)
        _load_users_without_patient(session, site_ids)
        prescriber_ids = _load_prescribers(session)
        payer_ids = _load_payers(session)
        session.commit()
        _load_protocol(session)
        load_demo_prices(session)
        first_patient_id = _load_patients(
            session, rng, patients, site_ids, prescriber_ids, payer_ids, console
        )
        _load_patient_user(session, first_patient_id)
        audit.record(
            session,
            SYSTEM,
            "demo.load",
            "organisation",
            detail={"seed": seed, "patients": patients, "first_patient_id": first_patient_id},
        )
        session.commit()
    if orders:
        from igflow.demo.history import chart_past_infusions, create_past_appointments
        from igflow.demo.inventory import load_inventory_demo
        from igflow.demo.outcomes import add_earlier_cycles, load_outcomes_demo

        load_clinical_flow(db, seed=seed, orders=orders, console=console)
        from igflow.demo.authorizations import record_demo_approvals

        record_demo_approvals(db)
        past = create_past_appointments(db, seed=seed, count=orders, console=console)
        past += add_earlier_cycles(db, console=console)
        load_inventory_demo(db, seed=seed, console=console)
        chart_past_infusions(db, seed=seed, appointment_ids=past, console=console)
        load_outcomes_demo(db, console=console)
        from igflow.demo.authorizations import load_prior_auth_demo

        load_prior_auth_demo(db, console=console)
        from igflow.demo.reports_b import load_reports_b_demo

        load_reports_b_demo(db, console=console)  # decided requests and an expired lot for the reports
        from igflow.demo.home import load_home_demo

        load_home_demo(db, seed=seed, console=console)
        from igflow.demo.portal import load_portal_demo

        load_portal_demo(db, console=console)
    return True


def _load_protocol(session: Session) -> None:
    """The demo organisation's protocol: proposed by one pharmacist, approved by the P&T approver."""
    from igflow.catalog.protocol import ProtocolDocument
    from igflow.protocols import service as protocols_service
    from igflow.protocols.schemas import ProtocolDecisionIn, ProtocolIn
    from igflow.security.service import get_user_by_username, principal_for_user

    with resources.files("igflow.demo").joinpath("protocol.yaml").open(encoding="utf-8") as handle:
        document = ProtocolDocument.model_validate(yaml.safe_load(handle))
    proposer, approver = (get_user_by_username(session, name) for name in ("pharmacist", "pharmacist2"))
    assert proposer is not None and approver is not None
    draft = protocols_service.create_draft(
        session,
        principal_for_user(proposer, client_address="demo-loader").actor,
        proposer.id,
        ProtocolIn(
            title=document.title,
            effective_from=datetime.now(UTC).date() - timedelta(days=60),
            summary="First version: values the labels leave to local practice (demo local decisions).",
            values=document.values.model_dump(mode="json", exclude_none=True),
        ),
    )
    protocols_service.decide(
        session,
        principal_for_user(approver, client_address="demo-loader"),
        draft.id,
        ProtocolDecisionIn(decision="approved", version=draft.version, note="Approved for the demo network."),
    )


def _load_sites(session: Session) -> dict[str, int]:
    ids: dict[str, int] = {}
    for code, name, recliners, beds, hours, per_nurse in _SITES:
        site = Site(
            code=code,
            name=name,
            kind="centre",
            address=f"{len(ids) * 120 + 100} {names.STREETS[len(ids)]} Avenue, {names.CITIES[len(ids)]}",
            timezone="America/Los_Angeles",
            patients_per_nurse=per_nurse,
            starts_per_nurse_per_slot=1,
        )
        site.hours = [
            SiteHours(weekday=d, open_time=_t(o), close_time=_t(c), nurses=n)
            for d, (o, c, n) in sorted(hours.items())
        ]
        site.closed_dates = [ClosedDate(date=d, reason=r) for d, r in _HOLIDAYS]
        chairs = [Chair(label=f"C{i:02d}", kind="recliner", position=i) for i in range(1, recliners + 1)]
        chairs += [Chair(label=f"B{i:02d}", kind="bed", position=recliners + i) for i in range(1, beds + 1)]
        site.chairs = chairs
        session.add(site)
        session.flush()
        ids[code] = site.id
    home = Site(
        code="home",
        name="Home Infusion Service",
        kind="home",
        address="Visits at the patient's home",
        timezone="America/Los_Angeles",
        patients_per_nurse=1,
        starts_per_nurse_per_slot=1,
    )
    session.add(home)
    session.flush()
    ids["home"] = home.id
    return ids


def _load_users_without_patient(session: Session, site_ids: dict[str, int]) -> None:
    for demo_user in DEMO_USERS:
        if demo_user.role == "patient":
            continue
        user = User(
            username=demo_user.username,
            display_name=demo_user.display_name,
            password_hash=hash_password(demo_user.password, enforce_strength=False),  # see DEMO_USERS
            password_changed_at=datetime.now(UTC),
        )
        user.roles = [UserRole(role=role) for role in (demo_user.role, *demo_user.extra_roles)]
        if demo_user.site_code:
            user.sites = [UserSite(site_id=site_ids[demo_user.site_code])]
        session.add(user)
    session.flush()


def _load_patient_user(session: Session, patient_id: int) -> None:
    demo_user = next(u for u in DEMO_USERS if u.role == "patient")
    patient = session.get(Patient, patient_id)
    assert patient is not None
    user = User(
        username=demo_user.username,
        display_name=f"{patient.given_name} {patient.family_name}",
        password_hash=hash_password(demo_user.password, enforce_strength=False),  # see DEMO_USERS
        patient_id=patient_id,
        password_changed_at=datetime.now(UTC),
    )
    user.roles = [UserRole(role="patient")]
    session.add(user)
    session.flush()


def _load_prescribers(session: Session) -> list[int]:
    rows = [
        Prescriber(name=name, npi=f"19{i:08d}", specialty=specialty, phone=f"555-01{i:02d}", email="")
        for i, (name, specialty) in enumerate(_PRESCRIBERS, start=1)
    ]
    session.add_all(rows)
    session.flush()
    return [p.id for p in rows]


def _load_payers(session: Session) -> list[int]:
    rows = [Payer(code=code, name=name, dosing_policy_id=policy) for code, name, policy in _PAYERS]
    session.add_all(rows)
    session.flush()
    return [p.id for p in rows]


def _next_id(session: Session, table: Any) -> int:
    return int(session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _batches(total: int) -> Iterator[range]:
    for start in range(0, total, BATCH):
        yield range(start, min(start + BATCH, total))


def _load_patients(
    session: Session,
    rng: random.Random,
    count: int,
    site_ids: dict[str, int],
    prescriber_ids: list[int],
    payer_ids: list[int],
    console: Console,
) -> int:
    centre_codes = [c for c, *_ in _SITES]
    ids = {
        name: _next_id(session, table)
        for name, table in (
            ("patient", Patient.__table__),
            ("patient_site", PatientSite.__table__),
            ("measurement", Measurement.__table__),
            ("coverage", Coverage.__table__),
            ("referral", Referral.__table__),
        )
    }
    first_patient_id = ids["patient"]
    now = datetime.now(UTC)
    progress = Progress(
        TextColumn("[bold]synthetic patients"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("patients", total=count)
        for batch in _batches(count):
            rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ids}
            for index in batch:
                _one_patient(rng, index, ids, rows, site_ids, centre_codes, prescriber_ids, payer_ids, now)
            for name, table in (
                ("patient", Patient.__table__),
                ("patient_site", PatientSite.__table__),
                ("measurement", Measurement.__table__),
                ("coverage", Coverage.__table__),
                ("referral", Referral.__table__),
            ):
                if rows[name]:
                    session.execute(insert(table), rows[name])
            session.commit()
            progress.advance(task, len(batch))
    if session.get_bind().dialect.name == "postgresql":
        for table in ("patient", "patient_site", "measurement", "coverage", "referral"):
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
            )
        session.commit()
    return first_patient_id


def _one_patient(
    rng: random.Random,
    index: int,
    ids: dict[str, int],
    rows: dict[str, list[dict[str, Any]]],
    site_ids: dict[str, int],
    centre_codes: list[str],
    prescriber_ids: list[int],
    payer_ids: list[int],
    now: datetime,
) -> None:
    pid = ids["patient"]
    ids["patient"] += 1
    indication = _choose(rng, _MIX)
    age = _age_for(rng, indication)
    sex = (
        "female"
        if rng.random() < (0.7 if indication in ("sle", "lupus-nephritis", "dermatomyositis") else 0.5)
        else "male"
    )
    given = rng.choice(names.FEMALE if sex == "female" else names.MALE)
    family = rng.choice(names.FAMILY)
    dob = _dob(rng, age)
    height_cm, weight_kg = _body(rng, age, sex)
    older = age >= 65
    rows["patient"].append(
        {
            "id": pid,
            "mrn": f"SYN{pid:07d}",
            "given_name": given,
            "family_name": family,
            "search_name": f"{family} {given}".lower(),
            "date_of_birth": dob,
            "sex": sex,
            "phone": f"555-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            "email": f"{given.lower()}.{family.lower()}{pid}@example.org",
            "address": f"{rng.randint(1, 999)} {rng.choice(names.STREETS)} St, {rng.choice(names.CITIES)}",
            "allergies": rng.choice(["", "", "", "", "Penicillin (rash)", "Latex", "Sulfonamides"]),
            "prior_severe_ig_reaction": rng.random() < 0.02,
            "iga_deficiency_anti_iga": "yes"
            if rng.random() < 0.005
            else rng.choice(["no", "no", "no", "unknown"]),
            "pregnancy_status": (
                "not_applicable"
                if sex == "male" or age < 12 or age > 55
                else ("pregnant" if rng.random() < 0.02 else "not_pregnant")
            ),
            "renal_impairment": rng.random() < (0.18 if older else 0.05),
            "diabetes": rng.random() < (0.22 if older else 0.08 if age >= 18 else 0.005),
            "heart_failure": rng.random() < (0.10 if older else 0.02 if age >= 18 else 0.0),
            "thrombosis_history": rng.random() < (0.07 if older else 0.03 if age >= 18 else 0.002),
            "hyperviscosity": rng.random() < 0.01,
            "hyperprolinaemia": rng.random() < 0.002,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
    )
    if indication == "pid" and rng.random() < 0.3:
        preferred = ["home"]
    else:
        first = rng.choice(centre_codes)
        preferred = [first] + (
            [rng.choice([c for c in centre_codes if c != first])] if rng.random() < 0.5 else []
        )
    for rank, code in enumerate(preferred, start=1):
        rows["patient_site"].append(
            {"id": ids["patient_site"], "patient_id": pid, "site_id": site_ids[code], "rank": rank}
        )
        ids["patient_site"] += 1

    def measure(kind: str, value: float, days_ago: int) -> None:
        rows["measurement"].append(
            {
                "id": ids["measurement"],
                "patient_id": pid,
                "kind": kind,
                "value": value,
                "measured_on": REFERENCE_DATE - timedelta(days=days_ago),
                "recorded_at": now,
                "recorded_by_user_id": None,
                "amends_id": None,
                "note": "synthetic",
            }
        )
        ids["measurement"] += 1

    measure("height_cm", height_cm, 300)
    visits = rng.randint(1, 4)
    if index == 0:
        visits = 4  # the demo patient account's own record shows a weight history
    drift = rng.gauss(0, 1.5)
    for v in range(visits):
        days_ago = int((visits - v) * 75 - rng.randint(0, 20))
        measure("weight_kg", round(max(3.0, weight_kg - drift * (visits - v - 1)), 1), max(days_ago, 1))
    if age >= 12:
        base = 65 if sex == "female" else 80
        creat = round(
            base * (2.2 if rows["patient"][-1]["renal_impairment"] else 1.0) * rng.uniform(0.8, 1.25)
        )
        measure("creatinine_umol_per_l", creat, rng.randint(5, 60))
    rows["coverage"].append(
        {
            "id": ids["coverage"],
            "patient_id": pid,
            "payer_id": rng.choice(payer_ids),
            "plan_name": rng.choice(["Standard", "Plus", "Advantage"]),
            "member_id": f"M{rng.randint(10**8, 10**9 - 1)}",
            "benefit": "pharmacy" if preferred == ["home"] else "medical",
            "rank": 1,
            "active": True,
        }
    )
    ids["coverage"] += 1
    status = _referral_status(rng, indication)
    icd, text_ = _ICD10[indication]
    rows["referral"].append(
        {
            "id": ids["referral"],
            "patient_id": pid,
            "received_on": REFERENCE_DATE
            - timedelta(days=rng.randint(0, 400) if status == "accepted" else rng.randint(0, 14)),
            "prescriber_id": rng.choice(prescriber_ids),
            "icd10_code": icd,
            "diagnosis_text": text_,
            "indication_id": indication,
            "urgency": "urgent"
            if indication in ("kawasaki", "gbs")
            else rng.choice(["routine", "routine", "soon"]),
            "status": status,
            "decision_reason": (
                "Not recommended for this indication under the reviewed criteria; "
                "alternatives discussed with the prescriber."
                if status == "declined"
                else ""
            ),
            "notes": "",
            "created_by_user_id": None,
            "created_at": now,
            "decided_by_user_id": None,
            "decided_at": now if status in ("accepted", "declined") else None,
            "version": 1,
        }
    )
    ids["referral"] += 1


def _referral_status(rng: random.Random, indication: str) -> str:
    if indication in _NOT_RECOMMENDED_HERE:
        return rng.choice(["declined", "declined", "in_review"])
    roll = rng.random()
    return "new" if roll < 0.06 else "in_review" if roll < 0.12 else "declined" if roll < 0.14 else "accepted"


# --- orders, verified plans and booked courses ---------------------------------------------------------

# Phase by indication for the demo's orders (chronic conditions on maintenance, acute ones acute).
_DEMO_PHASE = {
    "cidp": "maintenance",
    "pid": "maintenance",
    "sid": "maintenance",
    "mmn": "maintenance",
    "myasthenia-gravis": "maintenance",
    "dermatomyositis": "maintenance",
    "polymyositis": "maintenance",
    "itp-adult": "acute",
    "itp-child": "acute",
    "kawasaki": "acute",
    "gbs": "acute",
}
# Products tried in turn; the first whose plan has no hard stop for the patient is ordered.
_DEMO_PRODUCTS = ("gammagard-liquid", "privigen", "gamunex-c", "panzyga", "octagam-10", "bivigam")


def load_clinical_flow(db: Database, *, seed: int, orders: int, console: Console) -> dict[str, int]:
    """Orders for accepted referrals, verified by a second pharmacist, with courses booked by a planning run.

    Everything goes through the services (audit included), as if the staff had done it.
    """
    from igflow.appointments import service as appointments_service
    from igflow.errors import IgflowError
    from igflow.orders import service as orders_service
    from igflow.orders.schemas import OrderIn, VerificationIn
    from igflow.security.service import get_user_by_username, principal_for_user

    rng = random.Random(seed + 1)
    counts = {"orders": 0, "verified": 0, "courses": 0, "booked_courses": 0}
    with db.session() as session:

        def principal(username: str) -> Any:
            user = get_user_by_username(session, username)
            assert user is not None
            return principal_for_user(user, client_address="demo-loader")

        prescriber, pharmacist, scheduler = (
            principal("prescriber"),
            principal("pharmacist"),
            principal("scheduler"),
        )
        candidates = session.execute(
            select(Referral.patient_id, Referral.indication_id, Referral.prescriber_id, Referral.id)
            .where(Referral.status == "accepted", Referral.indication_id.in_(list(_DEMO_PHASE)))
            .order_by(Referral.patient_id)
        ).all()
        first_patient = session.execute(select(func.min(Patient.id))).scalar_one()
        # patients seen only by the home-infusion service get IVIG at home (a visiting nurse)
        kinds = session.execute(
            select(PatientSite.patient_id, Site.kind).join(Site, Site.id == PatientSite.site_id)
        ).all()
        with_centre = {pid for pid, kind in kinds if kind == "centre"}
        home_only = {pid for pid, kind in kinds if kind == "home"} - with_centre
        chosen = [c for c in candidates if c[0] == first_patient] + [
            c for c in candidates if c[0] != first_patient
        ]
        for patient_id, indication, prescriber_id, referral_id in chosen[:orders]:
            order = None
            for product in _DEMO_PRODUCTS:
                data = OrderIn(
                    patient_id=patient_id,
                    prescriber_id=prescriber_id,
                    referral_id=referral_id,
                    indication_id=indication,
                    phase=_DEMO_PHASE[indication],
                    product_id=product,
                    setting="home" if patient_id in home_only else "centre",
                )
                facts = orders_service.patient_facts(
                    session, session.get(Patient, patient_id), data, load_catalog()
                )
                plan = orders_service._plan(session, data, facts, load_catalog())
                if not any(a["severity"] == "hard_stop" for a in plan["alerts"]):
                    order = orders_service.create(session, prescriber, data)
                    break
            if order is None:
                continue
            counts["orders"] += 1
            if patient_id != first_patient and rng.random() < 0.15:
                continue  # left in the pharmacist's queue
            orders_service.verify(
                session, pharmacist, order.id, VerificationIn(version=1, decision="verified")
            )
            counts["verified"] += 1
            # Maintenance patients are at different points of their cycle: spread their next targets.
            spread = rng.randint(0, 14) if _DEMO_PHASE[indication] == "maintenance" else 0
            try:
                not_before = datetime.now(UTC).date() + timedelta(days=spread)
                appointments_service.create_course(session, scheduler, order.id, not_before)
                counts["courses"] += 1
            except IgflowError:
                session.rollback()
        _load_schedule_wishes(session, scheduler, seed)
        start = datetime.now(UTC).date()
        session.commit()  # the planning run reads in a snapshot and solves with no transaction open
        params = {"start_date": start.isoformat(), "days": 21, "time_limit_s": 5, "seed": seed}
        run = planning_job.plan(db, scheduler, params)
        published = appointments_service.publish(session, scheduler, run.id)
        counts["booked_courses"] = len((published.result or {}).get("booked_courses", []))
        # the reminders the hourly sweep would queue today (the worker then "sends" them to the Mailbox)
        from igflow.messages import reminders

        counts["reminders"] = reminders.sweep(session)["queued"]
    console.print(
        f"Clinical flow: {counts['orders']} orders, {counts['verified']} verified, "
        f"{counts['courses']} courses, "
        f"{counts['booked_courses']} booked by planning run {run.id}; "
        f"{counts['reminders']} reminders in the outbox (Mailbox page)."
    )
    return counts


def _load_schedule_wishes(session: Session, scheduler: Any, seed: int) -> None:
    """Standing scheduling wishes for about one patient in five with a waiting course (weekdays, a time of
    day, or the same time every cycle), from their own random stream so the rest of the demo is unchanged."""
    from igflow.appointments.models import Course
    from igflow.appointments.service import preferences as preferences_service

    rng = random.Random(seed * 7919 + 12)
    patients = sorted(
        set(session.execute(select(Course.patient_id).where(Course.status == "waiting")).scalars())
    )
    for patient_id in patients:
        if rng.random() >= 0.2:
            continue
        kind = rng.choice(("weekdays", "morning", "afternoon", "same_time"))
        first = rng.randint(0, 3)
        data = preferences_service.PreferenceIn(
            weekdays=[first, first + 1] if kind == "weekdays" else [],
            preferred_from={"morning": "08:00", "afternoon": "12:00"}.get(kind, ""),
            preferred_to={"morning": "10:30", "afternoon": "14:00"}.get(kind, ""),
            same_time_every_cycle=kind == "same_time",
            note="synthetic demo wish",
        )
        preferences_service.save(session, scheduler, patient_id, data)
