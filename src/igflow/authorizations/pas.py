"""A prior-authorisation request as a Da Vinci PAS request Bundle, and a payer's PAS answer read back.

Pure: no database, no HTTP, no clock. Every time comes in the :class:`PacketView`; the same view gives the
same Bundle, byte for byte once serialised with sorted keys (fullUrls are uuid5 of the request id).

**Version followed: Da Vinci PAS STU 2.1 (2.1.0)**, the version hl7.org/fhir/us/davinci-pas calls "the
current published version" in the stored reference (``shared/reference/clinical-2.md`` §4.3; a 2.2.1 page
also exists). PAS is FHIR R4 (4.0.1). ``meta.profile`` carries these 2.1.0 canonicals:

- Bundle           ``http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-request-bundle``
- Claim            ``.../profile-claim`` (PASClaim)
- Patient          ``.../profile-beneficiary`` (PASBeneficiary, itself on US Core Patient)
- Coverage         ``.../profile-coverage`` (PASCoverage)
- payer            ``.../profile-insurer`` (PASInsurer)
- requester        ``.../profile-requestor`` (PASRequestor)
- prescriber       ``.../profile-practitioner`` (PASPractitioner)
- the plan         ``.../profile-medicationrequest`` (PASMedicationRequest)

(the facility, when there is one, is a plain R4 Location: its PAS profile was not read.)

Choices, and where the profile leaves a gap:

- ``Claim.type`` is **professional**: the request is for a drug an infusion pharmacy or centre gives and
  bills per unit of drug (HCPCS J-code lines, the 837P/CMS-1500 side), as in PAS's own home-care and
  medication examples. *Institutional* (837I/UB-04, revenue codes) would fit a hospital outpatient
  department billing its facility charge; nothing in the view says the site is a hospital.
- ``Claim.priority``: PAS 2.1 leaves R4's *example* binding to ProcessPriority
  (``http://terminology.hl7.org/CodeSystem/processpriority``) in place; its examples use ``normal``. An
  expedited request is ``stat`` **and** carries PAS's ``levelOfServiceType`` extension with X12 UM06 ``U``
  "Urgent" (``https://codesystem.x12.org/005010/1338``, as in PAS's Referral example), which is what the
  X12 278 mapping reads. A standard request is ``normal`` with no level of service.
- ``Claim.item.productOrService``: PAS binds it (required) to X12 278 requested-service codes (HCPCS, CPT,
  NDC…). The catalog has no HCPCS code for most products; then the item carries a **text-only**
  CodeableConcept (the product's name), valid FHIR R4 but short of PAS's binding: a payer's intermediary may
  refuse it until the product has a code. With a code it is
  ``http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets``, the system PAS's examples use.
- ``Claim.item.quantity`` is the requested grams as ``{"value", "unit": "g"}`` with no ``code``: PASQuantity
  binds ``code`` (required) to X12 quantity qualifiers, which have no gram, and a unit alone is allowed.
- supporting information: PAS 2.1 slices ``supportingInfo`` (open) and allows one ``freeFormMessage``; that
  slice carries the clinical summary in words. Readings, prior therapies and enclosed documents use R4's
  ``claiminformationcategory`` (``info``, ``attachment``) since the PAS slices for references are 0..1; the
  documents are named (title), not embedded.
- a continuation names the authorisation it continues in ``Claim.related`` (relationship ``prior``,
  ``reference`` the payer's number).
- the place of service is set only for home infusions (CMS POS ``12`` Home): for a facility the POS code
  (office, infusion suite, hospital outpatient) is not in the view.

Reading the answer (:func:`read_response`): the decision is PAS's ``reviewAction`` extension
(``.../extension-reviewAction``) on ``ClaimResponse.item.adjudication`` (PAS 2.x; also accepted on
``addItem.adjudication``, on the header ``adjudication`` and, as in PAS 1.x, on ``item`` itself), whose
``extension-reviewActionCode`` is an X12 HCR01 action code (``https://codesystem.x12.org/005010/306``):

==== ========================= =====================================================================
code X12 meaning               igflow outcome
==== ========================= =====================================================================
A1   Certified in total        approved
A2   Certified - partial       partially_approved
A6   Modified                  partially_approved (authorised, but not as asked: see what was given)
A3   Not certified             denied
A4   Pended                    pended
CT   Contact payer             pended (the payer wants to be contacted before it decides)
C    Cancelled                 refused with :class:`PasError` (no decision on this request)
NA   No action required        refused with :class:`PasError` (the payer needs no authorisation)
==== ========================= =====================================================================

Source of the codes: PAS 2.1's ReviewActionCode extension binds them (required) to X12's value set
``https://valueset.x12.org/x217/005010/response/2000F/HCR/1/01/00/306``, which X12 publishes only to its
members. A1, A3 and A4 appear in PAS's own examples; A2, A6, C, CT and NA are taken from public X12 278
mapping tables, not from X12's text. When several items answer differently: any pended item makes the
whole answer pended; approvals mixed with denials or partial approvals make it partially approved. Without a
review action, ``outcome = queued`` is pended and anything else is refused (the decision cannot be read);
``outcome = error`` is the payer rejecting the submission, refused with the payer's error codes.

The figures: the payer's reference is ``preAuthRef``, else the review action's ``number`` (X12 HCR02), else
the item's ``administrationReferenceNumber``; the reason is ``disposition``, the review action's reason
codes and the process notes; grams and infusions come only from an authorised quantity
(``extension-itemAuthorizedDetail`` ``quantity``, or ``addItem.quantity``) whose unit says grams, or visits
/ infusions; dates from ``preAuthPeriod`` or the item's ``extension-itemPreAuthPeriod``. A figure the answer
does not state stays ``None``: an "A1" with no quantity does not mean "the grams we asked for".

Validation uses ``fhir.resources`` 8's ``R4B`` package (FHIR 4.3.0): fhir.resources 8 ships R5 (default),
R4B and STU3, and no R4 (4.0.1) package. R4B's Bundle, Claim, ClaimResponse, Coverage, Patient,
Practitioner, Organization, Location and MedicationRequest have the elements used here as R4 does; it checks
structure, cardinality and datatypes, not the PAS profiles or terminology bindings (no profile validator
runs here).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from igflow.authorizations.core import PacketView, PartyView, PayerDecision

PAS_VERSION = "2.1.0"
_PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"


def _profile(name: str) -> str:
    return f"{_PAS}/{name}|{PAS_VERSION}"


PROFILE_REQUEST_BUNDLE = _profile("profile-pas-request-bundle")
PROFILE_CLAIM = _profile("profile-claim")
PROFILE_BENEFICIARY = _profile("profile-beneficiary")
PROFILE_COVERAGE = _profile("profile-coverage")
PROFILE_INSURER = _profile("profile-insurer")
PROFILE_REQUESTOR = _profile("profile-requestor")
PROFILE_PRACTITIONER = _profile("profile-practitioner")
PROFILE_MEDICATION_REQUEST = _profile("profile-medicationrequest")

EXT_LEVEL_OF_SERVICE = f"{_PAS}/extension-levelOfServiceCode"
EXT_CERTIFICATION_TYPE = f"{_PAS}/extension-certificationType"
EXT_SERVICE_ITEM_REQUEST_TYPE = f"{_PAS}/extension-serviceItemRequestType"
EXT_REQUESTED_SERVICE = f"{_PAS}/extension-requestedService"
EXT_REVIEW_ACTION = f"{_PAS}/extension-reviewAction"
EXT_REVIEW_ACTION_CODE = f"{_PAS}/extension-reviewActionCode"
EXT_ITEM_PREAUTH_PERIOD = f"{_PAS}/extension-itemPreAuthPeriod"
EXT_ITEM_AUTHORIZED_DETAIL = f"{_PAS}/extension-itemAuthorizedDetail"
EXT_ADMINISTRATION_REFERENCE = f"{_PAS}/extension-administrationReferenceNumber"

ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
US_NPI = "http://hl7.org/fhir/sid/us-npi"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
X12_ENTITY = "https://codesystem.x12.org/005010/98"
X12_LEVEL_OF_SERVICE = "https://codesystem.x12.org/005010/1338"
X12_CERTIFICATION_TYPE = "https://codesystem.x12.org/005010/1322"
X12_REQUEST_TYPE = "https://codesystem.x12.org/005010/1525"
X12_REVIEW_ACTION = "https://codesystem.x12.org/005010/306"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
INFO_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
PAS_INFO_CATEGORY = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASSupportingInfoType"
RELATED_CLAIM = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
UCUM = "http://unitsofmeasure.org"

#: igflow's own identifier systems (URNs: igflow has no public web address of its own to mint them under).
REQUEST_SYSTEM = "urn:igflow:prior-authorization-request"
MRN_SYSTEM = "urn:igflow:mrn"
PAYER_SYSTEM = "urn:igflow:payer"

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:igflow:pas")


class PasError(ValueError):
    """A PAS Bundle that is not valid, or an answer igflow cannot record; the message says why, in words."""


Outcome = Literal["approved", "partially_approved", "denied", "pended"]

#: X12 HCR01 action code -> igflow outcome (see the module docstring for the source).
REVIEW_ACTIONS: dict[str, Outcome] = {
    "A1": "approved",
    "A2": "partially_approved",
    "A6": "partially_approved",
    "A3": "denied",
    "A4": "pended",
    "CT": "pended",
}
#: Codes that are an answer but no decision on the request.
NOT_A_DECISION: dict[str, str] = {
    "C": "the payer cancelled the request (X12 action C)",
    "NA": "the payer says no authorisation is required (X12 action NA)",
}
REVIEW_ACTION_LABEL: dict[str, str] = {
    "A1": "Certified in total",
    "A2": "Certified - partial",
    "A3": "Not certified",
    "A4": "Pended",
    "A6": "Modified",
    "CT": "Contact payer",
}


# --- the request ------------------------------------------------------------------------------------


def _urn(view: PacketView, role: str) -> tuple[str, str]:
    """(resource id, fullUrl) of one resource of this request's Bundle: the same every time."""
    ident = str(uuid.uuid5(_NAMESPACE, f"request/{view.request_id}/{role}"))
    return ident, f"urn:uuid:{ident}"


