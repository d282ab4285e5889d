"""Use cases of the orders capability: order entry, plan versions from the latest patient facts, verification.

A plan version is computed from the order and the patient's facts at that moment (weight, height, sex, age,
risks, creatinine). Reading an order never writes: the facts are compared with those of its latest version
and, if any differ, the order reads as "plan out of date" with the differences listed (it waits for a
pharmacist, and scheduling and dispensing treat it as unverified). A POST brings it up to date
(:func:`recompute`, and :func:`verify` always does first): a new version is appended with the differences,
and the earlier verification no longer applies to the current plan. Nothing is overwritten.

Lists check many orders at once with a :class:`FactSource`: one query per kind of fact for all their
patients, and what does not depend on the patient (organisation, payers, protocols in force) once.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.catalog import Catalog, load_catalog
from igflow.clinical import DoseInputError, DoseRequest, plan_dose
from igflow.clinical.choice import ChoiceContext, ProductOption, rank_products
from igflow.db import utcnow
from igflow.directory import service as directory_service
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from igflow.orders import scig as scig_orders
from igflow.orders.models import Order, PlanVersion, Verification
from igflow.orders.schemas import (
    DosePreviewIn,
    OrderIn,
    OrderOut,
    PlanVersionOut,
    VerificationIn,
    VerificationOut,
)
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.protocols import service as protocols_service
from igflow.referrals.models import Referral
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites import service as sites_service

# Patient flags -> catalog risk ids (shared/reference/clinical.md; the catalog lists what each risk means).
_FLAG_RISKS: tuple[tuple[str, str], ...] = (
    ("renal_impairment", "renal"),
    ("diabetes", "diabetes"),
    ("heart_failure", "cardiac"),
    ("thrombosis_history", "thrombosis"),
    ("hyperviscosity", "thrombosis"),
    ("hyperprolinaemia", "hyperprolinaemia"),
    ("prior_severe_ig_reaction", "prior-severe-reaction"),
)
# Facts whose change makes a new plan version (and so needs a new verification).
_TRACKED = (
    "weight_kg",
    "height_cm",
    "creatinine_umol_per_l",
    "egfr_ml_per_min_1_73m2",
    "sex",
    "age_years",
    "risks",
    "pregnant",
    "iga_deficient_with_antibodies",
    "policy",
    "protocol_ids",
    "prior_reaction_grade",
    "pharmacist_values",
    "pre_pregnancy_weight_kg",
)


def _age_years(dob: date, on: date) -> float:
    whole = patients_service.age_years(dob, on)
    if whole >= 2:
        return float(whole)
    # Infants and toddlers (Kawasaki disease): age in years to two decimals.
    return round((on - dob).days / 365.25, 2)


_MEMO = "igflow.orders.facts_memo"


def _transaction_memo(session: Session) -> dict[Any, Any]:
    """Facts that do not depend on the patient, kept for the current transaction (a new one starts afresh)."""
    transaction = session.get_transaction()
    held = session.info.get(_MEMO)
    if transaction is None:
        return {}
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_MEMO] = held
    memo: dict[Any, Any] = held[1]
    return memo


class FactSource:
    """The stored facts behind the plans of some patients, loaded together (one query per kind of fact);
    the organisation, payers and the protocol versions in force per site are looked up once per
    transaction. Build one per request for a list of orders; :func:`patient_facts` builds its own."""

    def __init__(self, session: Session, patient_ids: Any, catalog: Catalog) -> None:
        from igflow.infusions import service as infusions_service  # infusions build on orders

        ids = sorted(set(patient_ids))
        self.session, self.catalog, self.today = session, catalog, utcnow().date()
        self.latest = patients_service.latest_measurements_for(session, ids)
        self.payer_ids = patients_service.primary_payer_ids(session, ids)
        self.sites = patients_service.sites_of(session, ids)
        self.reaction_grades = infusions_service.highest_reaction_grades(session, ids)
        self.memo = _transaction_memo(session)

    def _payer_policy(self, payer_id: int) -> tuple[str | None, str]:
        key = ("payer", payer_id)
        if key not in self.memo:
            payer = directory_service.get_payer(self.session, payer_id)
            self.memo[key] = (payer.dosing_policy_id, payer.name)
        found: tuple[str | None, str] = self.memo[key]
        return found

    def _organisation_policy(self) -> str | None:
        if "organisation" not in self.memo:
            organisation = sites_service.get_organisation(self.session)
            self.memo["organisation"] = organisation.default_dosing_policy_id if organisation else None
        found: str | None = self.memo["organisation"]
        return found

    def policy(self, order: Order | OrderIn, patient_id: int) -> tuple[str, str]:
        """The dosing-weight policy and its origin: the order, else the payer, the organisation, the
        catalog."""
        if order.policy_id:
            return order.policy_id, "order"
        payer_id = self.payer_ids.get(patient_id)
        if payer_id is not None:
            policy_id, name = self._payer_policy(payer_id)
            if policy_id:
                return policy_id, f"payer {name}"
        default = self._organisation_policy()
        if default:
            return default, "organisation default"
        return self.catalog.default_policy, "catalog default"

    def home_site_id(self, patient_id: int) -> int | None:
        sites = self.sites.get(patient_id) or []
        return sites[0] if sites else None

    def protocol_ids(self, site_id: int | None) -> list[int]:
        key = ("protocols", site_id, self.today)
        if key not in self.memo:
            in_force = protocols_service.in_force(self.session, site_id, self.today, self.catalog)
            self.memo[key] = list(in_force.ids)
        return list(self.memo[key])


def patient_facts(
    session: Session,
    patient: Patient,
    order: Order | OrderIn,
    catalog: Catalog,
    source: FactSource | None = None,
) -> dict[str, Any]:
    """The facts a plan is computed from, as stored with each version (and compared to find changes)."""
    source = source or FactSource(session, [patient.id], catalog)
    latest = source.latest.get(patient.id) or {}
    missing = [k for k in ("weight_kg", "height_cm") if k not in latest]
    if missing:
        names = " and ".join(k.split("_")[0] for k in missing)
        raise InvalidInput(f"patient_id: record the patient's {names} before ordering a dose", "patient_id")
    if patient.sex not in ("female", "male"):
        raise InvalidInput(
            "patient_id: the dosing-weight formulas need the patient's sex as female or male; "
            "update the record",
            "patient_id",
        )
    risks = sorted({risk for flag, risk in _FLAG_RISKS if getattr(patient, flag)})
    policy, policy_from = source.policy(order, patient.id)
    site_id = source.home_site_id(patient.id)
    facts: dict[str, Any] = {
        "weight_kg": latest["weight_kg"].value,
        "weight_measured_on": latest["weight_kg"].measured_on.isoformat(),
        "height_cm": latest["height_cm"].value,
        "creatinine_umol_per_l": latest["creatinine_umol_per_l"].value
        if "creatinine_umol_per_l" in latest
        else None,
        "egfr_ml_per_min_1_73m2": latest["egfr_ml_per_min_1_73m2"].value
        if "egfr_ml_per_min_1_73m2" in latest
        else None,
        "sex": patient.sex,
        "age_years": _age_years(patient.date_of_birth, utcnow().date()),
        "risks": risks,
        "pregnant": patient.pregnancy_status == "pregnant",
        "iga_deficient_with_antibodies": patient.iga_deficiency_anti_iga == "yes",
        "policy": policy,
        "policy_from": policy_from,
        "creatinine_measured_on": latest["creatinine_umol_per_l"].measured_on.isoformat()
        if "creatinine_umol_per_l" in latest
        else None,
        "pre_pregnancy_weight_kg": latest["pre_pregnancy_weight_kg"].value
        if patient.pregnancy_status == "pregnant" and "pre_pregnancy_weight_kg" in latest
        else None,
        "site_id": site_id,
        "protocol_ids": source.protocol_ids(site_id),
        "prior_reaction_grade": source.reaction_grades.get(patient.id),
        "pharmacist_values": None,
    }
    return facts


def _creatinine_age_days(facts: dict[str, Any]) -> int | None:
    measured = facts.get("creatinine_measured_on")
    return None if measured is None else (utcnow().date() - date.fromisoformat(measured)).days


def dose_request(order: Order | OrderIn, facts: dict[str, Any]) -> DoseRequest:
    return DoseRequest(
        indication=order.indication_id,
        phase=order.phase,
        product=order.product_id,
        weight_kg=facts["weight_kg"],
        height_cm=facts["height_cm"],
        sex=facts["sex"],
        age_years=facts["age_years"],
        policy=facts["policy"],
        dose_g_per_kg=order.dose_g_per_kg,
        days=order.days,
        first_infusion=order.first_infusion,
        risks=tuple(facts["risks"]),
        iga_deficient_with_antibodies=facts["iga_deficient_with_antibodies"],
        pregnant=facts["pregnant"],
        override_reason=order.override_reason or None,
        prior_reaction_grade=facts.get("prior_reaction_grade"),
        creatinine_age_days=_creatinine_age_days(facts),
        pharmacist_max_rate_mg_per_kg_min=(facts.get("pharmacist_values") or {}).get(
            "max_rate_mg_per_kg_min"
        ),
        pharmacist_reason=(facts.get("pharmacist_values") or {}).get("reason"),
        pre_pregnancy_weight_kg=facts.get("pre_pregnancy_weight_kg"),
    )


_FIELD_NAMES = {
    "indication": "indication_id",
    "product": "product_id",
    "policy": "policy_id",
    "weight_kg": "patient_id",
    "height_cm": "patient_id",
    "age_years": "patient_id",
}


def _plan(
    session: Session, order: Order | OrderIn, facts: dict[str, Any], catalog: Catalog
) -> dict[str, Any]:
    """The plan under the protocol versions named in ``facts`` (applied to the catalog), citing them; an
    order for a subcutaneous product is planned as a switch from IVIG (``orders.scig``)."""
    applied = protocols_service.catalog_for_ids(session, facts.get("protocol_ids") or [], catalog)
    if scig_orders.is_sc_order(order, catalog):
        return scig_orders.plan(order, facts, applied)
    try:
        return plan_dose(dose_request(order, facts), applied).to_contract_dict()
    except DoseInputError as exc:
        field = _FIELD_NAMES.get(exc.field, exc.field)
        prefix = "the patient's record: " if field == "patient_id" else ""
        raise InvalidInput(f"{field}: {prefix}{exc.field} {exc.message}", field) from None


def protocol_catalog(session: Session, site_id: int | None) -> Catalog:
    """The catalog with today's protocol in force for a site (or the organisation) applied."""
    if site_id is not None:
        sites_service.get_site(session, site_id)
    return protocols_service.in_force(session, site_id, utcnow().date()).catalog


