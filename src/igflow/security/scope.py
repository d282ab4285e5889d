"""Site scope: what a user limited to some centres (``Principal.site_ids``) may see and change.

Every service query for site-scoped data goes through this module, so the rule lives in one place:

- :func:`rows` narrows a ``Select`` of a site-scoped model to what the principal may see (the table
  ``_RULES`` says, per model, how a row belongs to a site); :func:`get` loads one row by id the same way.
- :func:`require_site` (reads naming a site in the path) and :func:`require_own_site` (writes naming a site
  in the body) refuse other sites; :func:`require_patient` refuses other sites' patients.

Who belongs where:

- Patient-owned records (patients, measurements, outcome readings, reviews and decisions, orders, referrals,
  courses, tasks, coverages, prior-authorisation requests and letters, prior therapies): the patient
  shares a site with the user. A patient with no site at all is seen only by users not limited to sites.
- Site-owned records (appointments, infusion records, chair boards, day lists, week load, stock moves and
  allocations, pick lists, shortfalls, reports): the record's site is one of the user's.
- Stock availability is shared: a site-limited user sees every site's lots, balances, expiry and par
  counts (they decide transfers), but a lot's ledger shows only the moves at their own sites, so other
  sites' patient and appointment ids never reach them. They write only stock at their own sites (receive,
  waste, returns, dispense, par levels, transfers *from* their site; a lot status change only when every
  site holding the lot is theirs). Allocation runs, which cover every centre, need a user not limited to
  sites.
- Planning runs record the centres they cover (``instance.x_igflow.sites``); a site-limited scheduler
  plans only their own centres and sees, publishes or discards only runs that cover no other centre.
  Freeing an appointment at another centre is refused as if it did not exist.
- Home therapy: home nurses and routing runs belong to the home-infusion site; home visits are
  appointments there; deliveries, stock at a patient's home and self-infusion logs are the patient's.
- Jobs: a site-limited user sees only the jobs they started (``igflow.jobs.service``).

Refusals of objects at other sites are ``NotFound`` with the object's own kind and id only
("appointment 12 not found"): never the owning patient, never whether the object exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, select, true
from sqlalchemy.orm import Session

from igflow.appointments.models import (
    Appointment,
    Course,
    PlanningRun,
    SchedulePreference,
    SiteClosure,
    UnavailableDate,
)
from igflow.authorizations.models import PriorAuthLetter, PriorAuthRequest, PriorTherapy
from igflow.errors import Forbidden, NotFound
from igflow.home.models import HomeDelivery, HomeNurse, HomeStock, HomeVisit, SelfInfusion
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.inventory.models import StockAllocation, StockMove
from igflow.messages.models import ContactPreference, OutboundMessage
from igflow.orders.models import Order
from igflow.outcomes.models import ContinuationDecision, OutcomeReading, ResponseReview
from igflow.patients.models import Coverage, Measurement, Patient, PatientFactChange, PatientSite
from igflow.portal.models import CaregiverLink, SymptomReport
from igflow.referrals.models import Referral
from igflow.security.principal import Principal

T = TypeVar("T")
Sites = frozenset[int]


def limited(principal: Principal) -> bool:
    """True when the principal is limited to some sites."""
    return principal.site_ids is not None


def sees_site(principal: Principal, site_id: int | None) -> bool:
    return principal.site_ids is None or (site_id is not None and site_id in principal.site_ids)


def sees_sites(principal: Principal, site_ids: Iterable[int]) -> bool:
    """Every one of ``site_ids`` is the principal's (vacuously true for an unlimited principal)."""
    return principal.site_ids is None or set(site_ids) <= principal.site_ids


def patient_in(sites: Sites, patient_id: Any) -> ColumnElement[bool]:
    """A clause: the patient (a column or an id) shares one of ``sites``."""
    return exists().where(PatientSite.patient_id == patient_id, PatientSite.site_id.in_(sites))


def _appointment_site_in(sites: Sites, appointment_id: Any) -> ColumnElement[bool]:
    return exists().where(Appointment.id == appointment_id, Appointment.site_id.in_(sites))


