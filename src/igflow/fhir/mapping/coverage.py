"""Coverage: a patient's insurance (payer, member, group or plan, rank, dates).

Cost sharing (copay, coinsurance, out-of-pocket maximum) and copay assistance are not sent: igflow keeps
money in cents without a currency, and FHIR Money needs one.
"""

from __future__ import annotations

from fhir.resources.R4B.coverage import Coverage as FhirCoverage

from igflow.directory.models import Payer
from igflow.fhir.codes import COVERAGE_CLASS, IDENTIFIER_TYPE, PAYER_SYSTEM
from igflow.fhir.mapping.common import pruned, ref
from igflow.fhir.mapping.organization import payer_id
from igflow.patients.models import Coverage


def _classes(coverage: Coverage) -> list[dict[str, object]]:
    if coverage.group_number:
        return [
            {
                "type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]},
                "value": coverage.group_number,
                "name": coverage.plan_name,
            }
        ]
    if coverage.plan_name:
        return [
            {"type": {"coding": [{"system": COVERAGE_CLASS, "code": "plan"}]}, "value": coverage.plan_name}
        ]
    return []


def to_coverage(coverage: Coverage, payer: Payer) -> FhirCoverage:
    member_system = f"{PAYER_SYSTEM}:{payer.code}:member-id"  # as the PAS export writes it
    period = {"start": coverage.effective_from, "end": coverage.effective_to}
    return FhirCoverage.model_validate(
        pruned(
            {
                "resourceType": "Coverage",
                "id": str(coverage.id),
                "identifier": [
                    {
                        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MB"}]},
                        "system": member_system,
                        "value": coverage.member_id,
                    }
                ],
                "status": "active" if coverage.active else "cancelled",
                "subscriberId": coverage.member_id,
                "beneficiary": ref("Patient", coverage.patient_id),
                "period": period if any(period.values()) else None,
                "payor": [ref("Organization", payer_id(payer.id), payer.name)],
                "class": _classes(coverage),
                "order": coverage.rank,
            }
        )
    )