def preview(data: DosePreviewIn, catalog: Catalog | None = None) -> dict[str, Any]:
    """The dose calculator: the same JSON as ``igflow dose --json`` (no patient, nothing stored).

    ``catalog`` is the catalog with the protocol in force applied (``protocols.service.in_force``);
    ``igflow dose --protocol FILE`` gives the same plan for the same protocol.
    """
    request = DoseRequest(
        indication=data.indication,
        phase=data.phase,
        product=data.product,
        weight_kg=data.weight_kg,
        height_cm=data.height_cm,
        sex=data.sex,
        age_years=data.age_years,
        policy=data.policy,
        dose_g_per_kg=data.dose_g_per_kg,
        days=data.days,
        first_infusion=data.first_infusion,
        risks=tuple(data.risk),
        iga_deficient_with_antibodies=data.iga_deficient_with_antibodies,
        pregnant=data.pregnant,
        override_reason=data.override_reason,
    )
    catalog = catalog or load_catalog()
    sc_plan = scig_orders.preview(data, catalog)
    if sc_plan is not None:
        return sc_plan
    try:
        return plan_dose(request, catalog).to_contract_dict()
    except DoseInputError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", exc.field) from None


#: The tracked facts as a pharmacist reads them ("what changed", "why here").
FACT_NAMES = {
    "weight_kg": "weight (kg)",
    "height_cm": "height (cm)",
    "creatinine_umol_per_l": "serum creatinine (µmol/L)",
    "egfr_ml_per_min_1_73m2": "eGFR (mL/min/1.73 m²)",
    "sex": "sex",
    "age_years": "age (years)",
    "risks": "risk factors",
    "pregnant": "pregnant",
    "iga_deficient_with_antibodies": "IgA deficiency with anti-IgA antibodies",
    "policy": "dosing-weight policy",
    "protocol_ids": "site protocol versions in force",
    "prior_reaction_grade": "highest reaction grade on the chart",
    "pharmacist_values": "values entered by the verifying pharmacist",
    "pre_pregnancy_weight_kg": "pre-pregnancy weight (kg)",
}