# How a row of each site-scoped model belongs to sites: a WHERE clause for the principal's sites. Every
# model with a patient_id or site_id column is here or in UNSCOPED with its reason (a test checks it).
_RULES: dict[type, Callable[[Sites], ColumnElement[bool]]] = {
    Patient: lambda s: patient_in(s, Patient.id),
    Measurement: lambda s: patient_in(s, Measurement.patient_id),
    PatientFactChange: lambda s: patient_in(s, PatientFactChange.patient_id),
    SymptomReport: lambda s: patient_in(s, SymptomReport.patient_id),
    CaregiverLink: lambda s: patient_in(s, CaregiverLink.patient_id),
    OutcomeReading: lambda s: patient_in(s, OutcomeReading.patient_id),
    ContinuationDecision: lambda s: patient_in(s, ContinuationDecision.patient_id),
    ResponseReview: lambda s: patient_in(s, ResponseReview.patient_id),
    Coverage: lambda s: patient_in(s, Coverage.patient_id),
    PriorAuthRequest: lambda s: patient_in(s, PriorAuthRequest.patient_id),
    PriorTherapy: lambda s: patient_in(s, PriorTherapy.patient_id),
    PriorAuthLetter: lambda s: patient_in(s, PriorAuthLetter.patient_id),
    Referral: lambda s: patient_in(s, Referral.patient_id),
    Order: lambda s: patient_in(s, Order.patient_id),
    Course: lambda s: patient_in(s, Course.patient_id),
    SchedulePreference: lambda s: patient_in(s, SchedulePreference.patient_id),
    UnavailableDate: lambda s: patient_in(s, UnavailableDate.patient_id),
    SiteClosure: lambda s: SiteClosure.site_id.in_(s),
    OutboundMessage: lambda s: patient_in(s, OutboundMessage.patient_id),
    ContactPreference: lambda s: patient_in(s, ContactPreference.patient_id),
    WorkTask: lambda s: patient_in(s, WorkTask.patient_id),
    Appointment: lambda s: Appointment.site_id.in_(s),
    InfusionRecord: lambda s: _appointment_site_in(s, InfusionRecord.appointment_id),
    StockMove: lambda s: StockMove.site_id.in_(s),
    StockAllocation: lambda s: StockAllocation.site_id.in_(s),
    # Home therapy: nurses belong to their home-infusion site; visits are appointments at it; deliveries,
    # home stock and self-infusion logs are the patient's.
    HomeNurse: lambda s: HomeNurse.site_id.in_(s),
    HomeVisit: lambda s: _appointment_site_in(s, HomeVisit.appointment_id),
    HomeDelivery: lambda s: patient_in(s, HomeDelivery.patient_id),
    HomeStock: lambda s: patient_in(s, HomeStock.patient_id),
    SelfInfusion: lambda s: patient_in(s, SelfInfusion.patient_id),
}


# Models with a patient_id or site_id column that are deliberately not narrowed, and why.
UNSCOPED: dict[str, str] = {
    "PatientSite": "the rule itself: which sites a patient belongs to",
    "InventoryLot": "stock availability is shared between sites (transfers); writes need one's own site",
    "StockBalance": "stock availability is shared between sites (transfers)",
    "ParLevel": "par levels are availability planning, shared; writes need one's own site",
    "Chair": "the site directory",
    "SiteHours": "the site directory",
    "ClosedDate": "the site directory",
    "SiteSlotLoad": "chair load counts without patients; the week load page checks the site",
    "ClinicalProtocol": "site clinical policy, no patient data",
    "AuditEvent": "the audit log is read by auditors for the whole organisation",
    "User": "administration: the account of a patient",
    "UserSite": "administration: a user's site limits",
}


def clause(principal: Principal, model: type) -> ColumnElement[bool]:
    """The WHERE clause limiting ``model`` to the principal's sites (always true when not limited)."""
    if principal.site_ids is None:
        return true()
    return _RULES[model](principal.site_ids)


