"""MedicationRequest: an order, with the dosage of its plan version that a pharmacist verified.

Each day of the verified plan is one Dosage (``sequence`` = the day): the grams dispensed as the dose, and
the plan's rate steps as ``doseAndRate`` entries, each with its start and length in the ``plan-rate-step``
extension (FHIR R4 has one rate per dose and no titration structure). The regimen's interval between cycles
is the dosage's timing. An order without a currently verified plan (pending, rejected, or out of date after
a new weight) has no dosage and a note saying so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest

from igflow.fhir.codes import EXT_PLAN_STEP, EXT_PLAN_VERSION, INDICATION, PRODUCT, Code
from igflow.fhir.mapping.common import (
    GRAMS,
    JSON,
    MINUTES,
    ML_PER_HOUR,
    concept,
    instant,
    pruned,
    quantity,
    ref,
)
from igflow.orders.models import Order

STATUSES = {"active": "active", "discontinued": "stopped"}


@dataclass(frozen=True)
class VerifiedPlan:
    """The plan version in force and when it was verified."""

    version: int
    plan: dict[str, Any]
    verified_at: dt.datetime


def product_concept(product_id: str, product_name: str) -> JSON:
    return concept([Code(PRODUCT, product_id, product_name)], product_name)


def route_text(plan: dict[str, Any]) -> str:
    return "subcutaneous" if plan.get("route") == "sc" else "intravenous"


def _timing(plan: dict[str, Any]) -> JSON | None:
    weeks = ((plan.get("regimen") or {}).get("interval_weeks")) or []
    if not weeks:
        return None
    repeat: JSON = {"period": weeks[0], "periodUnit": "wk"}
    if len(weeks) > 1 and weeks[-1] != weeks[0]:
        repeat["periodMax"] = weeks[-1]
    return {"repeat": repeat}


def _step(step: dict[str, Any]) -> JSON:
    return {
        "extension": [
            {
                "url": EXT_PLAN_STEP,
                "extension": [
                    {"url": "start", "valueDuration": quantity(float(step["start_min"]), MINUTES)},
                    {"url": "duration", "valueDuration": quantity(float(step["minutes"]), MINUTES)},
                ],
            }
        ],
        "rateQuantity": quantity(float(step["rate_ml_per_h"]), ML_PER_HOUR),
    }


def _dosage(plan: dict[str, Any], day: dict[str, Any]) -> JSON:
    grams = day.get("dispensed_g") or day.get("prescribed_g")
    steps = day.get("steps") or []
    rates = " → ".join(f"{float(s['rate_ml_per_h']):g}" for s in steps)
    words = [f"Day {day['day']}"]
    if grams is not None:
        words.append(f"{float(grams):g} g")
    if day.get("volume_ml"):
        words.append(f"{float(day['volume_ml']):g} mL")
    if rates:
        words.append(f"rate steps {rates} mL/h")
    elif day.get("total_rate_ml_per_h"):
        words.append(f"up to {float(day['total_rate_ml_per_h']):g} mL/h in all")
    dose_and_rate: list[JSON] = [{"doseQuantity": quantity(float(grams), GRAMS)}] if grams is not None else []
    dose_and_rate += [_step(s) for s in steps]
    if not steps and day.get("total_rate_ml_per_h"):
        dose_and_rate.append({"rateQuantity": quantity(float(day["total_rate_ml_per_h"]), ML_PER_HOUR)})
    return {
        "sequence": int(day["day"]),
        "text": ", ".join(words),
        "timing": _timing(plan),
        "route": {"text": route_text(plan)},
        "doseAndRate": dose_and_rate,
    }


def to_medication_request(
    order: Order,
    *,
    product_name: str,
    indication_name: str,
    verified: VerifiedPlan | None,
) -> MedicationRequest:
    resource: JSON = {
        "resourceType": "MedicationRequest",
        "id": str(order.id),
        "status": STATUSES.get(order.status, "unknown"),
        "intent": "order",
        "medicationCodeableConcept": product_concept(order.product_id, product_name),
        "subject": ref("Patient", order.patient_id),
        "authoredOn": instant(order.created_at),
        "requester": ref("Practitioner", order.prescriber_id),
        "reasonCode": [concept([Code(INDICATION, order.indication_id, indication_name)], indication_name)],
        "note": [{"text": order.notes}] if order.notes else [],
    }
    if verified is None:
        resource["note"].append({"text": "No dose plan version is verified for this order now."})
    else:
        plan = verified.plan
        resource["extension"] = [
            {
                "url": EXT_PLAN_VERSION,
                "extension": [
                    {"url": "version", "valueInteger": verified.version},
                    {"url": "verified", "valueDateTime": instant(verified.verified_at)},
                ],
            }
        ]
        resource["dosageInstruction"] = [_dosage(plan, day) for day in plan.get("days") or []]
        if plan.get("dispensed_g") is not None:
            resource["dispenseRequest"] = {"quantity": quantity(float(plan["dispensed_g"]), GRAMS)}
    return MedicationRequest.model_validate(pruned(resource))