def _instant(value: dt.datetime) -> str:
    """A FHIR instant. igflow keeps UTC; a naive time is read as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def _number(value: float) -> int | float:
    """A decimal for JSON: whole numbers without a trailing .0."""
    return int(value) if float(value).is_integer() else float(value)


def _g(value: float) -> str:
    return f"{value:g}"


def _text(value: str) -> dict[str, Any]:
    return {"text": value}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _telecom(party: PartyView) -> list[dict[str, Any]]:
    return [{"system": "phone", "value": party.phone}] if party.phone else []


def _address(party: PartyView) -> list[dict[str, Any]]:
    return [{"text": party.address}] if party.address else []


def _person_name(name: str) -> dict[str, Any]:
    """A HumanName from a name as written. US Core wants a family name: the last word before any comma
    (credentials such as ", MD" follow a comma); the words before it, less a leading title, are given
    names. The name as written is kept in ``text``."""
    human: dict[str, Any] = {"text": name}
    words = name.split(",")[0].split()
    if words and words[0].rstrip(".").lower() in {"dr", "prof", "mr", "mrs", "ms", "mx"}:
        words = words[1:]
    if words:
        human["family"] = words[-1]
        if words[:-1]:
            human["given"] = words[:-1]
    return human


def _organization(
    ident: str, profile: str, party_name: str, entity: tuple[str, str], identifiers: list[dict[str, Any]]
) -> dict[str, Any]:
    code, display = entity
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": ident,
        "meta": {"profile": [profile]},
        "active": True,
        "type": [_coding(X12_ENTITY, code, display)],
        "name": party_name,
    }
    if identifiers:
        resource["identifier"] = identifiers
    return resource


def _dosage_text(view: PacketView) -> str:
    plan = view.plan
    if plan is None:
        return "No verified plan on the order."
    days = f"over {plan.days_per_cycle} day{'s' if plan.days_per_cycle != 1 else ''}"
    interval = f", every {_g(plan.interval_weeks)} weeks" if plan.interval_weeks else ""
    cycles = f", {plan.cycles} cycles" if plan.cycles else ", until reviewed"
    return f"{plan.product_name} {_g(plan.dose_g_per_cycle)} g per cycle {days}{interval}{cycles}"


def _period(start: dt.date | None, end: dt.date | None) -> dict[str, str] | None:
    period = {}
    if start is not None:
        period["start"] = start.isoformat()
    if end is not None:
        period["end"] = end.isoformat()
    return period or None


def _summary(view: PacketView) -> str:
    """The clinical justification in words, for the free-form message a reviewer reads."""
    parts = [f"{view.indication_name}: {view.diagnosis_text}".strip(": ")]
    parts.extend(f"{item.label}: {item.evidence}" for item in view.items if item.satisfied and item.evidence)
    if view.kind == "continuation" and view.response_summary:
        parts.append(f"Response to treatment: {view.response_summary}")
    missing = [item.label for item in view.items if not item.satisfied]
    if missing:
        parts.append(f"Not yet on file: {', '.join(missing)}")
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def request_bundle(view: PacketView) -> dict[str, Any]:
    """The Da Vinci PAS 2.1 request Bundle (type ``collection``, the Claim first) for one request."""
    bundle_id, _ = _urn(view, "bundle")
    claim_id, claim_url = _urn(view, "claim")
    patient_id, patient_url = _urn(view, "patient")
    coverage_id, coverage_url = _urn(view, "coverage")
    insurer_id, insurer_url = _urn(view, "insurer")
    requestor_id, requestor_url = _urn(view, "requestor")
    practitioner_id, practitioner_url = _urn(view, "practitioner")
    medication_id, medication_url = _urn(view, "medication-request")
    location_id, location_url = _urn(view, "facility")
    created = _instant(view.submitted_at or view.generated_at)
    request_identifier = {"system": REQUEST_SYSTEM, "value": str(view.request_id)}
    cov = view.coverage
    diagnosis = view.diagnosis_text or view.indication_name or "Diagnosis not recorded"
    member_system = f"{PAYER_SYSTEM}:{cov.payer_code}:member-id"

    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": {"profile": [PROFILE_BENEFICIARY]},
        "identifier": [
            {
                "type": _coding(IDENTIFIER_TYPE, "MR", "Medical record number"),
                "system": MRN_SYSTEM,
                "value": view.patient.mrn,
            },
            {
                "type": _coding(IDENTIFIER_TYPE, "MB", "Member Number"),
                "system": member_system,
                "value": cov.member_id,
            },
        ],
        "name": [{"family": view.patient.family_name, "given": [view.patient.given_name]}],
        "gender": view.patient.sex,
        "birthDate": view.patient.date_of_birth.isoformat(),
    }

    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": coverage_id,
        "meta": {"profile": [PROFILE_COVERAGE]},
        "identifier": [
            {
                "type": _coding(IDENTIFIER_TYPE, "MB", "Member Number"),
                "system": member_system,
                "value": cov.member_id,
            }
        ],
        "status": "active",
        "subscriberId": cov.member_id,
        "beneficiary": {"reference": patient_url},
        "payor": [{"reference": insurer_url}],
        "order": cov.rank,
    }
    classes = []
    if cov.group_number:
        classes.append(
            {
                "type": _coding(COVERAGE_CLASS, "group", "Group"),
                "value": cov.group_number,
                **({"name": cov.plan_name} if cov.plan_name else {}),
            }
        )
    if classes:
        coverage["class"] = classes
    coverage_period = _period(cov.effective_from, cov.effective_to)
    if coverage_period:
        coverage["period"] = coverage_period

    insurer = _organization(
        insurer_id,
        PROFILE_INSURER,
        cov.payer_name,
        ("PR", "Payer"),
        [{"system": PAYER_SYSTEM, "value": cov.payer_code}],
    )
    org = view.organisation
    requestor = _organization(
        requestor_id,
        PROFILE_REQUESTOR,
        org.name,
        ("1P", "Provider"),
        [{"system": US_NPI, "value": org.identifier}] if org.identifier else [],
    )
    if org.phone:
        requestor["telecom"] = _telecom(org)
    if org.address:
        requestor["address"] = _address(org)

    practitioner: dict[str, Any] | None = None
    if view.prescriber is not None:
        pres = view.prescriber
        practitioner = {
            "resourceType": "Practitioner",
            "id": practitioner_id,
            "meta": {"profile": [PROFILE_PRACTITIONER]},
            "name": [_person_name(pres.name)],
        }
        if pres.identifier:
            practitioner["identifier"] = [{"system": US_NPI, "value": pres.identifier}]
        if pres.phone:
            practitioner["telecom"] = _telecom(pres)
        if pres.address:
            practitioner["address"] = _address(pres)

    product_name = view.plan.product_name if view.plan else "Immune globulin"
    product: dict[str, Any] = (
        {**_coding(HCPCS, view.hcpcs_code), "text": product_name} if view.hcpcs_code else _text(product_name)
    )

    medication: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": medication_id,
        "meta": {"profile": [PROFILE_MEDICATION_REQUEST]},
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": product,
        "subject": {"reference": patient_url},
        "authoredOn": created,
        "requester": {"reference": practitioner_url if practitioner else requestor_url},
        "dosageInstruction": [{"text": _dosage_text(view)}],
    }
    dispense: dict[str, Any] = {}
    if view.requested_grams is not None:
        dispense["quantity"] = {
            "value": _number(view.requested_grams),
            "unit": "g",
            "system": UCUM,
            "code": "g",
        }
    validity = _period(view.requested_start, view.requested_end)
    if validity:
        dispense["validityPeriod"] = validity
    if dispense:
        medication["dispenseRequest"] = dispense
    medication["reasonCode"] = [
        {**_coding(ICD10_CM, view.icd10_code), "text": diagnosis} if view.icd10_code else _text(diagnosis)
    ]

    location: dict[str, Any] | None = None
    if view.facility is not None:
        fac = view.facility
        location = {"resourceType": "Location", "id": location_id, "status": "active", "name": fac.name}
        if fac.identifier:
            location["identifier"] = [{"system": US_NPI, "value": fac.identifier}]
        if fac.phone:
            location["telecom"] = _telecom(fac)
        if fac.address:
            location["address"] = {"text": fac.address}

    # supporting information: the summary first, then readings, prior therapies, documents
    info: list[dict[str, Any]] = [
        {
            "sequence": 1,
            "category": _coding(PAS_INFO_CATEGORY, "freeFormMessage"),
            "valueString": _summary(view),
        }
    ]
    for reading in sorted(view.readings, key=lambda r: (r.measured_on, r.measure_id)):
        info.append(
            {
                "sequence": len(info) + 1,
                "category": _coding(INFO_CATEGORY, "info", "Information"),
                "code": _text(reading.measure_name),
                "timingDate": reading.measured_on.isoformat(),
                "valueQuantity": {"value": _number(reading.value), "unit": reading.unit},
            }
        )
    for therapy in view.therapies:
        entry: dict[str, Any] = {
            "sequence": len(info) + 1,
            "category": _coding(INFO_CATEGORY, "info", "Information"),
            "code": _text(f"Prior therapy: {therapy.therapy}"),
            "valueString": therapy.outcome or "stopped",
        }
        period = _period(therapy.started_on, therapy.stopped_on)
        if period:
            entry["timingPeriod"] = period
        info.append(entry)
    for doc in view.documents:
        info.append(
            {
                "sequence": len(info) + 1,
                "category": _coding(INFO_CATEGORY, "attachment", "Attachment"),
                "code": _text(doc.category),
                "valueAttachment": {"title": doc.filename},
            }
        )

    item: dict[str, Any] = {
        "sequence": 1,
        "productOrService": product,
        "informationSequence": [i["sequence"] for i in info],
        "diagnosisSequence": [1],
    }
    item_extensions: list[dict[str, Any]] = [
        {
            "url": EXT_SERVICE_ITEM_REQUEST_TYPE,
            "valueCodeableConcept": _coding(X12_REQUEST_TYPE, "HS", "Health Services Review"),
        },
        {"url": EXT_REQUESTED_SERVICE, "valueReference": {"reference": medication_url}},
    ]
    if view.kind == "initial":
        item_extensions.insert(
            1,
            {
                "url": EXT_CERTIFICATION_TYPE,
                "valueCodeableConcept": _coding(X12_CERTIFICATION_TYPE, "I", "Initial"),
            },
        )
    item["extension"] = item_extensions
    if practitioner is not None:
        item["careTeamSequence"] = [1]
    serviced = _period(view.requested_start, view.requested_end)
    if serviced:
        item["servicedPeriod"] = serviced
    if view.plan is not None and view.plan.site_of_care == "home":
        item["locationCodeableConcept"] = _coding(PLACE_OF_SERVICE, "12", "Home")
    if view.requested_grams is not None:
        item["quantity"] = {"value": _number(view.requested_grams), "unit": "g"}

    expedited = view.urgency == "expedited"
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": claim_id,
        "meta": {"profile": [PROFILE_CLAIM]},
        "identifier": [request_identifier],
        "status": "active",
        "type": _coding(CLAIM_TYPE, "professional", "Professional"),
        "use": "preauthorization",
        "patient": {"reference": patient_url},
        "created": created,
        "insurer": {"reference": insurer_url},
        "provider": {"reference": requestor_url},
        "priority": _coding(PROCESS_PRIORITY, "stat" if expedited else "normal"),
        "prescription": {"reference": medication_url},
        "supportingInfo": info,
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": (
                    {**_coding(ICD10_CM, view.icd10_code), "text": diagnosis}
                    if view.icd10_code
                    else _text(diagnosis)
                ),
            }
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": coverage_url}}],
        "item": [item],
    }
    if expedited:
        claim["extension"] = [
            {
                "url": EXT_LEVEL_OF_SERVICE,
                "valueCodeableConcept": _coding(X12_LEVEL_OF_SERVICE, "U", "Urgent"),
            }
        ]
    if view.kind == "continuation" and view.previous_reference:
        claim["related"] = [
            {
                "relationship": _coding(RELATED_CLAIM, "prior", "Prior Claim"),
                "reference": {"value": view.previous_reference},
            }
        ]
    if practitioner is not None:
        claim["careTeam"] = [{"sequence": 1, "provider": {"reference": practitioner_url}}]
    if location is not None:
        claim["facility"] = {"reference": location_url}

    resources: list[tuple[str, dict[str, Any]]] = [
        (claim_url, claim),
        (patient_url, patient),
        (coverage_url, coverage),
        (insurer_url, insurer),
        (requestor_url, requestor),
    ]
    if practitioner is not None:
        resources.append((practitioner_url, practitioner))
    resources.append((medication_url, medication))
    if location is not None:
        resources.append((location_url, location))

    bundle: dict[str, Any] = _pruned(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "meta": {"profile": [PROFILE_REQUEST_BUNDLE]},
            "identifier": request_identifier,
            "type": "collection",
            "timestamp": _instant(view.generated_at),
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in resources],
        }
    )
    return bundle


def _pruned(node: Any) -> Any:
    """``node`` without empty strings, lists and objects: FHIR allows none (a blank on the chart, such as a
    unit-less score or a missing given name, is left out rather than sent empty)."""
    if isinstance(node, dict):
        kept = {k: _pruned(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in ("", [], {}, None)}
    if isinstance(node, list):
        kept_items = [_pruned(v) for v in node]
        return [v for v in kept_items if v not in ("", [], {}, None)]
    if isinstance(node, str):
        return node.strip()
    return node


# --- validation -------------------------------------------------------------------------------------


def _readable(error: ValidationError) -> str:
    lines = []
    for problem in error.errors()[:10]:
        where = ".".join(str(part) for part in problem["loc"]) or "Bundle"
        lines.append(f"{where}: {problem['msg']}")
    more = error.error_count() - len(lines)
    if more > 0:
        lines.append(f"and {more} more")
    return "; ".join(lines)


def validate_bundle(bundle: Mapping[str, Any]) -> None:
    """Parse ``bundle`` as a FHIR Bundle (fhir.resources, R4B) and check PAS's Bundle rules: type
    ``collection``, every entry a resource with a unique fullUrl, no request/response/search parts.

    Raises :class:`PasError` naming what is wrong. Profiles and terminology are not checked."""
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise PasError("This is not a FHIR Bundle (resourceType is not 'Bundle').")
    try:
        Bundle.model_validate(dict(bundle))
    except ValidationError as exc:
        raise PasError(f"The Bundle is not valid FHIR: {_readable(exc)}") from exc
    except (TypeError, ValueError) as exc:
        raise PasError(f"The Bundle is not valid FHIR: {exc}") from exc
    if bundle.get("type") != "collection":
        raise PasError(f"A PAS Bundle is of type 'collection', not {bundle.get('type')!r}.")
    entries = bundle.get("entry") or []
    if not entries:
        raise PasError("The Bundle has no entries.")
    seen: set[str] = set()
    for number, entry in enumerate(entries):
        url = entry.get("fullUrl")
        if not url:
            raise PasError(f"Entry {number} has no fullUrl.")
        if url in seen:
            raise PasError(f"Two entries have the fullUrl {url}.")
        seen.add(url)
        if "resource" not in entry:
            raise PasError(f"Entry {number} ({url}) has no resource.")
        for part in ("request", "response", "search"):
            if part in entry:
                raise PasError(f"Entry {number} ({url}) has a '{part}' part, which PAS does not allow.")


# --- the answer -------------------------------------------------------------------------------------


def _extensions(element: Mapping[str, Any] | None, url: str) -> list[dict[str, Any]]:
    if not element:
        return []
    return [e for e in element.get("extension") or [] if e.get("url") == url]


def _codes(concept: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """(system, code, display) of a CodeableConcept's codings."""
    if not concept:
        return []
    return [
        (c.get("system", ""), c.get("code", ""), c.get("display", "")) for c in concept.get("coding") or []
    ]


