"""Use cases of the patients capability. Every read and write of patient data is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionRequired
from igflow.patients import history
from igflow.patients.models import Measurement, Patient, PatientSite
from igflow.patients.schemas import (
    MeasurementIn,
    MeasurementOut,
    Page,
    PatientClinical,
    PatientIn,
    PatientPatch,
    PatientSummary,
)
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service

#: A name search with at most this many matches sorts them instead of walking the name index in order.
_SORT_MATCHES_UP_TO = 5000
SORTS = {
    "name": (Patient.search_name, Patient.id),
    "mrn": (Patient.mrn,),
    "date_of_birth": (Patient.date_of_birth, Patient.id),
    "created_at": (Patient.created_at, Patient.id),
}


@dataclass(frozen=True)
class MeasurementKind:
    id: str
    label: str
    unit: str
    min: float
    max: float
    decimals: int


@lru_cache(maxsize=1)
def measurement_kinds() -> dict[str, MeasurementKind]:
    text = resources.files("igflow.patients").joinpath("measurement_kinds.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {k: MeasurementKind(id=k, **v) for k, v in data["kinds"].items()}


def age_years(date_of_birth: date, on: date) -> int:
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def _today() -> date:
    return utcnow().date()


def _search_name(family: str, given: str) -> str:
    return f"{family} {given}".lower()


def _visible(query: Select[Any], principal: Principal) -> Select[Any]:
    return scope.rows(query, principal, Patient)


def _check_access(principal: Principal, patient: Patient) -> None:
    if principal.can(Perm.PATIENT_SELF) and principal.patient_id == patient.id:
        return
    if not principal.can(Perm.PATIENT_READ):
        raise Forbidden("Your role does not allow reading this patient.")
    if not principal.may_see_sites({s.site_id for s in patient.sites}):
        # Same answer as a missing record: a site-limited user learns nothing about other sites' patients.
        raise NotFound(f"patient {patient.id} not found")


def _load(session: Session, principal: Principal, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"patient {patient_id} not found")
    _check_access(principal, patient)
    return patient


def summary(patient: Patient, today: date | None = None) -> PatientSummary:
    return PatientSummary(
        id=patient.id,
        mrn=patient.mrn,
        given_name=patient.given_name,
        family_name=patient.family_name,
        date_of_birth=patient.date_of_birth,
        age_years=age_years(patient.date_of_birth, today or _today()),
        sex=patient.sex,
        phone=patient.phone,
        email=patient.email,
        address=patient.address,
        home_lat=patient.home_lat,
        home_lon=patient.home_lon,
        site_ids=[s.site_id for s in patient.sites],
        version=patient.version,
    )


def _latest(session: Session, patient_id: int) -> dict[str, MeasurementOut]:
    rows = session.execute(
        select(Measurement)
        .where(Measurement.patient_id == patient_id)
        .order_by(Measurement.measured_on.desc(), Measurement.id.desc())
    ).scalars()
    amended = set()
    latest: dict[str, MeasurementOut] = {}
    for m in rows:
        if m.amends_id:
            amended.add(m.amends_id)
        if m.id in amended or m.kind in latest:
            continue
        latest[m.kind] = MeasurementOut.model_validate(m)
    return latest


def latest_measurements(session: Session, patient_id: int) -> dict[str, MeasurementOut]:
    """The latest value of each kind (corrections replace what they amend); for other capabilities."""
    return _latest(session, patient_id)


def primary_payer_id(session: Session, patient_id: int) -> int | None:
    from igflow.patients.models import Coverage

    return session.execute(
        select(Coverage.payer_id)
        .where(Coverage.patient_id == patient_id, Coverage.active.is_(True))
        .order_by(Coverage.rank)
        .limit(1)
    ).scalar_one_or_none()


def clinical(session: Session, patient: Patient) -> PatientClinical:
    base = summary(patient).model_dump()
    return PatientClinical(
        **base,
        allergies=patient.allergies,
        prior_severe_ig_reaction=patient.prior_severe_ig_reaction,
        iga_deficiency_anti_iga=patient.iga_deficiency_anti_iga,
        pregnancy_status=patient.pregnancy_status,
        renal_impairment=patient.renal_impairment,
        diabetes=patient.diabetes,
        heart_failure=patient.heart_failure,
        thrombosis_history=patient.thrombosis_history,
        hyperviscosity=patient.hyperviscosity,
        hyperprolinaemia=patient.hyperprolinaemia,
        latest=_latest(session, patient.id),
    )


# a search word with a digit and at least this many characters also matches inside MRNs
_MRN_PART_MIN = 4


def _date_in(word: str) -> date | None:
    """A date of birth typed in the search box: ISO (1970-05-17) or US (05/17/1970)."""
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", word)
    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", word)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
    except ValueError:
        return None
    return None


def search(
    session: Session,
    principal: Principal,
    *,
    q: str | None = None,
    mrn: str | None = None,
    date_of_birth: date | None = None,
    site_id: int | None = None,
    page: int = 1,
    page_size: int = 25,
    sort: str = "name",
    max_page_size: int = 200,
) -> Page[PatientSummary]:
    """Search by name (any word, prefix of family or given name), MRN or date of birth."""
    if page < 1:
        raise InvalidInput("page: must be 1 or more", "page")
    if not 1 <= page_size <= max_page_size:
        raise InvalidInput(f"page_size: must be between 1 and {max_page_size}", "page_size")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        allowed = ", ".join(sorted(SORTS) + [f"-{k}" for k in sorted(SORTS)])
        raise InvalidInput(f"sort: unknown sort '{sort}' (allowed: {allowed})", "sort")
    query = _visible(select(Patient), principal)
    if q:
        # "Northwood, Annika", "north ann", a part of an MRN ("0042"), or a date of birth in the text
        # ("1970-05-17" or "05/17/1970")
        for word in [w for w in re.split(r"[\s,;]+", q.lower()) if w][:4]:
            born = _date_in(word)
            if born is not None:
                query = query.where(Patient.date_of_birth == born)
                continue
            word = word.replace("%", "").replace("_", "")
            matches = [
                Patient.search_name.like(f"{word}%"),
                Patient.search_name.like(f"% {word}%"),
                Patient.mrn == word.upper(),
            ]
            if len(word) >= _MRN_PART_MIN and any(ch.isdigit() for ch in word):
                matches.append(Patient.mrn.like(f"%{word.upper()}%"))
            query = query.where(or_(*matches))
    if mrn:
        query = query.where(Patient.mrn == mrn.strip().upper())
    if date_of_birth:
        query = query.where(Patient.date_of_birth == date_of_birth)
    if site_id is not None:
        query = query.where(
            exists().where(PatientSite.patient_id == Patient.id, PatientSite.site_id == site_id)
        )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    order = SORTS[key]
    if q and key == "name" and total <= _SORT_MATCHES_UP_TO:
        # Few matches: find them by the trigram index (PostgreSQL, migration 0010) and sort them. Walking
        # the name index in order instead (what the planner picks for LIMIT, its LIKE estimate being
        # coarse) reads the whole table when the matches are rare; "|| ''" keeps it from doing that.
        order = (Patient.search_name.concat(""), Patient.id)
    columns = [c.desc() if descending else c.asc() for c in order]
    rows = list(
        session.execute(query.order_by(*columns).offset((page - 1) * page_size).limit(page_size)).scalars()
    )
    today = _today()
    items = [summary(p, today) for p in rows]
    audit.record(
        session,
        principal.actor,
        "patient.search",
        "patient",
        detail={"total": total, "page": page, "returned_ids": [p.id for p in rows]},
    )
    session.commit()
    return Page[PatientSummary](items=items, total=total, page=page, page_size=page_size)


def read(session: Session, principal: Principal, patient_id: int) -> Patient:
    """Load one patient for display; audits the read. Callers choose the shape by permission."""
    patient = _load(session, principal, patient_id)
    audit.record(session, principal.actor, "patient.read", "patient", patient.id, patient_id=patient.id)
    session.commit()
    return patient


def read_shape(session: Session, principal: Principal, patient_id: int) -> PatientSummary | PatientClinical:
    patient = read(session, principal, patient_id)
    if principal.can(Perm.PATIENT_CLINICAL_READ) or principal.patient_id == patient.id:
        return clinical(session, patient)
    return summary(patient)


def _check_sites(session: Session, principal: Principal, site_ids: list[int]) -> None:
    sites_service.site_ids_exist(session, site_ids, "site_ids")
    if principal.site_ids is not None and not set(site_ids) & principal.site_ids:
        raise InvalidInput("site_ids: include at least one of your own sites", "site_ids")


def create(session: Session, principal: Principal, data: PatientIn) -> Patient:
    _check_plausible_dob(data.date_of_birth)
    if (data.home_lat is None) != (data.home_lon is None):
        raise InvalidInput("home_lon: give the home's latitude and longitude together", "home_lon")
    mrn = data.mrn.upper()
    if session.execute(select(Patient.id).where(Patient.mrn == mrn)).first():
        raise Conflict(f"mrn: a patient with MRN {mrn} already exists", "mrn")
    _check_sites(session, principal, data.site_ids)
    values = data.model_dump(exclude={"site_ids", "mrn"})
    patient = Patient(**values, mrn=mrn, search_name=_search_name(data.family_name, data.given_name))
    patient.sites = [PatientSite(site_id=s, rank=i) for i, s in enumerate(data.site_ids, start=1)]
    session.add(patient)
    session.flush()
    audit.record(session, principal.actor, "patient.create", "patient", patient.id, patient_id=patient.id)
    session.commit()
    return patient


def _check_plausible_dob(dob: date) -> None:
    today = _today()
    if dob > today:
        raise InvalidInput("date_of_birth: cannot be in the future", "date_of_birth")
    if dob.year < today.year - 130:
        raise InvalidInput("date_of_birth: more than 130 years ago; check the year", "date_of_birth")


def update(
    session: Session, principal: Principal, patient_id: int, data: PatientPatch, if_match: int | None
) -> Patient:
    patient = _load(session, principal, patient_id)
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired(
            "version: say which version you are changing (the 'version' field or an If-Match header), "
            "so that two people cannot overwrite each other's changes",
            "version",
        )
    if expected != patient.version:
        raise Conflict(
            "version: this patient was changed by someone else since you opened it "
            f"(you had version {expected}, "
            f"it is now version {patient.version}). Reload, then make your change again.",
            "version",
        )
    changes = data.model_dump(exclude_unset=True, exclude={"version", "change_reason"})
    if "date_of_birth" in changes and changes["date_of_birth"] is not None:
        _check_plausible_dob(changes["date_of_birth"])
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(f"{name}: cannot be empty", name)
    if ("home_lat" in changes) != ("home_lon" in changes):
        raise InvalidInput("home_lon: give the home's latitude and longitude together", "home_lon")
    if "site_ids" in changes and len(changes["site_ids"]) != len(set(changes["site_ids"])):
        raise InvalidInput("site_ids: a site may appear once", "site_ids")
    diffs = history.diff(patient, changes)
    reason = history.check_reason(diffs, data.change_reason)
    changed = {field for field, _, _ in diffs}
    changes = {name: value for name, value in changes.items() if name in changed}
    if "site_ids" in changes:
        site_ids = changes.pop("site_ids")
        _check_sites(session, principal, site_ids)
        session.execute(PatientSite.__table__.delete().where(PatientSite.patient_id == patient.id))
        session.expire(patient, ["sites"])
        patient.sites = [PatientSite(site_id=s, rank=i) for i, s in enumerate(site_ids, start=1)]
        changes["site_ids"] = site_ids
    for name, value in changes.items():
        if name != "site_ids":
            setattr(patient, name, value)
    patient.search_name = _search_name(patient.family_name, patient.given_name)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Conflict(
            "version: this patient was changed by someone else at the same moment. "
            "Reload, then make your change again.",
            "version",
        ) from None
    history.record(session, principal, patient, diffs, reason)
    audit.record(
        session,
        principal.actor,
        "patient.update",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"fields": sorted(changes)},
    )
    session.commit()
    return patient


def validate_measurement(kind: str, value: float) -> float:
    spec = measurement_kinds()[kind]
    if not spec.min <= value <= spec.max:
        raise InvalidInput(
            f"value: {spec.label} must be between {spec.min:g} and {spec.max:g} {spec.unit} "
            f"(got {value:g}; check the unit)",
            "value",
        )
    return round(value, spec.decimals)


def add_measurement(
    session: Session, principal: Principal, patient_id: int, data: MeasurementIn, *, commit: bool = True
) -> Measurement:
    """Append a measurement (audited). ``commit=False`` leaves it in the caller's transaction."""
    patient = _load(session, principal, patient_id)
    value = validate_measurement(data.kind, data.value)
    if data.measured_on > _today():
        raise InvalidInput("measured_on: cannot be in the future", "measured_on")
    if data.measured_on < patient.date_of_birth:
        raise InvalidInput("measured_on: before the patient's date of birth", "measured_on")
    if data.amends_id is not None:
        original = session.get(Measurement, data.amends_id)
        if original is None or original.patient_id != patient.id or original.kind != data.kind:
            raise InvalidInput(
                "amends_id: must name an earlier measurement of the same kind for this patient", "amends_id"
            )
        if not data.note:
            raise InvalidInput("note: a correction must say why", "note")
    measurement = Measurement(
        patient_id=patient.id,
        kind=data.kind,
        value=value,
        measured_on=data.measured_on,
        recorded_by_user_id=principal.user_id,
        amends_id=data.amends_id,
        note=data.note,
    )
    session.add(measurement)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "measurement.create",
        "measurement",
        measurement.id,
        patient_id=patient.id,
        detail={"kind": data.kind, "amends_id": data.amends_id},
    )
    if commit:
        session.commit()
    return measurement


