"""Organization: the organisation running igflow (``org-N``) and the payers of the directory (``payer-N``)."""

from __future__ import annotations

from fhir.resources.R4B.organization import Organization

from igflow.directory.models import Payer
from igflow.fhir.codes import ORGANIZATION_TYPE, PAYER_SYSTEM
from igflow.fhir.mapping.common import pruned
from igflow.sites.models import Organisation

ORG_PREFIX, PAYER_PREFIX = "org-", "payer-"


def organisation_id(organisation_id: int) -> str:
    return f"{ORG_PREFIX}{organisation_id}"


def payer_id(payer_id_: int) -> str:
    return f"{PAYER_PREFIX}{payer_id_}"


def to_organisation(organisation: Organisation) -> Organization:
    return Organization.model_validate(
        pruned(
            {
                "resourceType": "Organization",
                "id": organisation_id(organisation.id),
                "active": True,
                "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": "prov"}]}],
                "name": organisation.name,
            }
        )
    )


def to_payer(payer: Payer) -> Organization:
    return Organization.model_validate(
        pruned(
            {
                "resourceType": "Organization",
                "id": payer_id(payer.id),
                "identifier": [{"system": PAYER_SYSTEM, "value": payer.code}],
                "active": payer.active,
                "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": "pay"}]}],
                "name": payer.name,
            }
        )
    )
