"""The pure core of prior authorisation: packet completeness, due dates, and whether a booking or a
dispense stays within an authorisation. Plain functions over typed values: no database, no clock, no web.

The packet is checked against a catalog payer policy's requirements (``catalog/data/payers.yaml``): each
requirement becomes a :class:`PacketItem` that says whether the chart satisfies it, with what evidence, or
what is missing and who can supply it. :func:`check_use` compares what a booking or a dispense would add
with what the payer authorised; its findings are warnings a scheduler acknowledges, or hard stops when the
payer is configured so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from igflow.catalog.models import Requirement

# --- the packet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanFacts:
    """The order's verified plan, as the packet needs it."""

    product_id: str
    product_name: str
    dose_g_per_cycle: float
    days_per_cycle: int
    cycles: int | None  # None: until reviewed (maintenance)
    interval_weeks: float | None
    site_of_care: str  # facility | home


@dataclass(frozen=True)
class PrescriberFacts:
    name: str
    npi: str | None
    specialty: str


@dataclass(frozen=True)
class ReadingFact:
    measure_id: str
    measure_name: str
    value: float
    unit: str
    measured_on: dt.date


@dataclass(frozen=True)
class DocumentFact:
    document_id: int
    filename: str
    category: str


@dataclass(frozen=True)
class TherapyFact:
    therapy: str
    started_on: dt.date | None
    stopped_on: dt.date | None
    outcome: str


@dataclass(frozen=True)
class ChartFacts:
    """What the chart holds for a packet: diagnosis, the verified plan, the prescriber, readings on record,
    documents on the referral, prior therapies, and what the specialist attested on the request."""

    icd10_code: str | None
    diagnosis_text: str
    plan: PlanFacts | None
    prescriber: PrescriberFacts | None
    readings: tuple[ReadingFact, ...] = ()
    documents: tuple[DocumentFact, ...] = ()
    therapies: tuple[TherapyFact, ...] = ()
    attestations: dict[str, str] = field(default_factory=dict)  # requirement id -> note


@dataclass(frozen=True)
class PacketItem:
    requirement_id: str
    kind: str
    label: str
    satisfied: bool
    evidence: str  # what on the chart satisfies it, in words ("" when missing)
    missing: str  # what is missing and who supplies it ("" when satisfied)

    def to_dict(self) -> dict[str, object]:
        return {
            "requirement_id": self.requirement_id,
            "kind": self.kind,
            "label": self.label,
            "satisfied": self.satisfied,
            "evidence": self.evidence,
            "missing": self.missing,
        }


#: Who supplies each kind of item when it is missing (the page links to where they do it).
RESOLUTION: dict[str, str] = {
    "diagnosis_code": "Intake adds the ICD-10 code on the referral.",
    "verified_plan": "The prescriber completes the order and a pharmacist verifies its plan.",
    "prescriber_npi": "Intake adds the prescriber's NPI in the prescriber directory.",
    "specialist_prescriber": "The order must come from a prescriber of the required specialty; intake "
    "records the prescriber's specialty in the directory, or the referral names another prescriber.",
    "outcome_measure": "A nurse, pharmacist or the prescriber records the result on the patient's "
    "outcomes page.",
    "document": "Intake uploads the document to the referral (or sets the category of one already there).",
    "prior_therapy": "Intake or the prescriber records the prior therapy on the patient's chart.",
    "attestation": "The prior-authorisation specialist confirms it on this request, with a note of what "
    "they checked.",
}


def _readings_for(
    facts: ChartFacts, measure_id: str, today: dt.date, within_days: int | None
) -> list[ReadingFact]:
    found = [r for r in facts.readings if r.measure_id == measure_id]
    if within_days is not None:
        found = [r for r in found if (today - r.measured_on).days <= within_days]
    return sorted(found, key=lambda r: r.measured_on)


def _number(value: float) -> str:
    return f"{value:g}"


