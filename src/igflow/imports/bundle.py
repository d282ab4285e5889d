"""PURE: a FHIR R4 transaction Bundle of Patient, Coverage and Observation entries into import rows.

Each entry's resource is validated with ``fhir.resources`` (R4B models, as igflow's FHIR API uses) and mapped
back the way :mod:`igflow.fhir.mapping` maps igflow's records out:

- **Patient**: the MRN is the identifier with system ``urn:igflow:mrn``; name, gender, birthDate, telecom
  (phone, email) and the first address's text (or its lines). The home site is
  ``managingOrganization.identifier`` with system ``urn:igflow:site`` and the site's code.
- **Coverage**: the patient is ``beneficiary`` (the fullUrl of a Patient entry in the same bundle,
  ``Patient?identifier=urn:igflow:mrn|MRN``, or an identifier reference); the payer is ``payor[0]``'s
  identifier with system ``urn:igflow:payer`` (or the member identifier's system
  ``urn:igflow:payer:<code>:member-id`` the export writes); member id from ``subscriberId`` or that one;
  ``order`` is the rank, ``period`` the dates, ``class`` group and plan.
- **Observation**: ``code`` must carry a coding igflow records (:mod:`igflow.fhir.codes`): LOINC 29463-7
  body weight, 8302-2 height, 14682-9 creatinine (µmol/L), 777-3 platelets, 2465-3 IgG, or igflow's own
  measure system with a measurement kind or outcome measure id. A ``valueQuantity`` with a UCUM code other
  than the one igflow records that measure in is refused (igflow does not convert units).

Errors name the entry by its index (``entry 3``, counted from 0 as ``Bundle.entry[3]``) and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle as FhirBundle
from fhir.resources.R4B.coverage import Coverage as FhirCoverage
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from igflow.coverage.schemas import CoverageIn
from igflow.fhir.codes import (
    IDENTIFIER_TYPE,
    MEASURE,
    MEASUREMENT_CODES,
    MRN_SYSTEM,
    OUTCOME_LOINC,
    PAYER_SYSTEM,
    SITE_SYSTEM,
    UCUM,
    MeasureCode,
)
from igflow.imports.columns import (
    PAYER_PLACEHOLDER,
    CoverageRow,
    MeasurementRow,
    PatientRow,
    Row,
    RowError,
)
from igflow.patients.schemas import PatientIn

RESOURCES = {"Patient": FhirPatient, "Coverage": FhirCoverage, "Observation": FhirObservation}
#: the order igflow applies the entries in (a coverage or observation may name a patient of the bundle)
ORDER = {"Patient": 0, "Coverage": 1, "Observation": 2}
_OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected"})


def _code_table() -> dict[tuple[str, str], tuple[str, MeasureCode | None]]:
    """(system, code) -> (igflow measure, its code): LOINC and igflow's own measure codes."""
    table: dict[tuple[str, str], tuple[str, MeasureCode | None]] = {}
    for kind, measure in {**MEASUREMENT_CODES, **OUTCOME_LOINC}.items():
        for code in measure.codes:
            table[(code.system, code.code)] = (kind, measure)
    return table


CODES = _code_table()


@dataclass(frozen=True)
class ParsedBundle:
    rows: list[Row]  # in ORDER, each row's ``line`` is its entry index
    errors: list[RowError]


def entry_error(index: int, resource_type: str, reason: str) -> RowError:
    return RowError(index, f"{resource_type or 'entry'}: {reason}")


def _problems(exc: ValidationError) -> str:
    out = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        out.append(f"{where}: {error.get('msg', 'not valid')}" if where else str(error.get("msg")))
    more = len(exc.errors()) - 5
    return "; ".join(out) + (f"; and {more} more" if more > 0 else "")


def _identifier(identifiers: list[Any] | None, system: str) -> str | None:
    for ident in identifiers or []:
        if ident.system == system and ident.value:
            return str(ident.value).strip()
    return None


def _patient_ref(reference: Any, mrn_by_url: dict[str, str]) -> str | None:
    """The MRN a reference names: an entry of the bundle, a conditional reference, or an identifier."""
    if reference is None:
        return None
    if reference.reference:
        ref = str(reference.reference)
        if ref in mrn_by_url:
            return mrn_by_url[ref]
        prefix = f"Patient?identifier={MRN_SYSTEM}|"
        if ref.startswith(prefix):
            return ref.removeprefix(prefix).upper()
    if reference.identifier is not None and reference.identifier.system == MRN_SYSTEM:
        return str(reference.identifier.value or "").upper() or None
    return None


