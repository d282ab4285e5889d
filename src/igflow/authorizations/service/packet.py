"""The packet, assembled from the chart (never retyped): the facts the payer policy's requirements are
checked on, the items with what is missing and who supplies it, and the view the letter and the PAS Bundle
render."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.core import (
    ChartFacts,
    CoverageView,
    DocumentFact,
    PacketItem,
    PacketView,
    PartyView,
    PatientView,
    PlanFacts,
    PrescriberFacts,
    ReadingFact,
    TherapyFact,
    assess_packet,
)
from igflow.authorizations.models import PriorAuthRequest, PriorTherapy
from igflow.authorizations.service._common import catalog, now
from igflow.catalog.models import Requirement
from igflow.directory.models import Payer, Prescriber
from igflow.orders import service as orders_service
from igflow.orders.models import Order
from igflow.outcomes import service as outcomes_service
from igflow.patients.models import Coverage, Patient
from igflow.referrals.models import Referral, ReferralDocument
from igflow.sites.models import Organisation

#: The item igflow adds to every policy: a request must say what it asks for.
REQUESTED = Requirement(
    id="requested",
    kind="attestation",
    label="What is asked for: number of infusions, grams and the period",
)


def plan_facts(session: Session, order: Order) -> PlanFacts | None:
    current = orders_service.current_verified_plan(session, order.id)
    if current is None:
        return None
    version, _verification = current
    plan = version.plan
    regimen = plan.get("regimen") or {}
    interval = regimen.get("interval_weeks")
    product = catalog().products.get(order.product_id)
    return PlanFacts(
        product_id=order.product_id,
        product_name=product.name if product else order.product_id,
        dose_g_per_cycle=float(plan.get("dispensed_g") or plan.get("prescribed_g") or 0.0),
        days_per_cycle=len(plan.get("days") or []) or 1,
        cycles=None,
        interval_weeks=float(interval[0]) if interval else None,
        site_of_care="facility",
    )


def _readings(session: Session, patient_id: int) -> tuple[ReadingFact, ...]:
    rows = outcomes_service.effective(outcomes_service.rows_of(session, patient_id))
    measures = {m.id: m for m in catalog().outcomes.measures}
    facts = []
    for r in rows:
        spec = measures.get(r.measure_id)
        facts.append(
            ReadingFact(
                measure_id=r.measure_id,
                measure_name=spec.name if spec else r.measure_id,
                value=r.value,
                unit=spec.unit if spec else "",
                measured_on=r.measured_on,
            )
        )
    return tuple(facts)


def _documents(session: Session, patient_id: int) -> tuple[DocumentFact, ...]:
    """Documents on any of the patient's referrals (a packet encloses what the chart already has)."""
    rows = session.execute(
        select(ReferralDocument.id, ReferralDocument.filename, ReferralDocument.category)
        .join(Referral, Referral.id == ReferralDocument.referral_id)
        .where(Referral.patient_id == patient_id)
        .order_by(ReferralDocument.id)
    ).all()
    return tuple(DocumentFact(document_id=i, filename=f, category=c) for i, f, c in rows)


def therapies_of(session: Session, patient_id: int) -> list[PriorTherapy]:
    return list(
        session.execute(
            select(PriorTherapy).where(PriorTherapy.patient_id == patient_id).order_by(PriorTherapy.id)
        ).scalars()
    )