def measurements(
    session: Session, principal: Principal, patient_id: int, kind: str | None = None
) -> list[Measurement]:
    patient = _load(session, principal, patient_id)
    if not (principal.can(Perm.PATIENT_CLINICAL_READ) or principal.patient_id == patient.id):
        raise Forbidden("Your role does not allow reading measurements.")
    query = select(Measurement).where(Measurement.patient_id == patient.id)
    if kind is not None:
        if kind not in measurement_kinds():
            raise InvalidInput(
                f"kind: unknown kind '{kind}' (allowed: {', '.join(measurement_kinds())})", "kind"
            )
        query = query.where(Measurement.kind == kind)
    rows = list(session.execute(query.order_by(Measurement.measured_on, Measurement.id)).scalars())
    audit.record(
        session,
        principal.actor,
        "measurement.list",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"kind": kind},
    )
    session.commit()
    return rows


def patient_site_ids(session: Session, patient_id: int) -> set[int]:
    return set(
        session.execute(select(PatientSite.site_id).where(PatientSite.patient_id == patient_id)).scalars()
    )


def weight_trend(rows: list[Measurement]) -> list[tuple[date, float]]:
    """Weight history with corrected rows replaced by their corrections."""
    amended = {m.amends_id for m in rows if m.amends_id}
    return [(m.measured_on, m.value) for m in rows if m.kind == "weight_kg" and m.id not in amended]


