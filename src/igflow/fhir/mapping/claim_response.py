"""ClaimResponse: the payer's decision on a prior-authorisation request, as igflow recorded it, in the shape
the PAS import reads (:func:`igflow.authorizations.pas.read_response` reads this resource back to the same
decision).

Served once the request has an answer (pended, approved, partially approved, denied, or the appeal's
decision). The decision is PAS's ``reviewAction`` on the item's adjudication with the X12 action code
(approved A1, partially approved A2, denied A3, pended A4: :data:`igflow.authorizations.pas.REVIEW_ACTIONS`
read the other way); the payer's reference is ``preAuthRef``; the authorised grams and infusions are the
item's ``itemAuthorizedDetail`` quantities, and the authorised dates ``preAuthPeriod``. The reason is
``disposition``. Its id is the request's id, and ``request`` names the Claim of the same id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse

from igflow.authorizations.pas import (
    CLAIM_TYPE,
    EXT_ITEM_AUTHORIZED_DETAIL,
    EXT_REVIEW_ACTION,
    EXT_REVIEW_ACTION_CODE,
    REQUEST_SYSTEM,
    REVIEW_ACTION_LABEL,
    UCUM,
    X12_REVIEW_ACTION,
)
from igflow.fhir.mapping.common import instant, pruned, ref

#: igflow request status -> X12 review action code
ACTION_OF_STATUS = {
    "pended": "A4",
    "approved": "A1",
    "partially_approved": "A2",
    "denied": "A3",
    "appeal_approved": "A1",
    "appeal_denied": "A3",
}
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"


def _quantities(grams: float | None, infusions: int | None) -> list[dict[str, Any]]:
    out = []
    if grams is not None:
        out.append(
            {"url": "quantity", "valueQuantity": {"value": grams, "unit": "g", "system": UCUM, "code": "g"}}
        )
    if infusions is not None:
        out.append({"url": "quantity", "valueQuantity": {"value": infusions, "unit": "infusions"}})
    return out


def to_claim_response(
    decision: Mapping[str, Any], *, insurer: Mapping[str, str], answered_at: dt.datetime
) -> ClaimResponse:
    """``decision``: the request's id, patient_id, status, payer_reference, decision_reason, authorised_grams,
    authorised_infusions, start_date and end_date; ``insurer``: the payer's reference."""
    code = ACTION_OF_STATUS[decision["status"]]
    review = {
        "url": EXT_REVIEW_ACTION,
        "extension": [
            {
                "url": EXT_REVIEW_ACTION_CODE,
                "valueCodeableConcept": {
                    "coding": [
                        {"system": X12_REVIEW_ACTION, "code": code, "display": REVIEW_ACTION_LABEL[code]}
                    ]
                },
            }
        ],
    }
    detail = _quantities(decision.get("authorised_grams"), decision.get("authorised_infusions"))
    period = {
        "start": decision.get("start_date").isoformat() if decision.get("start_date") else None,
        "end": decision.get("end_date").isoformat() if decision.get("end_date") else None,
    }
    return ClaimResponse.model_validate(
        pruned(
            {
                "resourceType": "ClaimResponse",
                "id": str(decision["id"]),
                "identifier": [{"system": REQUEST_SYSTEM, "value": str(decision["id"])}],
                "status": "active",
                "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
                "use": "preauthorization",
                "patient": ref("Patient", decision["patient_id"]),
                "created": instant(answered_at),
                "insurer": dict(insurer),
                "request": ref("Claim", decision["id"]),
                "outcome": "queued" if code == "A4" else "complete",
                "disposition": decision.get("decision_reason") or None,
                "preAuthRef": decision.get("payer_reference") or None,
                "preAuthPeriod": period,
                "item": [
                    {
                        "itemSequence": 1,
                        "extension": [{"url": EXT_ITEM_AUTHORIZED_DETAIL, "extension": detail}]
                        if detail
                        else [],
                        "adjudication": [
                            {
                                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                                "extension": [review],
                            }
                        ],
                    }
                ],
            }
        )
    )