def referral_of(session: Session, order: Order) -> Referral | None:
    """The order's referral, or else the patient's latest accepted-or-open referral for its indication."""
    if order.referral_id:
        return session.get(Referral, order.referral_id)
    return session.execute(
        select(Referral)
        .where(
            Referral.patient_id == order.patient_id,
            Referral.indication_id == order.indication_id,
            Referral.status != "declined",
        )
        .order_by(Referral.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Packet:
    request: PriorAuthRequest
    order: Order
    referral: Referral | None
    prescriber: Prescriber | None
    facts: ChartFacts
    items: list[PacketItem]

    @property
    def complete(self) -> bool:
        return all(item.satisfied for item in self.items)

    @property
    def missing(self) -> list[PacketItem]:
        return [item for item in self.items if not item.satisfied]


def _requested_note(request: PriorAuthRequest) -> str:
    if not (request.requested_infusions and request.requested_grams and request.requested_start):
        return ""
    return (
        f"{request.requested_infusions} infusions, {request.requested_grams:g} g, "
        f"{request.requested_start} to {request.requested_end}"
    )


def assemble(session: Session, request: PriorAuthRequest) -> Packet:
    """The packet of a request: chart facts and every item of its policy (reads only)."""
    order = session.get(Order, request.order_id)
    assert order is not None
    referral = referral_of(session, order)
    prescriber = session.get(Prescriber, order.prescriber_id)
    attestations = {key: str(value.get("note", "")) for key, value in (request.attestations or {}).items()}
    requested = _requested_note(request)
    if requested:
        attestations["requested"] = requested
    facts = ChartFacts(
        icd10_code=referral.icd10_code if referral else None,
        diagnosis_text=referral.diagnosis_text if referral else "",
        plan=plan_facts(session, order),
        prescriber=PrescriberFacts(prescriber.name, prescriber.npi, prescriber.specialty)
        if prescriber
        else None,
        readings=_readings(session, request.patient_id),
        documents=_documents(session, request.patient_id),
        therapies=tuple(
            TherapyFact(t.therapy, t.started_on, t.stopped_on, t.outcome)
            for t in therapies_of(session, request.patient_id)
        ),
        attestations=attestations,
    )
    policy = catalog().payers.policy(request.policy_id)
    requirements = [*policy.requirements_for(order.indication_id), REQUESTED]
    labels = {c.id: c.label for c in catalog().payers.document_categories}
    items = assess_packet(requirements, facts, now().date(), labels)
    items = [
        item
        if item.requirement_id != "requested" or item.satisfied
        else PacketItem(
            item.requirement_id,
            item.kind,
            item.label,
            False,
            "",
            "Not entered yet. The prior-authorisation specialist enters the infusions, grams and period "
            "asked for on this request.",
        )
        for item in items
    ]
    return Packet(request, order, referral, prescriber, facts, items)


def _sex(value: str) -> str:
    return value if value in ("female", "male", "other", "unknown") else "unknown"


def view_of(session: Session, packet: Packet, response_summary: str = "") -> PacketView:
    """Everything the letter and the PAS Bundle render."""
    request, order = packet.request, packet.order
    patient = session.get(Patient, request.patient_id)
    coverage = session.get(Coverage, request.coverage_id)
    assert patient is not None and coverage is not None
    payer = session.get(Payer, coverage.payer_id)
    organisation = session.execute(select(Organisation).limit(1)).scalar_one_or_none()
    previous = session.get(PriorAuthRequest, request.previous_id) if request.previous_id else None
    indication = catalog().indications.get(order.indication_id)
    prescriber = packet.prescriber
    return PacketView(
        request_id=request.id,
        kind=request.kind,
        urgency="expedited" if request.urgency == "expedited" else "standard",
        status=request.status,
        created_at=request.created_at,
        submitted_at=request.submitted_at,
        patient=PatientView(
            patient_id=patient.id,
            mrn=patient.mrn,
            family_name=patient.family_name,
            given_name=patient.given_name,
            date_of_birth=patient.date_of_birth,
            sex=_sex(patient.sex),
        ),
        coverage=CoverageView(
            payer_code=payer.code if payer else "",
            payer_name=payer.name if payer else "",
            plan_name=coverage.plan_name,
            member_id=coverage.member_id,
            group_number=coverage.group_number,
            rank=coverage.rank,
            benefit=coverage.benefit,
            effective_from=coverage.effective_from,
            effective_to=coverage.effective_to,
        ),
        prescriber=PartyView(prescriber.name, prescriber.npi, prescriber.phone) if prescriber else None,
        prescriber_specialty=prescriber.specialty if prescriber else "",
        organisation=PartyView(organisation.name if organisation else "igflow"),
        facility=None,
        icd10_code=packet.facts.icd10_code,
        diagnosis_text=packet.facts.diagnosis_text,
        indication_name=indication.name if indication else order.indication_id,
        plan=packet.facts.plan,
        requested_grams=request.requested_grams,
        requested_infusions=request.requested_infusions,
        requested_start=request.requested_start,
        requested_end=request.requested_end,
        hcpcs_code=None,
        items=tuple(packet.items),
        readings=packet.facts.readings,
        therapies=packet.facts.therapies,
        documents=packet.facts.documents,
        response_summary=response_summary,
        previous_reference=previous.payer_reference if previous else "",
        policy_name=catalog().payers.policy(request.policy_id).name,
        generated_at=now(),
    )


def response_summary(session: Session, order: Order, today: dt.date) -> str:
    """The order's response against baseline, in words, for a continuation request."""
    view = outcomes_service.evaluate(session, order, today)
    parts = [view.summary.message]
    parts += [m.message for m in view.summary.measures if m.message]
    return " ".join(p for p in parts if p)
