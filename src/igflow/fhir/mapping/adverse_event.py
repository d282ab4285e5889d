"""AdverseEvent: an infusion reaction charted at the chair, with its CTCAE grade.

The grade goes out as the ``ctcae-grade`` extension (igflow's code system, codes 1-5, displayed with the
catalog reaction scale's label); ``severity`` is set only when that label is itself an R4 AdverseEvent
severity code (mild, moderate, severe), so no grade is mapped by a rule of this module. R4's AdverseEvent has
no note: the action taken, medications given, outcome and any chart correction are in the narrative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fhir.resources.R4B.adverseevent import AdverseEvent

from igflow.fhir.codes import ADVERSE_EVENT_SEVERITY, CTCAE_GRADE, EXT_CTCAE_GRADE
from igflow.fhir.mapping.common import JSON, correction_words, entry_time, instant, narrative, pruned, ref
from igflow.fhir.mapping.location import site_location_id
from igflow.infusions.models import ChartEntry

SEVERITY_CODES = frozenset({"mild", "moderate", "severe"})


@dataclass(frozen=True)
class ChartedReaction:
    entry: ChartEntry
    patient_id: int
    administration_id: int | None  # the infusion record, once started
    site_id: int
    corrections: Sequence[ChartEntry] = ()


def to_adverse_event(r: ChartedReaction, grade_labels: Mapping[int, str]) -> AdverseEvent:
    payload = r.entry.payload
    grade = int(payload["grade"])
    label = grade_labels.get(grade, "")
    symptoms = ", ".join(str(s) for s in payload.get("symptoms") or [])
    lines = [
        f"Infusion reaction, CTCAE grade {grade}{f' ({label})' if label else ''}: {symptoms}.",
        f"Action taken: {str(payload.get('action_taken', '')).replace('_', ' ')}.",
        f"Medications: {', '.join(payload.get('medications') or [])}." if payload.get("medications") else "",
        f"Outcome: {payload['outcome']}" if payload.get("outcome") else "",
    ]
    lines += [correction_words(c) for c in r.corrections]
    resource: JSON = {
        "resourceType": "AdverseEvent",
        "id": str(r.entry.id),
        "text": narrative(lines),
        "extension": [
            {
                "url": EXT_CTCAE_GRADE,
                "valueCodeableConcept": {
                    "coding": [{"system": CTCAE_GRADE, "code": str(grade), "display": label or None}],
                    "text": f"Grade {grade}",
                },
            }
        ],
        "actuality": "actual",
        "event": {"text": symptoms},
        "subject": ref("Patient", r.patient_id),
        "date": entry_time(r.entry),
        "recordedDate": instant(r.entry.created_at),
        "location": ref("Location", site_location_id(r.site_id)),
        "severity": (
            {"coding": [{"system": ADVERSE_EVENT_SEVERITY, "code": label}]}
            if label in SEVERITY_CODES
            else None
        ),
        "suspectEntity": (
            [{"instance": ref("MedicationAdministration", r.administration_id)}]
            if r.administration_id
            else []
        ),
    }
    return AdverseEvent.model_validate(pruned(resource))
