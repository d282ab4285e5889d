"""Practitioner: a prescriber from the directory (NPI, name, specialty, contact)."""

from __future__ import annotations

from fhir.resources.R4B.practitioner import Practitioner

from igflow.authorizations.pas import _person_name as person_name  # the PAS export's name rule, reused
from igflow.directory.models import Prescriber
from igflow.fhir.codes import US_NPI
from igflow.fhir.mapping.common import pruned


def to_practitioner(prescriber: Prescriber) -> Practitioner:
    telecom = [{"system": "phone", "value": prescriber.phone}, {"system": "email", "value": prescriber.email}]
    return Practitioner.model_validate(
        pruned(
            {
                "resourceType": "Practitioner",
                "id": str(prescriber.id),
                "identifier": [{"system": US_NPI, "value": prescriber.npi}] if prescriber.npi else [],
                "active": prescriber.active,
                "name": [person_name(prescriber.name)],
                "telecom": [t for t in telecom if t["value"]],
                "qualification": (
                    [{"code": {"text": prescriber.specialty}}] if prescriber.specialty.strip() else []
                ),
            }
        )
    )