_REF_WORDS = (
    "name the patient by the fullUrl of a Patient entry in this bundle, by "
    f"'Patient?identifier={MRN_SYSTEM}|<MRN>', or by an identifier with system {MRN_SYSTEM}"
)


def _patient(index: int, res: FhirPatient) -> Row | RowError:
    mrn = _identifier(res.identifier, MRN_SYSTEM)
    if not mrn:
        return entry_error(index, "Patient", f"has no MRN: an identifier with system {MRN_SYSTEM}")
    org = res.managingOrganization
    site = org.identifier.value if org is not None and org.identifier is not None else None
    if not site or org is None or org.identifier is None or org.identifier.system != SITE_SYSTEM:
        return entry_error(
            index,
            "Patient",
            f"names no home site: give managingOrganization.identifier with system {SITE_SYSTEM} and the "
            "site's code",
        )
    name = (res.name or [None])[0]
    telecom = {t.system: t.value for t in reversed(res.telecom or []) if t.value}
    address = (res.address or [None])[0]
    address_text = ""
    if address is not None:
        address_text = address.text or ", ".join(
            [*(address.line or []), address.city or "", address.state or ""]
        )
    values = {
        "mrn": mrn.upper(),
        "family_name": (name.family if name else None) or "",
        "given_name": " ".join(name.given or []) if name else "",
        "date_of_birth": res.birthDate,
        "sex": res.gender or "unknown",
        "phone": telecom.get("phone", ""),
        "email": telecom.get("email", ""),
        "address": address_text.strip(", "),
    }
    try:
        return PatientRow(index, PatientIn.model_validate(values), str(site).lower())
    except ValidationError as exc:
        return entry_error(index, "Patient", _problems(exc))


def _payer_code(res: FhirCoverage) -> str | None:
    for payor in res.payor or []:
        code = payor.identifier.value if payor.identifier is not None else None
        if code and payor.identifier is not None and payor.identifier.system == PAYER_SYSTEM:
            return str(code).lower()
    for ident in res.identifier or []:
        system = str(ident.system or "")
        if system.startswith(f"{PAYER_SYSTEM}:") and system.endswith(":member-id"):
            return system.removeprefix(f"{PAYER_SYSTEM}:").removesuffix(":member-id").lower()
    return None


def _member_id(res: FhirCoverage) -> str | None:
    if res.subscriberId:
        return str(res.subscriberId).strip()
    for ident in res.identifier or []:
        codes = {c.code for c in (ident.type.coding if ident.type else []) if c.system == IDENTIFIER_TYPE}
        if "MB" in codes and ident.value:
            return str(ident.value).strip()
    return None