def display_names(session: Session, patient_ids: Any) -> dict[int, str]:
    """'Family, Given' for patient ids, for lists whose caller already checked and audited the access."""
    ids = set(patient_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Patient.id, Patient.family_name, Patient.given_name).where(Patient.id.in_(ids))
    )
    return {pid: f"{family}, {given}" for pid, family, given in rows}


def display_name(session: Session, patient_id: int) -> str:
    return display_names(session, [patient_id]).get(patient_id, "")


def check_access(session: Session, principal: Principal, patient_id: int) -> Patient:
    """For other capabilities: the patient, if this principal may see them (no audit row of its own)."""
    return _load(session, principal, patient_id)


def visible_filter(principal: Principal) -> Any:
    """A WHERE clause limiting rows with a ``patient_id`` column to patients this principal may see."""
    if principal.site_ids is None:
        return None
    return PatientSite.site_id.in_(principal.site_ids)


def home_site_id(session: Session, patient_id: int) -> int | None:
    """The patient's first preferred site (whose protocol applies to their plans), or None."""
    return session.execute(
        select(PatientSite.site_id)
        .where(PatientSite.patient_id == patient_id)
        .order_by(PatientSite.rank)
        .limit(1)
    ).scalar_one_or_none()


# --- many patients at once (for lists that check many orders in one request) ---------------------------