def _assess(
    req: Requirement, facts: ChartFacts, today: dt.date, category_label: dict[str, str]
) -> tuple[bool, str, str]:
    """(satisfied, evidence, what is missing) for one requirement."""
    kind = req.kind
    if kind == "diagnosis_code":
        code = facts.icd10_code
        if not code:
            return False, "", "No ICD-10 code on the referral."
        if req.codes and not any(code.upper().startswith(p.upper()) for p in req.codes):
            return False, "", f"The ICD-10 code {code} is not one the policy lists ({', '.join(req.codes)})."
        return True, f"{code} {facts.diagnosis_text}".strip(), ""
    if kind == "verified_plan":
        plan = facts.plan
        if plan is None:
            return False, "", "The order has no verified plan."
        cycles = f"{plan.cycles} cycles" if plan.cycles else "until reviewed"
        return True, f"{plan.product_name}, {_number(plan.dose_g_per_cycle)} g per cycle, {cycles}", ""
    if kind == "prescriber_npi":
        if facts.prescriber is None:
            return False, "", "No prescriber on the referral."
        if not facts.prescriber.npi:
            return False, "", f"{facts.prescriber.name} has no NPI on record."
        return True, f"{facts.prescriber.name}, NPI {facts.prescriber.npi}", ""
    if kind == "specialist_prescriber":
        if facts.prescriber is None:
            return False, "", "No prescriber on the referral."
        specialty = facts.prescriber.specialty.strip().lower()
        if specialty not in {s.lower() for s in req.specialties}:
            wanted = " or ".join(req.specialties)
            shown = facts.prescriber.specialty or "no specialty recorded"
            return False, "", f"{facts.prescriber.name}: {shown}; the policy needs {wanted}."
        return True, f"{facts.prescriber.name}, {facts.prescriber.specialty}", ""
    if kind == "outcome_measure":
        assert req.measure is not None
        found = _readings_for(facts, req.measure, today, req.within_days)
        if not found:
            recent = f" in the last {req.within_days} days" if req.within_days else ""
            return False, "", f"No result on record{recent}."
        first = found[0]
        return True, f"{first.measure_name} {_number(first.value)} {first.unit} on {first.measured_on}", ""
    if kind == "document":
        assert req.document is not None
        docs = [d for d in facts.documents if d.category == req.document]
        if not docs:
            label = category_label.get(req.document, req.document)
            return False, "", f"No {label.lower()} on the referral."
        return True, ", ".join(d.filename for d in docs), ""
    if kind == "prior_therapy":
        therapies = {t.lower() for t in req.therapies}
        tried = [t for t in facts.therapies if not therapies or t.therapy.lower() in therapies]
        if not tried:
            which = f" ({', '.join(req.therapies)})" if req.therapies else ""
            return False, "", f"No prior therapy{which} on the chart."
        return True, "; ".join(f"{t.therapy}: {t.outcome or 'stopped'}" for t in tried), ""
    # attestation
    note = facts.attestations.get(req.id)
    if not note:
        return False, "", "Not yet confirmed."
    return True, note, ""


def assess_packet(
    requirements: Sequence[Requirement],
    facts: ChartFacts,
    today: dt.date,
    category_labels: dict[str, str] | None = None,
) -> list[PacketItem]:
    """Every requirement of the policy, satisfied from the chart or listed as missing with who supplies it."""
    labels = category_labels or {}
    items = []
    for req in requirements:
        satisfied, evidence, missing = _assess(req, facts, today, labels)
        items.append(
            PacketItem(
                requirement_id=req.id,
                kind=req.kind,
                label=req.label,
                satisfied=satisfied,
                evidence=evidence,
                missing="" if satisfied else f"{missing} {RESOLUTION[req.kind]}",
            )
        )
    return items


# --- time ------------------------------------------------------------------------------------------

Urgency = Literal["standard", "expedited"]


@dataclass(frozen=True)
class TimeFrame:
    """How long the payer has to decide: CMS-0057-F for the payers it covers, or the payer's own."""

    standard_days: int | None
    expedited_hours: int | None
    basis: str  # "CMS-0057-F" or "the payer's own time frame"


def due_at(submitted_at: dt.datetime, urgency: Urgency, frame: TimeFrame | None) -> dt.datetime | None:
    """When the payer's decision is due (UTC), or None when no time frame binds the payer.

    Standard requests count calendar days; expedited requests count hours."""
    if frame is None:
        return None
    if urgency == "expedited" and frame.expedited_hours is not None:
        return submitted_at + dt.timedelta(hours=frame.expedited_hours)
    if frame.standard_days is not None:
        return submitted_at + dt.timedelta(days=frame.standard_days)
    return None


def days_waiting(since: dt.datetime, now: dt.datetime) -> int:
    """Whole days since ``since`` (the request was created), never negative."""
    return max(0, (now - since).days)


@dataclass(frozen=True)
class QueueEntry:
    request_id: int
    urgency: Urgency
    due_at: dt.datetime | None
    created_at: dt.datetime