def _coverage(index: int, res: FhirCoverage, mrn_by_url: dict[str, str]) -> Row | RowError:
    if res.status != "active":
        return entry_error(index, "Coverage", f"status is '{res.status}'; only active coverages are imported")
    mrn = _patient_ref(res.beneficiary, mrn_by_url)
    if not mrn:
        return entry_error(index, "Coverage", f"beneficiary: {_REF_WORDS}")
    payer = _payer_code(res)
    if not payer:
        return entry_error(
            index, "Coverage", f"names no payer: give payor with an identifier of system {PAYER_SYSTEM}"
        )
    classes = {}
    for cls in getattr(res, "class_fhir", None) or []:
        kinds = {c.code for c in (cls.type.coding or [])}
        for kind in kinds & {"group", "plan"}:
            classes[kind] = (cls.value, cls.name)
    group = classes.get("group")
    plan = classes.get("plan")
    values = {
        "payer_id": PAYER_PLACEHOLDER,
        "member_id": _member_id(res) or "",
        "group_number": group[0] if group else "",
        "plan_name": (plan[0] if plan else None) or (group[1] if group and group[1] else ""),
        "rank": res.order or 1,
        "effective_from": _day(res.period.start) if res.period else None,
        "effective_to": _day(res.period.end) if res.period else None,
    }
    try:
        return CoverageRow(index, mrn, payer, CoverageIn.model_validate(values))
    except ValidationError as exc:
        return entry_error(index, "Coverage", _problems(exc))


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _observation(index: int, res: FhirObservation, mrn_by_url: dict[str, str]) -> Row | RowError:
    if res.status not in _OBSERVATION_STATUSES:
        return entry_error(index, "Observation", f"status is '{res.status}'; import final results only")
    codings = list(res.code.coding or []) if res.code else []
    found = None
    for coding in codings:
        key = (str(coding.system or ""), str(coding.code or ""))
        if key in CODES:
            found = CODES[key]
            break
        if key[0] == MEASURE and key[1]:
            found = (key[1], MEASUREMENT_CODES.get(key[1]))  # an igflow code; the service knows the measures
            break
    if found is None:
        said = ", ".join(f"{c.system}|{c.code}" for c in codings) or "no coding"
        return entry_error(index, "Observation", f"code {said} is not a measure igflow records")
    kind, measure = found
    mrn = _patient_ref(res.subject, mrn_by_url)
    if not mrn:
        return entry_error(index, "Observation", f"subject: {_REF_WORDS}")
    quantity = res.valueQuantity
    if quantity is None or quantity.value is None:
        return entry_error(index, "Observation", "has no valueQuantity with a value")
    unit = measure.unit if measure else None
    if (
        unit is not None
        and quantity.code
        and (quantity.system in (None, UCUM))
        and quantity.code != unit.code
    ):
        return entry_error(
            index,
            "Observation",
            f"unit '{quantity.code}' is not the unit igflow records {kind} in ('{unit.code}')",
        )
    measured = _day(res.effectiveDateTime) or (
        _day(res.effectivePeriod.start) if res.effectivePeriod else None
    )
    if measured is None:
        return entry_error(index, "Observation", "has no effectiveDateTime: say when it was measured")
    note = " ".join(n.text for n in (res.note or []) if n.text)[:400]
    return MeasurementRow(index, mrn, kind, float(quantity.value), measured, note, "review")


def parse_bundle(text: str | bytes) -> ParsedBundle:
    """The bundle's rows (patients first, then coverages, then observations) and every bad entry."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return ParsedBundle([], [RowError(0, f"the file is not JSON: {exc}")])
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        return ParsedBundle(
            [], [RowError(0, "the file is not a FHIR Bundle (resourceType must be 'Bundle')")]
        )
    if raw.get("type") != "transaction":
        return ParsedBundle(
            [], [RowError(0, f"the Bundle's type is '{raw.get('type')}'; send a transaction Bundle")]
        )
    entries = raw.get("entry") or []
    if not isinstance(entries, list):
        return ParsedBundle([], [RowError(0, "Bundle.entry must be a list")])
    envelope = {
        **raw,
        "entry": [{k: v for k, v in e.items() if k != "resource"} for e in entries if isinstance(e, dict)],
    }
    try:  # the Bundle itself (type, fullUrls, requests); each resource is validated on its own below
        FhirBundle.model_validate(envelope)
    except ValidationError as exc:
        return ParsedBundle([], [RowError(0, f"not a valid FHIR Bundle: {_problems(exc)}")])
    errors: list[RowError] = []
    parsed: list[tuple[int, str, Any]] = []
    mrn_by_url: dict[str, str] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in RESOURCES:
            errors.append(
                entry_error(index, str(kind or ""), "only Patient, Coverage and Observation are imported")
            )
            continue
        method = ((entry.get("request") or {}).get("method") or "").upper()
        if method not in ("POST", "PUT"):
            errors.append(
                entry_error(index, kind, "request.method must be POST (or PUT) to create the record")
            )
            continue
        try:
            res = RESOURCES[kind].model_validate(resource)
        except ValidationError as exc:
            errors.append(entry_error(index, kind, f"not a valid FHIR {kind}: {_problems(exc)}"))
            continue
        parsed.append((index, kind, res))
        if kind == "Patient" and entry.get("fullUrl"):
            mrn = _identifier(res.identifier, MRN_SYSTEM)
            if mrn:
                mrn_by_url[str(entry["fullUrl"])] = mrn.upper()
    rows: list[Row] = []
    for index, kind, res in sorted(parsed, key=lambda p: (ORDER[p[1]], p[0])):
        if kind == "Patient":
            out = _patient(index, res)
        elif kind == "Coverage":
            out = _coverage(index, res, mrn_by_url)
        else:
            out = _observation(index, res, mrn_by_url)
        (errors.append if isinstance(out, RowError) else rows.append)(out)  # type: ignore[arg-type]
    errors.sort(key=lambda e: e.line)
    return ParsedBundle(rows, errors)
