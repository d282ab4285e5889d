"""The CapabilityStatement at ``GET /fhir/R4/metadata``: exactly what this server does and does not."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from igflow import __version__
from igflow.fhir.search import DEFAULT_COUNT, MAX_COUNT
from igflow.fhir.service.engine import Kind
from igflow.fhir.service.registry import KINDS

NOT_YET = (
    "Not supported yet: writes other than update of Patient and create of Observation (no create, update, "
    "patch or delete of any other type, no conditional create or update, no transaction or batch Bundles; "
    "they answer 405), history at type and system level (and _since/_at on instance history), "
    "_include/_revinclude, _sort, _summary, _elements, chained and "
    "reverse-chained parameters, search modifiers, POST _search, SMART App Launch (user and patient "
    "launch, authorization codes, refresh tokens: only Backend Services is served), every operation but "
    "Bulk Data $export, XML. $export: no _elements, _typeFilter, patient or includeAssociatedData, no POST "
    "kick-off."
)
SEARCH_RULES = (
    f"Searches page by offset: _count (default {DEFAULT_COUNT}, at most {MAX_COUNT}; more is clamped) and "
    "_offset, which the next link carries; total is exact. Unknown parameters and modifiers are refused with "
    "a 400 OperationOutcome naming them (strict handling, whatever the Prefer header asks); empty values are "
    "ignored. _id and _format (JSON only) are accepted on every type."
)
SECURITY = (
    "The same accounts, roles and site limits as the rest of igflow: an igflow API token of a service "
    "account (Authorization: Bearer), a signed-in session, or a SMART Backend Services access token "
    "(client_credentials with a private_key_jwt assertion signed RS384 or ES384 at the token endpoint in "
    "the oauth-uris extension; see .well-known/smart-configuration). Each type needs the read permission "
    "of its data; a SMART token also needs a system/ scope covering the type and interaction (v1 "
    "system/Patient.read, system/*.read; v2 system/Patient.rs, .r, .s), else 403. A user limited to some "
    "sites sees only those sites' patients and records (others are 404 and absent from searches). Every "
    "read and search of patient data is written to the audit log."
)
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SMART_SERVICE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR",
            "display": "SMART-on-FHIR",
        }
    ],
    "text": "SMART Backend Services (client_credentials, private_key_jwt)",
}


def _security(base_url: str) -> dict[str, object]:
    return {
        "extension": [
            {"url": OAUTH_URIS, "extension": [{"url": "token", "valueUri": f"{base_url}/auth/token"}]}
        ],
        "cors": False,
        "service": [SMART_SERVICE],
        "description": SECURITY,
    }


def _resource(kind: Kind) -> dict[str, object]:
    return {
        "type": kind.name,
        "documentation": kind.documentation,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "versioned" if kind.versioned else "no-version",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": [
            {"name": "_id", "type": "token", "documentation": "The resource id"},
            *({"name": p.name, "type": p.type, "documentation": p.documentation} for p in kind.params),
        ],
    }


BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
BULK_EXPORT = (
    "Bulk Data Access 2.0 $export at system (/$export), patient (/Patient/$export) and group "
    "(/Group/site-N/$export: the patients of a centre) level, with Prefer: respond-async; _outputFormat "
    "application/fhir+ndjson only, _type, _since (meta.lastUpdated; types without it are exported whatever "
    "_since says). Exports exactly what the requester's searches return (permissions, scopes, site limits); "
    "a type named in _type that they may not search is a 403, without _type it is left out and named in the "
    "manifest's error file. The status URL and the files answer only the requester; files are deleted after "
    "the retention period. See docs/fhir-bulk.md."
)
#: (resource type or None for the system level) -> the operation declared there
_BULK_OPERATIONS: dict[str | None, dict[str, str]] = {
    None: {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"},
    "Patient": {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/patient-export"},
    "Group": {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/group-export"},
}


def _with_bulk_operations(resource: dict[str, object]) -> dict[str, object]:
    operation = _BULK_OPERATIONS.get(str(resource["type"]))
    if operation is not None:
        resource["operation"] = [{**operation, "documentation": BULK_EXPORT}]
    return resource


HISTORY = (
    'History: only Patient is versioned (meta.versionId and ETag W/"N" are the record\'s version; '
    "If-None-Match answers 304 on read and vread). igflow keeps the current row and an append-only change "
    "log of every field changed through it, so GET Patient/[id]/_history lists the versions rebuilt exactly "
    "from that log, newest first, and vread serves any of them; a version made without a log row (outside "
    "igflow's patient service), and every version before it, is left out (vread: 404 saying so) rather than "
    "guessed. Earlier versions show the demographics as they were; a version that changed only screening "
    "facts or preferred sites looks like the one before it. Other types keep no versions of their own "
    "(no-version)."
)
WRITES = (
    "Writes: PUT Patient/[id] changes demographics only (name, gender, birthDate, phone, email, one address "
    'as text) through igflow\'s patient service, with If-Match: W/"N" required (428 without it, 412 when '
    "stale); the change-reason extension (https://igflow.example/fhir/StructureDefinition/change-reason, "
    "valueString) or the X-Change-Reason header is required when the date of birth or gender changes; the "
    "MRN cannot change; any element igflow does not keep is a 422 naming it; no update-create. POST "
    "Observation receives an outside lab result, final only, coded with a LOINC code igflow maps (14682-9 "
    "creatinine, 29463-7 weight, 8302-2 height as measurements; 2465-3 IgG and 777-3 platelets as outcome "
    "readings where the measure applies to the patient) in the catalog's unit (no unit conversion); "
    "anything else is a 422 naming it. Writes need the igflow permission of the same write in igflow's API "
    "(patient.write; measurement.write, and outcome.write for outcome readings), the site limits apply, and "
    "a SMART token needs system/Patient.u or system/Observation.c (or .write). Appointment status from an "
    "outside scheduler is out of scope: igflow's own scheduling owns appointments, and Appointment, Slot "
    "and Schedule are read-only here."
)
_INTERACTIONS: dict[str, list[str]] = {
    "Patient": ["read", "vread", "update", "history-instance", "search-type"],
    "Observation": ["read", "create", "search-type"],
}


def _with_history_and_writes(resource: dict[str, object]) -> dict[str, object]:
    codes = _INTERACTIONS.get(str(resource["type"]))
    if codes is not None:
        resource["interaction"] = [{"code": c} for c in codes]
    if resource["type"] == "Patient":
        resource["readHistory"] = True
        resource["conditionalUpdate"] = False
    return resource


def capability_statement(base_url: str, now: dt.datetime) -> CapabilityStatement:
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": now,
            "publisher": "igflow",
            "kind": "instance",
            "software": {"name": "igflow", "version": __version__},
            "implementation": {
                "description": "igflow FHIR R4 API (read and search; Patient update, Observation create)",
                "url": base_url,
            },
            "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": f"{SEARCH_RULES} {HISTORY} {WRITES} {NOT_YET}",
                    "security": _security(base_url),
                    "resource": [
                        _with_history_and_writes(_with_bulk_operations(_resource(kind))) for kind in KINDS
                    ],
                    "operation": [{**_BULK_OPERATIONS[None], "documentation": BULK_EXPORT}],
                }
            ],
        }
    )