def queue_order(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """Most urgent first: expedited before standard, then the earliest due date (requests with no due date
    after those with one), then the longest waiting."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        entries,
        key=lambda e: (e.urgency != "expedited", e.due_at or far, e.created_at, e.request_id),
    )


# --- using an authorisation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What the payer authorised."""

    request_id: int
    payer_reference: str
    product_ids: tuple[str, ...]  # empty: any product
    grams: float | None  # None: not limited by grams
    infusions: int | None  # None: not limited by count
    site_of_care: str | None  # facility | home | either | None (not stated)
    start_date: dt.date
    end_date: dt.date


@dataclass(frozen=True)
class Use:
    """One infusion day under an order: its date, grams and where."""

    date: dt.date
    grams: float
    product_id: str
    site_of_care: str  # facility | home


@dataclass(frozen=True)
class Finding:
    code: str  # no_authorisation | before_start | after_end | infusions | grams | product | site_of_care
    message: str


def check_use(grant: Grant | None, used: Sequence[Use], new: Sequence[Use]) -> list[Finding]:
    """What is outside the authorisation if ``new`` is added to what is already ``used`` under it.

    ``used`` are the days already booked, given or dispensed under the same authorisation (its date
    range); ``new`` the days being booked. One finding per kind of excess, in words."""
    if not new:
        return []
    if grant is None:
        return [Finding("no_authorisation", "No prior authorisation covers these dates.")]
    findings: list[Finding] = []
    before = [u for u in new if u.date < grant.start_date]
    after = [u for u in new if u.date > grant.end_date]
    if before:
        findings.append(
            Finding(
                "before_start",
                f"{before[0].date} is before the authorisation starts ({grant.start_date}).",
            )
        )
    if after:
        findings.append(
            Finding("after_end", f"{after[-1].date} is after the authorisation ends ({grant.end_date}).")
        )
    inside = [u for u in new if grant.start_date <= u.date <= grant.end_date]
    in_range_used = [u for u in used if grant.start_date <= u.date <= grant.end_date]
    if grant.infusions is not None:
        total = len(in_range_used) + len(inside)
        if total > grant.infusions:
            findings.append(
                Finding(
                    "infusions",
                    f"This makes {total} infusions; {grant.infusions} are authorised "
                    f"({len(in_range_used)} already booked or given).",
                )
            )
    if grant.grams is not None:
        grams = sum(u.grams for u in in_range_used) + sum(u.grams for u in inside)
        if grams > grant.grams + 1e-9:
            findings.append(
                Finding(
                    "grams",
                    f"This makes {grams:g} g; {grant.grams:g} g are authorised.",
                )
            )
    if grant.product_ids:
        off = sorted({u.product_id for u in new if u.product_id not in grant.product_ids})
        if off:
            findings.append(
                Finding(
                    "product",
                    f"{', '.join(off)} is not an authorised product ({', '.join(grant.product_ids)}).",
                )
            )
    if grant.site_of_care in ("facility", "home"):
        off_site = [u for u in new if u.site_of_care != grant.site_of_care]
        if off_site:
            findings.append(
                Finding(
                    "site_of_care",
                    f"The authorisation is for {grant.site_of_care} infusions; this one is "
                    f"{off_site[0].site_of_care}.",
                )
            )
    return findings


def covering(grants: Sequence[Grant], day: dt.date) -> Grant | None:
    """The authorisation in force on ``day`` (the latest starting one when several overlap)."""
    found = [g for g in grants if g.start_date <= day <= g.end_date]
    return max(found, key=lambda g: (g.start_date, g.request_id)) if found else None


# --- what leaves igflow: the letter and the PAS Bundle ----------------------------------------------


@dataclass(frozen=True)
class PartyView:
    """A person or organisation named in the export."""

    name: str
    identifier: str | None = None  # NPI for a prescriber or organisation; None when not on record
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class CoverageView:
    payer_code: str
    payer_name: str
    plan_name: str
    member_id: str
    group_number: str
    rank: int  # 1 primary, 2 secondary
    benefit: str  # medical | pharmacy
    effective_from: dt.date | None
    effective_to: dt.date | None


@dataclass(frozen=True)
class PatientView:
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    sex: str  # female | male | other | unknown (FHIR administrative gender)


@dataclass(frozen=True)
class PacketView:
    """Everything a letter of medical necessity and a Da Vinci PAS request need, read from the chart.

    Built by the service (``igflow.authorizations.service``); the letter (``letter.py``) and the PAS Bundle
    (``pas.py``) are pure renderings of it."""

    request_id: int
    kind: str  # initial | continuation
    urgency: Urgency
    status: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    patient: PatientView
    coverage: CoverageView
    prescriber: PartyView | None
    prescriber_specialty: str
    organisation: PartyView  # the pharmacy / infusion provider asking
    facility: PartyView | None  # where the infusions are given (a centre), or None for home
    icd10_code: str | None
    diagnosis_text: str
    indication_name: str
    plan: PlanFacts | None
    requested_grams: float | None
    requested_infusions: int | None
    requested_start: dt.date | None
    requested_end: dt.date | None
    hcpcs_code: str | None  # the product's billing code when the catalog has it
    items: tuple[PacketItem, ...]
    readings: tuple[ReadingFact, ...]
    therapies: tuple[TherapyFact, ...]
    documents: tuple[DocumentFact, ...]
    response_summary: str  # continuation: the response against baseline, in words ("" for initial)
    previous_reference: str  # continuation: the payer's reference of the authorisation it continues
    policy_name: str
    generated_at: dt.datetime


@dataclass(frozen=True)
class PayerDecision:
    """A decision read from a payer's answer (a PAS ClaimResponse), before it is recorded."""

    outcome: Literal["approved", "partially_approved", "denied", "pended"]
    payer_reference: str
    reason: str
    grams: float | None
    infusions: int | None
    start_date: dt.date | None
    end_date: dt.date | None
    product_ids: tuple[str, ...] = ()
