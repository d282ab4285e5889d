"""The CapabilityStatement at ``GET /fhir/R4/metadata``: exactly what this server does and does not."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from igflow import __version__
from igflow.fhir.search import DEFAULT_COUNT, MAX_COUNT
from igflow.fhir.service.engine import Kind
from igflow.fhir.service.registry import KINDS

NOT_YET = (
    "Not supported yet: writes of any kind (create, update, patch, delete, transaction and batch Bundles; "
    "they answer 405), history and vread, _include/_revinclude, _sort, _summary, _elements, chained and "
    "reverse-chained parameters, search modifiers, POST _search, SMART App Launch (user and patient "
    "launch, authorization codes, refresh tokens: only Backend Services is served), Bulk Data $export and "
    "every other operation, XML."
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


def capability_statement(base_url: str, now: dt.datetime) -> CapabilityStatement:
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": now,
            "publisher": "igflow",
            "kind": "instance",
            "software": {"name": "igflow", "version": __version__},
            "implementation": {"description": "igflow FHIR R4 API (read and search)", "url": base_url},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": f"{SEARCH_RULES} {NOT_YET}",
                    "security": _security(base_url),
                    "resource": [_resource(kind) for kind in KINDS],
                }
            ],
        }
    )