# Facts added after the first release: a version stored before them reads as "none" (no new version).
_EMPTY_IS_NONE = frozenset(
    {"protocol_ids", "prior_reaction_grade", "pharmacist_values", "pre_pregnancy_weight_kg"}
)


def _tracked(order: Order, catalog: Catalog | None = None) -> tuple[str, ...]:
    """The facts whose change makes a new plan version of this order (fewer for an SC plan)."""
    return scig_orders.SC_TRACKED if scig_orders.is_sc_order(order, catalog or load_catalog()) else _TRACKED


def _changes(
    before: dict[str, Any], after: dict[str, Any], tracked: tuple[str, ...] = _TRACKED
) -> list[dict[str, Any]]:
    def value(facts: dict[str, Any], key: str) -> Any:
        found = facts.get(key)
        return (found or None) if key in _EMPTY_IS_NONE else found

    return [
        {"fact": key, "before": before.get(key), "after": after.get(key)}
        for key in tracked
        if value(before, key) != value(after, key)
    ]


def _versions(session: Session, order_id: int) -> list[PlanVersion]:
    return list(
        session.execute(
            select(PlanVersion).where(PlanVersion.order_id == order_id).order_by(PlanVersion.version)
        )
        .scalars()
        .all()
    )


def _append_version(
    session: Session,
    order: Order,
    facts: dict[str, Any],
    reason: str,
    previous: PlanVersion | None,
    catalog: Catalog,
) -> PlanVersion:
    plan = _plan(session, order, facts, catalog)
    version = PlanVersion(
        order_id=order.id,
        version=(previous.version + 1) if previous else 1,
        reason=reason,
        inputs=facts,
        plan=plan,
        hard_stopped=any(a["severity"] == "hard_stop" for a in plan["alerts"]),
        changes=_changes(previous.inputs, facts, _tracked(order, catalog)) if previous else [],
    )
    session.add(version)
    session.flush()
    return version


