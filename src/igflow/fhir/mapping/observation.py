"""Observation: a patient measurement (``measurement-N``), an outcome reading (``outcome-N``) and each vital
sign of a vitals entry charted at the chair (``vitals-N-heart-rate`` ...; blood pressure is one panel
Observation, 85354-9, with systolic and diastolic components).

Corrections (igflow never overwrites): a measurement or reading that a later row corrects is
``entered-in-error`` and names its correction in a note; the correcting row is ``corrected`` and names the
one it replaces. A vitals entry that a chart correction names is ``amended``, with the correction's words
and reason as a note (a chart correction is free text: the charted value stays as it was).
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir.resources.R4B.observation import Observation

from igflow.catalog.models import Measure
from igflow.fhir.codes import (
    MEASURE,
    MEASUREMENT_CODES,
    OBSERVATION_CATEGORY,
    OUTCOME_LOINC,
    OUTCOME_UNITS,
    READING_METHOD,
    SURVEY,
    VITAL_SIGNS,
    Code,
    MeasureCode,
    Unit,
    VitalSign,
    local,
)
from igflow.fhir.mapping.common import (
    JSON,
    concept,
    correction_words,
    entry_time,
    instant,
    pruned,
    quantity,
    ref,
)
from igflow.infusions.models import ChartEntry
from igflow.outcomes.models import OutcomeReading
from igflow.patients.models import Measurement

MEASUREMENT, OUTCOME, VITALS = "measurement", "outcome", "vitals"


def measurement_id(ident: int) -> str:
    return f"{MEASUREMENT}-{ident}"


def outcome_id(ident: int) -> str:
    return f"{OUTCOME}-{ident}"


def vitals_id(entry_id: int, slug: str) -> str:
    return f"{VITALS}-{entry_id}-{slug}"


def _category(code: str) -> list[JSON]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": code}]}]


def _status(corrected_by: int | None, corrects: int | None) -> str:
    if corrected_by is not None:
        return "entered-in-error"
    return "corrected" if corrects is not None else "final"


def _correction_notes(kind_id: str, corrected_by: int | None, corrects: int | None) -> list[JSON]:
    notes = []
    if corrected_by is not None:
        notes.append({"text": f"Corrected by Observation/{kind_id}-{corrected_by}."})
    if corrects is not None:
        notes.append({"text": f"Corrects Observation/{kind_id}-{corrects}."})
    return notes


def measurement_code(kind: str, label: str, unit_text: str) -> MeasureCode:
    """The kind's code; a kind added to measurement_kinds.yaml later goes out under the local system."""
    return MEASUREMENT_CODES.get(kind) or MeasureCode(
        (local(kind, label),), "exam", Unit(unit_text, unit_text)
    )


def to_measurement_observation(
    m: Measurement, *, label: str, unit_text: str, corrected_by: int | None
) -> Observation:
    code = measurement_code(m.kind, label, unit_text)
    notes = [{"text": m.note}] if m.note else []
    return Observation.model_validate(
        pruned(
            {
                "resourceType": "Observation",
                "id": measurement_id(m.id),
                "status": _status(corrected_by, m.amends_id),
                "category": _category(code.category),
                "code": concept(code.codes, label),
                "subject": ref("Patient", m.patient_id),
                "effectiveDateTime": m.measured_on,
                "issued": instant(m.recorded_at),
                "valueQuantity": quantity(m.value, code.unit),
                "note": notes + _correction_notes(MEASUREMENT, corrected_by, m.amends_id),
            }
        )
    )


def outcome_code(measure_id: str, measure: Measure | None) -> MeasureCode:
    name = measure.name if measure else measure_id
    if measure_id in OUTCOME_LOINC:
        return OUTCOME_LOINC[measure_id]
    unit_text = measure.unit if measure else ""
    unit = OUTCOME_UNITS.get(unit_text)
    return MeasureCode((Code(MEASURE, measure_id, name),), SURVEY, unit)


def to_outcome_observation(
    r: OutcomeReading, *, measure: Measure | None, corrected_by: int | None
) -> Observation:
    code = outcome_code(r.measure_id, measure)
    name = measure.name if measure else r.measure_id
    unit_text = measure.unit if measure else None
    part_names = {p.id: p.name for p in measure.parts} if measure else {}
    components = [
        {
            "code": concept([Code(MEASURE, f"{r.measure_id}.{part}", part_names.get(part, part))]),
            "valueQuantity": quantity(value, code.unit, unit_text),
        }
        for part, value in sorted((r.parts or {}).items())
    ]
    notes = [{"text": r.note}] if r.note else []
    return Observation.model_validate(
        pruned(
            {
                "resourceType": "Observation",
                "id": outcome_id(r.id),
                "status": _status(corrected_by, r.amends_id),
                "category": _category(code.category),
                "code": concept(code.codes, name),
                "subject": ref("Patient", r.patient_id),
                "effectiveDateTime": r.measured_on,
                "issued": instant(r.recorded_at),
                "valueQuantity": quantity(r.value, code.unit, unit_text),
                "method": {"coding": [{"system": READING_METHOD, "code": r.method}]},
                "component": components,
                "note": notes + _correction_notes(OUTCOME, corrected_by, r.amends_id),
            }
        )
    )


@dataclass(frozen=True)
class ChartedVitals:
    """A vitals entry with what the mapping needs beside it."""

    entry: ChartEntry
    patient_id: int
    administration_id: int | None  # the infusion record, once started (a chart not started is none)
    corrections: tuple[ChartEntry, ...] = ()


def to_vital_observation(v: ChartedVitals, sign: VitalSign) -> Observation:
    payload = v.entry.payload
    resource: JSON = {
        "resourceType": "Observation",
        "id": vitals_id(v.entry.id, sign.slug),
        "status": "amended" if v.corrections else "final",
        "category": _category(VITAL_SIGNS),
        "code": concept(sign.codes),
        "subject": ref("Patient", v.patient_id),
        "effectiveDateTime": entry_time(v.entry),
        "issued": instant(v.entry.created_at),
        "partOf": [ref("MedicationAdministration", v.administration_id)] if v.administration_id else [],
        "note": [{"text": correction_words(c)} for c in v.corrections],
    }
    if sign.payload_key is not None:
        resource["valueQuantity"] = quantity(float(payload[sign.payload_key]), sign.unit)
    else:
        resource["component"] = [
            {"code": concept([code]), "valueQuantity": quantity(float(payload[key]), unit)}
            for code, key, unit in sign.components
            if payload.get(key) is not None
        ]
    return Observation.model_validate(pruned(resource))