def latest_measurements_for(session: Session, patient_ids: Any) -> dict[int, dict[str, MeasurementOut]]:
    """:func:`latest_measurements` for many patients in one query (a patient with none maps to ``{}``)."""
    ids = sorted(set(patient_ids))
    out: dict[int, dict[str, MeasurementOut]] = {pid: {} for pid in ids}
    if not ids:
        return out
    rows = session.execute(
        select(Measurement)
        .where(Measurement.patient_id.in_(ids))
        .order_by(Measurement.patient_id, Measurement.measured_on.desc(), Measurement.id.desc())
    ).scalars()
    amended: set[int] = set()
    for m in rows:
        if m.amends_id:
            amended.add(m.amends_id)
        latest = out[m.patient_id]
        if m.id in amended or m.kind in latest:
            continue
        latest[m.kind] = MeasurementOut.model_validate(m)
    return out


def primary_payer_ids(session: Session, patient_ids: Any) -> dict[int, int | None]:
    """:func:`primary_payer_id` for many patients in one query."""
    from igflow.patients.models import Coverage

    ids = sorted(set(patient_ids))
    out: dict[int, int | None] = dict.fromkeys(ids)
    if not ids:
        return out
    rows = session.execute(
        select(Coverage.patient_id, Coverage.payer_id)
        .where(Coverage.patient_id.in_(ids), Coverage.active.is_(True))
        .order_by(Coverage.patient_id, Coverage.rank.desc())
    )
    for patient_id, payer_id in rows:  # the lowest rank comes last and stays
        out[patient_id] = payer_id
    return out


