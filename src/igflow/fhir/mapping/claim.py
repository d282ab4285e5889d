"""Claim: a prior-authorisation request, exactly as the Da Vinci PAS export builds it
(:func:`igflow.authorizations.pas.request_bundle`), served on its own.

The PAS request Bundle carries the Claim with references to the other resources of the Bundle
(``urn:uuid:...``). Served here, those references point at this server's own resources instead (the
patient, the coverage, the payer ``payer-N``, the organisation ``org-N``, the prescriber and the order as
MedicationRequest); a resource this server does not serve on its own (the facility of the Bundle) keeps its
name as ``display`` only. The Claim's id is the request's id. ``meta.profile`` is dropped: the PAS profiles
describe the Bundle's resources, and this server's Patient and Coverage do not claim them. ``status``
follows the request: draft, cancelled when withdrawn, active otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.claim import Claim

from igflow.authorizations.pas import PROFILE_INSURER

#: Roles of the Bundle's resources: (resourceType, is the payer) -> role
ROLES = ("patient", "coverage", "insurer", "requestor", "practitioner", "medication-request")


def claim_status(request_status: str) -> str:
    if request_status == "draft":
        return "draft"
    return "cancelled" if request_status == "withdrawn" else "active"


def _role(resource: Mapping[str, Any]) -> str | None:
    kind = resource.get("resourceType")
    if kind == "Organization":
        profiles = (resource.get("meta") or {}).get("profile") or []
        return "insurer" if PROFILE_INSURER in profiles else "requestor"
    return {
        "Patient": "patient",
        "Coverage": "coverage",
        "Practitioner": "practitioner",
        "MedicationRequest": "medication-request",
    }.get(str(kind))


def _name(resource: Mapping[str, Any]) -> str:
    name = resource.get("name")
    if isinstance(name, str):
        return name
    return str(resource.get("resourceType", "resource"))


def _relinked(node: Any, targets: Mapping[str, dict[str, str]]) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str) and node["reference"] in targets:
            return {k: v for k, v in node.items() if k != "reference"} | targets[node["reference"]]
        return {k: _relinked(v, targets) for k, v in node.items()}
    if isinstance(node, list):
        return [_relinked(v, targets) for v in node]
    return node


def to_claim(
    bundle: Mapping[str, Any], request_id: int, request_status: str, references: Mapping[str, str]
) -> Claim:
    """``bundle``: the PAS request Bundle; ``references``: role -> this server's reference (``Patient/5``)."""
    targets: dict[str, dict[str, str]] = {}
    claim: dict[str, Any] | None = None
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Claim":
            claim = dict(resource)
            continue
        role = _role(resource)
        if role is not None and role in references:
            targets[entry["fullUrl"]] = {"reference": references[role]}
        else:
            targets[entry["fullUrl"]] = {"display": _name(resource)}
    if claim is None:
        raise ValueError("the PAS request Bundle has no Claim")
    claim.pop("meta", None)
    claim = _relinked(claim, targets)
    claim |= {"id": str(request_id), "status": claim_status(request_status)}
    return Claim.model_validate(claim)
