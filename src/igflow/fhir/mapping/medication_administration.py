"""MedicationAdministration: an infusion record from its start, with the rates actually charted.

Status: infusing is ``in-progress``; ended, observed or signed is ``completed``; an infusion a reaction
stopped stays ``stopped`` after it is signed. A chart opened but not started is no administration yet and
is not served. The dose is the volume infused (what the nurse read off the pump). R4's dosage has one rate,
so every rate the chart holds (the plan's first rate at the start, then each rate change) is a ``rate-step``
extension with the time it was set; ``dosage.text`` says the same in words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration

from igflow.fhir.codes import EXT_RATE_STEP
from igflow.fhir.mapping.common import (
    JSON,
    MILLILITRES,
    ML_PER_HOUR,
    entry_time,
    instant,
    pruned,
    quantity,
    ref,
)
from igflow.fhir.mapping.medication_request import product_concept, route_text
from igflow.infusions.models import ChartEntry, InfusionRecord

NOT_STARTED = "checked_in"


@dataclass(frozen=True)
class RateStep:
    at: dt.datetime
    rate_ml_per_h: float


def charted_rates(entries: Sequence[ChartEntry], plan: dict[str, Any], day: dict[str, Any]) -> list[RateStep]:
    """The rates the chart holds, in order: the first at the start, then each rate change."""
    first = (
        day.get("total_rate_ml_per_h")
        if plan.get("route") == "sc"
        else (day.get("steps") or [{}])[0].get("rate_ml_per_h")
    )
    out: list[RateStep] = []
    for entry in entries:
        if entry.kind == "start" and first is not None:
            out.append(RateStep(entry_time(entry), float(first)))
        elif entry.kind == "rate_change":
            out.append(RateStep(entry_time(entry), float(entry.payload["rate_ml_per_h"])))
    return out


def administration_status(record: InfusionRecord, entries: Sequence[ChartEntry]) -> str:
    if record.status == "infusing":
        return "in-progress"
    stopped = record.status == "stopped" or any(
        e.kind == "reaction" and e.result.get("stops_infusion") for e in entries
    )
    return "stopped" if stopped else "completed"


def _step_extension(step: RateStep) -> JSON:
    return {
        "url": EXT_RATE_STEP,
        "extension": [
            {"url": "at", "valueDateTime": step.at},
            {"url": "rate", "valueQuantity": quantity(step.rate_ml_per_h, ML_PER_HOUR)},
        ],
    }


def to_medication_administration(
    record: InfusionRecord,
    entries: Sequence[ChartEntry],
    *,
    plan: dict[str, Any],
    day: dict[str, Any],
    product_name: str,
    dispense_ids: Sequence[str],
) -> MedicationAdministration:
    steps = charted_rates(entries, plan, day)
    words = [f"{s.rate_ml_per_h:g} mL/h from {s.at:%Y-%m-%d %H:%M} UTC" for s in steps]
    start = record.started_at
    period = {
        "start": instant(start) if start else None,
        "end": instant(record.ended_at) if record.ended_at else None,
    }
    dosage: JSON = {
        "text": "; ".join(words),
        "route": {"text": route_text(plan)},
        "dose": quantity(record.volume_infused_ml, MILLILITRES)
        if record.volume_infused_ml is not None
        else None,
        "extension": [_step_extension(s) for s in steps],
    }
    return MedicationAdministration.model_validate(
        pruned(
            {
                "resourceType": "MedicationAdministration",
                "id": str(record.id),
                "status": administration_status(record, entries),
                "medicationCodeableConcept": product_concept(record.product_id, product_name),
                "subject": ref("Patient", record.patient_id),
                "effectivePeriod": period,
                "request": ref("MedicationRequest", record.order_id),
                "supportingInformation": [ref("Appointment", record.appointment_id)]
                + [ref("MedicationDispense", d) for d in dispense_ids],
                "dosage": dosage,
            }
        )
    )