def sites_of(session: Session, patient_ids: Any) -> dict[int, list[int]]:
    """Each patient's sites in preference order (the first is :func:`home_site_id`), in one query."""
    ids = sorted(set(patient_ids))
    out: dict[int, list[int]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = session.execute(
        select(PatientSite.patient_id, PatientSite.site_id)
        .where(PatientSite.patient_id.in_(ids))
        .order_by(PatientSite.patient_id, PatientSite.rank)
    )
    for patient_id, site_id in rows:
        out[patient_id].append(site_id)
    return out


def coverage_periods(
    session: Session, patient_ids: Any
) -> dict[int, list[tuple[int, int, date | None, date | None, bool]]]:
    """Each patient's coverages as (payer id, rank, effective from, effective to, active), in one query,
    for readers that need the payer on a past date (the cost report)."""
    from igflow.patients.models import Coverage

    ids = sorted(set(patient_ids))
    out: dict[int, list[tuple[int, int, date | None, date | None, bool]]] = {pid: [] for pid in ids}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                Coverage.patient_id,
                Coverage.payer_id,
                Coverage.rank,
                Coverage.effective_from,
                Coverage.effective_to,
                Coverage.active,
            )
            .where(Coverage.patient_id.in_(ids[start : start + 500]))
            .order_by(Coverage.patient_id, Coverage.rank, Coverage.id)
        )
        for patient_id, payer_id, rank, start_on, end_on, active in rows:
            out[patient_id].append((payer_id, rank, start_on, end_on, bool(active)))
    return out
