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
    412: "conflict",
    422: "invalid",
    428: "required",
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


def etag(version_id: str) -> str:
    return f'W/"{version_id}"'


def history(base: str, resource_type: str, ident: str, items: Sequence[Item], now: dt.datetime) -> Bundle:
    """A history Bundle of one resource, newest version first: version 1 was its creation (POST), every
    later one an update (PUT)."""
    entries = []
    for item in items:
        meta = item.resource.meta
        version = str(meta.versionId)
        entries.append(
            {
                "fullUrl": f"{base}/{resource_type}/{ident}",
                "resource": item.resource,
                "request": {
                    "method": "POST" if version == "1" else "PUT",
                    "url": resource_type if version == "1" else f"{resource_type}/{ident}",
                },
                "response": {
                    "status": "201 Created" if version == "1" else "200 OK",
                    "etag": etag(version),
                    "lastModified": meta.lastUpdated,
                },
            }
        )
    bundle: dict[str, object] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "history",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{base}/{resource_type}/{ident}/_history"}],
        "entry": entries,
    }
    if not entries:
        del bundle["entry"]
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
