"""The searchset Bundle a search answers with, and the OperationOutcome every error is."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from igflow.fhir.search import Params, page_links
from igflow.fhir.service.engine import Item

#: HTTP status -> R4 IssueType code.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    422: "invalid",
}


def searchset(base: str, params: Params, total: int, items: Sequence[Item], now: dt.datetime) -> Bundle:
    """``base`` is the server's FHIR base (``http://host/fhir/R4``)."""
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "searchset",
        "total": total,
        "link": page_links(f"{base}/{params.resource_type}", params, total),
        "entry": [
            {
                "fullUrl": f"{base}/{item.resource.get_resource_type()}/{item.resource.id}",
                "resource": item.resource,
                "search": {"mode": "match"},
            }
            for item in items
        ],
    }
    if not items:
        del bundle["entry"]  # FHIR has no empty lists
    return Bundle.model_validate(bundle)


def operation_outcome(status: int, message: str, field: str | None = None) -> OperationOutcome:
    issue: dict[str, object] = {
        "severity": "error",
        "code": ISSUE_CODES.get(status, "processing"),
        "details": {"text": message},
        "diagnostics": message,
    }
    if field:
        issue["location"] = [field]  # the parameter at fault (R4 location: a simple path)
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]})