def _concept_words(concept: Mapping[str, Any] | None) -> str:
    if not concept:
        return ""
    if concept.get("text"):
        return str(concept["text"])
    return ", ".join(f"{d} ({c})" if d else c for _, c, d in _codes(concept) if c or d)


def _review_actions(response: Mapping[str, Any]) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Every reviewAction extension with the item sequence it answers (None for the header)."""
    for item in response.get("item") or []:
        seq = item.get("itemSequence")
        for adjudication in item.get("adjudication") or []:
            for ext in _extensions(adjudication, EXT_REVIEW_ACTION):
                yield seq, ext
        for ext in _extensions(item, EXT_REVIEW_ACTION):  # PAS 1.x placed it on the item
            yield seq, ext
    for add in response.get("addItem") or []:
        for adjudication in add.get("adjudication") or []:
            for ext in _extensions(adjudication, EXT_REVIEW_ACTION):
                yield None, ext
    for adjudication in response.get("adjudication") or []:
        for ext in _extensions(adjudication, EXT_REVIEW_ACTION):
            yield None, ext


def _action_code(review_action: Mapping[str, Any]) -> str | None:
    for ext in review_action.get("extension") or []:
        if ext.get("url") in (EXT_REVIEW_ACTION_CODE, "code"):
            for system, code, _ in _codes(ext.get("valueCodeableConcept")):
                if code and system in (X12_REVIEW_ACTION, ""):
                    return str(code).upper()
    return None


def _sub(review_action: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in review_action.get("extension") or [] if e.get("url") == name]


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
    if not match:
        return None  # a year or year-month only: no day to record
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


_GRAM_UNITS = {"g", "gram", "grams", "gm"}
_INFUSION_UNITS = {"vs", "visit", "visits", "infusion", "infusions"}


def _quantity_kind(quantity: Mapping[str, Any]) -> str | None:
    unit = str(quantity.get("unit") or "").strip().lower()
    code = str(quantity.get("code") or "").strip().lower()
    system = quantity.get("system")
    if unit in _GRAM_UNITS or (code == "g" and system in (UCUM, None)):
        return "grams"
    if unit in _INFUSION_UNITS or code == "vs":
        return "infusions"
    return None


def _authorised_quantities(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in response.get("item") or []:
        for detail in _extensions(item, EXT_ITEM_AUTHORIZED_DETAIL):
            for sub in _sub(detail, "quantity"):
                if isinstance(sub.get("valueQuantity"), Mapping):
                    found.append(sub["valueQuantity"])
    for add in response.get("addItem") or []:
        if isinstance(add.get("quantity"), Mapping):
            found.append(add["quantity"])
    return found


def _matches(response: Mapping[str, Any], bundle: Mapping[str, Any], request_id: int) -> bool | None:
    """Whether the ClaimResponse answers request ``request_id``; None when it does not say which."""
    claim_id = str(uuid.uuid5(_NAMESPACE, f"request/{request_id}/claim"))
    ours = {"system": REQUEST_SYSTEM, "value": str(request_id)}
    request = response.get("request") or {}
    said = False
    reference = request.get("reference")
    if reference:
        said = True
        if reference in (f"urn:uuid:{claim_id}", f"Claim/{claim_id}") or reference.endswith(
            f"/Claim/{claim_id}"
        ):
            return True
        # the answer may carry the Claim it answers: compare that Claim's identifier
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            if entry.get("fullUrl") == reference and resource.get("resourceType") == "Claim":
                return any(
                    i.get("system") == ours["system"] and i.get("value") == ours["value"]
                    for i in resource.get("identifier") or []
                )
    identifier = request.get("identifier")
    if identifier:
        said = True
        if identifier.get("system") == ours["system"] and identifier.get("value") == ours["value"]:
            return True
    # PAS asks the payer to echo the request's identifier on the ClaimResponse
    for ident in response.get("identifier") or []:
        if ident.get("system") == ours["system"]:
            said = True
            if ident.get("value") == ours["value"]:
                return True
    return False if said else None


def _combine(outcomes: Sequence[Outcome]) -> Outcome:
    kinds = set(outcomes)
    if "pended" in kinds:
        return "pended"
    if len(kinds) == 1:
        return outcomes[0]
    return "partially_approved"


def read_response(bundle: Mapping[str, Any], *, request_id: int) -> PayerDecision:
    """The payer's decision in a PAS response Bundle that answers request ``request_id``.

    Refused with :class:`PasError`: an invalid Bundle, one without a ClaimResponse, an answer to another
    request (or one that does not say which request it answers), a rejected submission
    (``outcome = error``), and an answer whose decision cannot be read. See the module docstring for the
    mapping."""
    validate_bundle(bundle)
    responses = [
        entry["resource"]
        for entry in bundle.get("entry") or []
        if (entry.get("resource") or {}).get("resourceType") == "ClaimResponse"
    ]
    if not responses:
        raise PasError("The Bundle holds no ClaimResponse.")
    if len(responses) > 1:
        raise PasError("The Bundle holds more than one ClaimResponse; import them one at a time.")
    response = responses[0]
    if response.get("use") != "preauthorization":
        raise PasError(f"The ClaimResponse is for use {response.get('use')!r}, not a prior authorisation.")
    matched = _matches(response, bundle, request_id)
    if matched is None:
        raise PasError("The ClaimResponse does not say which request it answers (no request reference).")
    if not matched:
        raise PasError(f"This ClaimResponse answers another request, not request {request_id}.")

    notes = [str(n["text"]) for n in response.get("processNote") or [] if n.get("text")]
    if response.get("outcome") == "error":
        errors = [_concept_words(e.get("code")) for e in response.get("error") or []]
        detail = "; ".join([e for e in errors if e] + notes) or "no reason given"
        raise PasError(f"The payer rejected the submission (outcome 'error'): {detail}.")

    outcomes: list[Outcome] = []
    reasons: list[str] = []
    numbers: list[str] = []
    for _, action in _review_actions(response):
        code = _action_code(action)
        if code is None:
            continue
        if code in NOT_A_DECISION:
            raise PasError(f"The answer is no decision to record: {NOT_A_DECISION[code]}.")
        if code not in REVIEW_ACTIONS:
            raise PasError(f"The review action code {code!r} is not one igflow knows how to record.")
        outcomes.append(REVIEW_ACTIONS[code])
        if code == "CT":
            reasons.append("The payer asks to be contacted (X12 action CT, Contact payer)")
        for sub in _sub(action, "reasonCode"):
            words = _concept_words(sub.get("valueCodeableConcept"))
            if words:
                reasons.append(words)
        for sub in _sub(action, "number"):
            if sub.get("valueString"):
                numbers.append(str(sub["valueString"]))
    if not outcomes:
        if response.get("outcome") == "queued":
            outcomes.append("pended")
        else:
            raise PasError(
                "The ClaimResponse carries no review action (X12 HCR01 code) on its items, so whether "
                "the request was approved or denied cannot be read from it."
            )
    outcome = _combine(outcomes)

    pre_auth = response.get("preAuthRef")  # R4: one string (lists accepted too)
    refs = [str(r) for r in ([pre_auth] if isinstance(pre_auth, str) else pre_auth or []) if r]
    if not refs:
        refs = numbers
    if not refs:
        for item in response.get("item") or []:
            refs.extend(
                str(e["valueString"])
                for e in _extensions(item, EXT_ADMINISTRATION_REFERENCE)
                if e.get("valueString")
            )
    payer_reference = ", ".join(dict.fromkeys(refs))

    reason_parts = []
    if response.get("disposition"):
        reason_parts.append(str(response["disposition"]))
    reason_parts.extend(reasons)
    reason_parts.extend(notes)
    reason = "; ".join(dict.fromkeys(p.strip() for p in reason_parts if p.strip()))

    grams: float | None = None
    infusions: int | None = None
    for quantity in _authorised_quantities(response):
        value = quantity.get("value")
        if not isinstance(value, int | float):
            continue
        kind = _quantity_kind(quantity)
        if kind == "grams":
            grams = (grams or 0.0) + float(value)
        elif kind == "infusions" and float(value).is_integer():
            infusions = (infusions or 0) + int(value)

    period = response.get("preAuthPeriod") or {}
    start, end = _date(period.get("start")), _date(period.get("end"))
    if start is None and end is None:
        for item in response.get("item") or []:
            for ext in _extensions(item, EXT_ITEM_PREAUTH_PERIOD):
                item_period = ext.get("valuePeriod") or {}
                s, e = _date(item_period.get("start")), _date(item_period.get("end"))
                start = min(filter(None, (start, s)), default=None)
                end = max(filter(None, (end, e)), default=None)

    return PayerDecision(
        outcome=outcome,
        payer_reference=payer_reference,
        reason=reason,
        grams=grams,
        infusions=infusions,
        start_date=start,
        end_date=end,
    )