def rows(query: Select[Any], principal: Principal, model: type) -> Select[Any]:
    """``query`` (over ``model``) narrowed to the rows the principal may see."""
    if principal.site_ids is None:
        return query
    return query.where(_RULES[model](principal.site_ids))


def by_site(query: Select[Any], principal: Principal, site_column: Any) -> Select[Any]:
    """``query`` narrowed to rows whose ``site_column`` is one of the principal's sites."""
    if principal.site_ids is None:
        return query
    return query.where(site_column.in_(principal.site_ids))


def by_patient(query: Select[Any], principal: Principal, patient_column: Any) -> Select[Any]:
    """``query`` narrowed to rows whose patient shares a site with the principal."""
    if principal.site_ids is None:
        return query
    return query.where(patient_in(principal.site_ids, patient_column))


def get(session: Session, principal: Principal, model: type[T], ident: int, label: str) -> T:
    """One row by primary key, or ``NotFound("<label> <id> not found")`` if missing or at another site."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{label} {ident} not found")
    if principal.site_ids is not None:
        pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        visible = session.execute(select(pk).where(pk == ident, _RULES[model](principal.site_ids))).first()
        if visible is None:
            raise NotFound(f"{label} {ident} not found")
    return row


def sees_patient(session: Session, principal: Principal, patient_id: int) -> bool:
    if principal.site_ids is None:
        return True
    return (
        session.execute(select(true()).where(patient_in(principal.site_ids, patient_id))).first() is not None
    )


def require_patient(session: Session, principal: Principal, patient_id: int, label: str, ident: Any) -> None:
    """Refuse a record whose patient is at other sites, naming only the record (``label ident``)."""
    if not sees_patient(session, principal, patient_id):
        raise NotFound(f"{label} {ident} not found")


def require_site(principal: Principal, site_id: int, label: str = "site", ident: Any = None) -> None:
    """Refuse a read of another site's data as if it did not exist (``site 3 not found``)."""
    if not sees_site(principal, site_id):
        raise NotFound(f"{label} {site_id if ident is None else ident} not found")


def require_own_site(principal: Principal, site_id: int, field: str = "site_id") -> None:
    """Refuse a write at a site the principal does not work at (the site is named in the request)."""
    if not sees_site(principal, site_id):
        raise Forbidden(f"{field}: you do not work at site {site_id}", field)


def require_unlimited(principal: Principal, what: str) -> None:
    """Refuse work that spans every centre to a site-limited user."""
    if principal.site_ids is not None:
        raise Forbidden(f"{what} covers every centre: it needs a user not limited to sites")


def visible_site_ids(principal: Principal, site_ids: Iterable[int]) -> list[int]:
    """``site_ids`` that are the principal's, in order."""
    return [s for s in site_ids if sees_site(principal, s)]


def appointment(
    session: Session, principal: Principal, appointment_id: int, field: str | None = None
) -> Appointment:
    """The appointment, or ``NotFound("appointment N not found")`` if missing or at another site."""
    appt = session.get(Appointment, appointment_id)
    if appt is None or not sees_site(principal, appt.site_id):
        raise NotFound(f"appointment {appointment_id} not found", field)
    return appt


# --- planning runs ------------------------------------------------------------------------------------------


def run_site_ids(run: PlanningRun) -> set[int]:
    """The centres a planning run covers (recorded in its instance when it was built)."""
    return {int(v) for v in (run.instance or {}).get("x_igflow", {}).get("sites", {}).values()}


def sees_run(principal: Principal, run: PlanningRun) -> bool:
    return sees_sites(principal, run_site_ids(run))


def planning_run(session: Session, principal: Principal, run_id: int) -> PlanningRun:
    """A planning run, or ``NotFound`` if missing or covering a centre that is not the principal's."""
    run = session.get(PlanningRun, run_id)
    if run is None or not sees_run(principal, run):
        raise NotFound(f"planning run {run_id} not found")
    return run


def runs(session: Session, principal: Principal, query: Select[Any]) -> list[PlanningRun]:
    """Planning runs of ``query`` that cover only the principal's centres."""
    return [r for r in session.execute(query).scalars() if sees_run(principal, r)]