class _Head(NamedTuple):
    """What a check needs of an order's current plan version (not the plan itself)."""

    id: int
    order_id: int
    version: int
    inputs: dict[str, Any]
    hard_stopped: bool


def _heads(session: Session, order_ids: Any) -> dict[int, _Head]:
    """Each order's current (highest) plan version, without its plan, in one query."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    newest = (
        select(PlanVersion.order_id, func.max(PlanVersion.version).label("version"))
        .where(PlanVersion.order_id.in_(ids))
        .group_by(PlanVersion.order_id)
        .subquery()
    )
    rows = session.execute(
        select(
            PlanVersion.id,
            PlanVersion.order_id,
            PlanVersion.version,
            PlanVersion.inputs,
            PlanVersion.hard_stopped,
        ).join(
            newest, (PlanVersion.order_id == newest.c.order_id) & (PlanVersion.version == newest.c.version)
        )
    )
    return {row.order_id: _Head(*row) for row in rows}


def _current_facts(
    session: Session, order: Order, latest: PlanVersion | _Head, catalog: Catalog, source: FactSource | None
) -> dict[str, Any] | None:
    """The facts the order's plan would be computed from now; None when there is nothing to recompute
    (the order is not active, or its facts are now incomplete: the last plan stands and verification rules
    still apply)."""
    if order.status != "active":
        return None
    patient = session.get(Patient, order.patient_id)
    assert patient is not None
    try:
        facts = patient_facts(session, patient, order, catalog, source)
    except InvalidInput:
        return None
    facts["pharmacist_values"] = latest.inputs.get("pharmacist_values")  # they stay with the order
    return facts


def pending_changes(
    session: Session,
    order: Order,
    latest: PlanVersion | _Head | None = None,
    catalog: Catalog | None = None,
    source: FactSource | None = None,
) -> list[dict[str, Any]]:
    """What differs between the patient's facts now and those of the order's current plan version (empty:
    the plan is up to date). Reads only: :func:`refresh` appends the new version."""
    latest = latest or _heads(session, [order.id])[order.id]
    catalog = catalog or load_catalog()
    facts = _current_facts(session, order, latest, catalog, source)
    return [] if facts is None else _changes(latest.inputs, facts, _tracked(order, catalog))


def refresh(session: Session, order: Order, catalog: Catalog | None = None) -> tuple[PlanVersion, bool]:
    """Bring the order's plan up to date with the patient's facts; returns (current version, created?).

    This writes (a new version when facts changed): call it from a POST, never from a read."""
    catalog = catalog or load_catalog()
    latest = _versions(session, order.id)[-1]
    facts = _current_facts(session, order, latest, catalog, None)
    changes = [] if facts is None else _changes(latest.inputs, facts, _tracked(order, catalog))
    if facts is None or not changes:
        return latest, False
    reason = "patient facts changed: " + ", ".join(FACT_NAMES.get(c["fact"], c["fact"]) for c in changes)
    try:
        with session.begin_nested():
            version = _append_version(session, order, facts, reason, latest, catalog)
    except IntegrityError:
        # Another request appended the same version a moment ago: use theirs.
        return _versions(session, order.id)[-1], False
    audit.record(
        session,
        audit.SYSTEM,
        "order.plan_version",
        "order",
        order.id,
        patient_id=order.patient_id,
        detail={"version": version.version, "changed": [c["fact"] for c in changes]},
    )
    return version, True


def _choice_context(session: Session, principal: Principal, site_id: int | None) -> ChoiceContext:
    from igflow.inventory import service as inventory_service  # inventory builds on orders

    grams: dict[str, float] | None = None
    if site_id is not None:  # grams free per product at the centre: stock totals, no patient data
        grams = {}
        for row in inventory_service.stock_by_site(session, principal):
            if row.site_id == site_id:
                grams[row.product_id] = round(grams.get(row.product_id, 0.0) + row.grams_available, 2)
    # Payers' preferred products come with coverage policies (therapy-loop issue); until then, unknown.
    return ChoiceContext(payer_preferred=None, grams_available=grams)


def product_options(
    session: Session, principal: Principal, patient_id: int, data: OrderIn
) -> tuple[list[ProductOption], dict[str, Any]]:
    """The product-choice assistant for this patient and order: every IV product ranked, with reasons."""
    catalog = load_catalog()
    patient = patients_service.check_access(session, principal, patient_id)
    facts = patient_facts(session, patient, data, catalog)
    applied = protocols_service.catalog_for_ids(session, facts.get("protocol_ids") or [], catalog)
    try:
        options = rank_products(
            dose_request(data, facts), applied, _choice_context(session, principal, facts["site_id"])
        )
    except DoseInputError as exc:
        raise InvalidInput(
            f"patient_id: the patient's record: {exc.field} {exc.message}", "patient_id"
        ) from None
    audit.record(
        session,
        principal.actor,
        "order.product_options",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"indication": data.indication_id, "phase": data.phase},
    )
    session.commit()
    return options, facts


def create(session: Session, principal: Principal, data: OrderIn) -> Order:
    catalog = load_catalog()
    patient = patients_service.check_access(session, principal, data.patient_id)
    directory_service.get_prescriber(session, data.prescriber_id)
    if data.referral_id is not None:
        referral = session.get(Referral, data.referral_id)
        if referral is None or referral.patient_id != patient.id:
            raise InvalidInput("referral_id: not a referral of this patient", "referral_id")
        if referral.status != "accepted":
            raise InvalidInput(
                f"referral_id: the referral is '{referral.status}', not accepted", "referral_id"
            )
    for field, value, known in (
        ("indication_id", data.indication_id, catalog.indications),
        ("product_id", data.product_id, catalog.products),
    ):
        if value not in known:
            raise InvalidInput(f"{field}: unknown id '{value}' (valid: {', '.join(known)})", field)
    if data.policy_id is not None and data.policy_id not in catalog.policies:
        raise InvalidInput(
            f"policy_id: unknown id '{data.policy_id}' (valid: {', '.join(catalog.policies)})", "policy_id"
        )
    setting = scig_orders.check_inputs(data, catalog)
    facts = patient_facts(session, patient, data, catalog)
    _plan(session, data, facts, catalog)  # invalid input is refused before anything is stored
    applied = protocols_service.catalog_for_ids(session, facts.get("protocol_ids") or [], catalog)
    options = (
        []  # the product-choice assistant ranks IV products; an SC order's product is the prescriber's
        if scig_orders.is_sc_order(data, catalog)
        else rank_products(
            dose_request(data, facts), applied, _choice_context(session, principal, facts["site_id"])
        )
    )
    chosen = next((o for o in options if o.product == data.product_id), None)
    choice = (
        None
        if chosen is None
        else {
            "rank": chosen.rank,
            "of": len(options),
            "reasons": list(chosen.reasons),
            "cautions": list(chosen.cautions),
            "better_ranked": [o.name for o in options if o.rank < chosen.rank and o.usable],
        }
    )
    order = Order(
        **{**data.model_dump(), "setting": setting},
        entered_by_user_id=principal.user_id,
        status="active",
        product_choice=choice,
    )
    session.add(order)
    session.flush()
    version = _append_version(session, order, facts, "order entered", None, catalog)
    audit.record(
        session,
        principal.actor,
        "order.create",
        "order",
        order.id,
        patient_id=patient.id,
        detail={"version": version.version, "hard_stopped": version.hard_stopped},
    )
    session.commit()
    return order


def _load(session: Session, principal: Principal, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    try:
        patients_service.check_access(session, principal, order.patient_id)
    except NotFound:
        raise NotFound(f"order {order_id} not found") from None
    return order


def read(session: Session, principal: Principal, order_id: int) -> OrderOut:
    """The order with its versions; a plan the patient's facts no longer match reads as out of date (no
    version is written here: :func:`recompute` does that, in a POST)."""
    order = _load(session, principal, order_id)
    out = _outs(session, [order], _stale(session, [order]))[0]
    audit.record(session, principal.actor, "order.read", "order", order.id, patient_id=order.patient_id)
    session.commit()
    return out


def recompute(session: Session, principal: Principal, order_id: int) -> tuple[OrderOut, bool]:
    """Bring an out-of-date plan up to date (a new version from the current facts); (order, created?)."""
    order = _load(session, principal, order_id)
    current, created = refresh(session, order)
    audit.record(
        session,
        principal.actor,
        "order.recompute",
        "order",
        order.id,
        patient_id=order.patient_id,
        detail={"version": current.version, "created": created},
    )
    session.commit()
    return _outs(session, [order], {})[0], created


def _stale(
    session: Session, orders: list[Order], heads: dict[int, _Head] | None = None
) -> dict[int, list[dict[str, Any]]]:
    """For each order whose plan is out of date, what changed (orders up to date are left out)."""
    active = [o for o in orders if o.status == "active"]
    if not active:
        return {}
    catalog = load_catalog()
    patient_ids = {o.patient_id for o in active}
    # held here so that session.get finds them in the identity map (it only keeps referenced objects)
    patients = session.execute(select(Patient).where(Patient.id.in_(patient_ids))).scalars().all()
    source = FactSource(session, patient_ids, catalog)
    heads = heads if heads is not None else _heads(session, [o.id for o in active])
    found = {o.id: pending_changes(session, o, heads[o.id], catalog, source) for o in active}
    del patients
    return {order_id: changes for order_id, changes in found.items() if changes}


def list_for_patient(session: Session, principal: Principal, patient_id: int) -> list[OrderOut]:
    patients_service.check_access(session, principal, patient_id)
    orders = list(
        session.execute(
            select(Order).where(Order.patient_id == patient_id).order_by(Order.id.desc())
        ).scalars()
    )
    outs = _outs(session, orders, _stale(session, orders))
    audit.record(
        session,
        principal.actor,
        "order.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"count": len(orders)},
    )
    session.commit()
    return outs


def verify(session: Session, principal: Principal, order_id: int, data: VerificationIn) -> OrderOut:
    """A pharmacist's decision on the current plan version: a second person, once per version.

    One decision per version (a unique sequence number per version makes a concurrent second decision a
    409); a later decision on the same version is an explicit re-review with a reason. Where the plan stops
    for a value only the pharmacist may decide (the at-risk maximum rate), the pharmacist enters it with a
    reason: a new plan version is computed with it, and that version is the one decided.
    """
    order = _load(session, principal, order_id)
    current, created = refresh(session, order)
    if order.entered_by_user_id == principal.user_id:
        session.commit()
        raise Forbidden(
            "A second person must verify: you entered this order, so another pharmacist has to check it.",
            "verified_by",
        )
    if created or data.version != current.version:
        session.commit()
        raise Conflict(
            f"version: the plan is now version {current.version} (you checked version {data.version}); "
            "review the current plan and its changes, then verify again.",
            "version",
        )
    note = data.note
    if data.at_risk_max_rate_mg_per_kg_min is not None:
        current = _resolve_with_pharmacist_value(session, principal, order, current, data)
        entered = (
            f"At-risk maximum {data.at_risk_max_rate_mg_per_kg_min:g} mg/kg/min entered for this patient: "
            f"{data.reason}"
        )
        note = f"{note} {entered}".strip()
    earlier = _latest_verification(session, current.id)
    if earlier is not None and not data.re_review:
        session.commit()
        raise Conflict(
            f"decision: version {current.version} was already {earlier.decision}; a version is decided once. "
            "To change the decision, re-review it with a reason.",
            "decision",
        )
    if data.re_review and not data.note:
        raise InvalidInput("note: say why the plan is re-reviewed", "note")
    if data.decision == "verified" and current.hard_stopped:
        session.commit()
        stops = [a for a in current.plan["alerts"] if a["severity"] == "hard_stop"]
        codes = ", ".join(a["code"] for a in stops)
        resolvable = [a for a in stops if a.get("resolvable_by") == "pharmacist"]
        hint = (
            " Enter the at-risk maximum rate for this patient with your reason to resolve it."
            if resolvable and len(resolvable) == len(stops)
            else " Change the order or reject it."
        )
        raise InvalidInput(
            f"decision: this plan has hard stops ({codes}); it cannot be verified.{hint}", "decision"
        )
    if data.decision == "rejected" and not data.note:
        raise InvalidInput("note: say why the plan is rejected, for the prescriber", "note")
    try:
        with session.begin_nested():
            session.add(
                Verification(
                    plan_version_id=current.id,
                    decision=data.decision,
                    sequence=(earlier.sequence + 1) if earlier is not None else 1,
                    note=note,
                    verified_by_user_id=principal.user_id,
                    verified_at=utcnow(),
                )
            )
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"decision: another pharmacist decided version {current.version} a moment ago; reload the order.",
            "decision",
        ) from None
    audit.record(
        session,
        principal.actor,
        f"order.{data.decision}",
        "order",
        order.id,
        patient_id=order.patient_id,
        detail={"version": current.version, "re_review": data.re_review},
    )
    session.commit()
    return _outs(session, [order], {})[0]  # refreshed above: up to date


def _resolve_with_pharmacist_value(
    session: Session, principal: Principal, order: Order, current: PlanVersion, data: VerificationIn
) -> PlanVersion:
    """A new plan version with the at-risk maximum the verifying pharmacist entered, and why."""
    if not any(a.get("resolvable_by") == "pharmacist" for a in current.plan["alerts"]):
        raise InvalidInput(
            "at_risk_max_rate_mg_per_kg_min: this plan does not stop for an at-risk maximum; "
            "nothing for the pharmacist to enter",
            "at_risk_max_rate_mg_per_kg_min",
        )
    if not data.reason:
        raise InvalidInput(
            "reason: say why this maximum rate suits this patient (it is recorded with the verification)",
            "reason",
        )
    facts = dict(current.inputs)
    facts["pharmacist_values"] = {
        "max_rate_mg_per_kg_min": data.at_risk_max_rate_mg_per_kg_min,
        "reason": data.reason,
        "by_user_id": principal.user_id,
        "by": principal.display_name,
    }
    catalog = load_catalog()
    try:
        with session.begin_nested():
            version = _append_version(
                session,
                order,
                facts,
                f"at-risk maximum {data.at_risk_max_rate_mg_per_kg_min:g} mg/kg/min entered by the verifying "
                "pharmacist",
                current,
                catalog,
            )
    except IntegrityError:
        session.rollback()
        raise Conflict("version: the plan changed a moment ago; reload the order.", "version") from None
    audit.record(
        session,
        principal.actor,
        "order.pharmacist_value",
        "order",
        order.id,
        patient_id=order.patient_id,
        detail={
            "version": version.version,
            "at_risk_max_rate_mg_per_kg_min": data.at_risk_max_rate_mg_per_kg_min,
        },
    )
    return version


def queue(session: Session, principal: Principal) -> list[OrderOut]:
    """Active orders whose current plan awaits a pharmacist: pending, hard-stopped, or out of date (the
    patient's facts changed since the plan; the pharmacist recomputes it). Reads only, in a few queries."""
    orders = list(
        session.execute(select(Order).where(Order.status == "active").order_by(Order.created_at)).scalars()
    )
    sites = patients_service.sites_of(session, {o.patient_id for o in orders})
    orders = [o for o in orders if principal.may_see_sites(set(sites.get(o.patient_id) or []))]
    latest = _heads(session, [o.id for o in orders])
    stale = _stale(session, orders, latest)
    decided = _latest_verifications(session, [v.id for v in latest.values()])
    waiting = [
        o
        for o in orders
        if o.id in stale or latest[o.id].hard_stopped or decided.get(latest[o.id].id) is None
    ]
    outs = _outs(session, waiting, stale)
    audit.record(
        session, principal.actor, "order.queue", "order", detail={"returned_ids": [o.id for o in outs]}
    )
    session.commit()
    return outs


def current_verified_plan(session: Session, order_id: int) -> tuple[PlanVersion, Verification] | None:
    """For scheduling and dispensing: the current plan and its verification, or None if not verified now
    (never verified, rejected, or out of date because the patient's facts changed). Reads only."""
    order = session.get(Order, order_id)
    if order is None:
        return None
    head = _heads(session, [order.id])[order.id]
    verification = _latest_verification(session, head.id)
    if verification is None or verification.decision != "verified":
        return None
    if pending_changes(session, order, head):
        return None
    current = session.get(PlanVersion, head.id)
    assert current is not None
    return current, verification


def plan_versions(session: Session, version_ids: Any) -> dict[int, PlanVersion]:
    """Plan versions by id, in one query (for readers of a course's or an infusion's plan). Reads only."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    return {v.id: v for v in session.execute(select(PlanVersion).where(PlanVersion.id.in_(ids))).scalars()}


def _latest_verification(session: Session, plan_version_id: int) -> Verification | None:
    return session.execute(
        select(Verification)
        .where(Verification.plan_version_id == plan_version_id)
        .order_by(Verification.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _latest_verifications(session: Session, plan_version_ids: Any) -> dict[int, Verification]:
    """The latest decision on each of these plan versions (versions never decided are left out)."""
    ids = sorted(set(plan_version_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Verification).where(Verification.plan_version_id.in_(ids)).order_by(Verification.id)
    ).scalars()
    return {v.plan_version_id: v for v in rows}  # the latest comes last and stays


def to_out(session: Session, order: Order) -> OrderOut:
    """The order with its versions and whether its plan is out of date (checked here)."""
    return _outs(session, [order], _stale(session, [order]))[0]


def _outs(session: Session, orders: list[Order], stale: dict[int, list[dict[str, Any]]]) -> list[OrderOut]:
    """Orders with every version and verification, in two queries; ``stale`` names the out-of-date ones."""
    if not orders:
        return []
    versions: dict[int, list[PlanVersion]] = {o.id: [] for o in orders}
    for v in session.execute(
        select(PlanVersion)
        .where(PlanVersion.order_id.in_(versions))
        .order_by(PlanVersion.order_id, PlanVersion.version)
    ).scalars():
        versions[v.order_id].append(v)
    checks: dict[int, list[Verification]] = {v.id: [] for vs in versions.values() for v in vs}
    for x in session.execute(
        select(Verification).where(Verification.plan_version_id.in_(checks)).order_by(Verification.id)
    ).scalars():
        checks[x.plan_version_id].append(x)
    return [_out(order, versions[order.id], checks, stale.get(order.id) or []) for order in orders]


def _out(
    order: Order,
    versions: list[PlanVersion],
    checks: dict[int, list[Verification]],
    changes: list[dict[str, Any]],
) -> OrderOut:
    current = versions[-1]
    latest = checks[current.id][-1] if checks[current.id] else None
    if changes:
        status = "out_of_date"
    else:
        status = "hard_stop" if current.hard_stopped else latest.decision if latest is not None else "pending"
    return OrderOut(
        id=order.id,
        patient_id=order.patient_id,
        prescriber_id=order.prescriber_id,
        referral_id=order.referral_id,
        indication_id=order.indication_id,
        phase=order.phase,
        product_id=order.product_id,
        dose_g_per_kg=order.dose_g_per_kg,
        days=order.days,
        policy_id=order.policy_id,
        first_infusion=order.first_infusion,
        override_reason=order.override_reason,
        notes=order.notes,
        product_choice=order.product_choice,
        setting=order.setting,
        previous_iv_dose_g=order.previous_iv_dose_g,
        iv_interval_weeks=order.iv_interval_weeks,
        sc_interval_days=order.sc_interval_days,
        status=order.status,
        entered_by_user_id=order.entered_by_user_id,
        created_at=order.created_at,
        verification_status=status,
        current_version=current.version,
        out_of_date_changes=changes,
        versions=[
            PlanVersionOut(
                id=v.id,
                version=v.version,
                created_at=v.created_at,
                reason=v.reason,
                inputs=v.inputs,
                changes=v.changes,
                hard_stopped=v.hard_stopped,
                plan=v.plan,
                verifications=[VerificationOut.model_validate(x) for x in checks[v.id]],
            )
            for v in versions
        ],
    )
