"""Group: the patients of one centre (``Group/site-N``), the unit a Bulk Data group-level ``$export`` names.

A Group is not a record igflow keeps: it is the centre's patient list, derived from the sites each patient
is seen at (``patient_site``), as of the moment it is read. A group is ``actual`` (it names its members),
of ``type`` person, with a characteristic saying which centre (``Location/site-N``) and one member per
patient. The requester sees only the groups of their own sites (a user limited to North gets a 404 for
``Group/site-<South>``), and only the members they may see. Reading a group needs the permission to list
patients (``patient.list``), as its members are that list.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.group import Group
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.fhir.codes import SITE_SYSTEM
from igflow.fhir.mapping.common import ref
from igflow.fhir.mapping.location import SITE_PREFIX, site_location_id
from igflow.fhir.search import Params, prefixed_id
from igflow.fhir.service.engine import Item, Source, ids_filter
from igflow.patients.models import Patient, PatientSite
from igflow.security import scope
from igflow.security.principal import Principal
from igflow.sites.models import Site


def group_id(site_id: int) -> str:
    return f"{SITE_PREFIX}{site_id}"


def site_of_group(ident: str) -> int | None:
    """The site id of ``site-N``, or None."""
    return prefixed_id(ident, SITE_PREFIX)


def to_group(site: Site, member_ids: list[int]) -> Group:
    group: dict[str, Any] = {
        "resourceType": "Group",
        "id": group_id(site.id),
        "identifier": [{"system": SITE_SYSTEM, "value": site.code}],
        "active": site.active,
        "type": "person",
        "actual": True,
        "name": f"Patients of {site.name}",
        "quantity": len(member_ids),
        "characteristic": [
            {
                "code": {"text": "Seen at the centre"},
                "valueReference": ref("Location", site_location_id(site.id), site.name),
                "exclude": False,
            }
        ],
    }
    if member_ids:
        group["member"] = [{"entity": ref("Patient", pid)} for pid in member_ids]
    return Group.model_validate(group)


def member_query(principal: Principal, site_id: int) -> Any:
    """The ids of the patients seen at ``site_id`` whom the principal may see, in id order."""
    at_site = select(PatientSite.patient_id).where(PatientSite.site_id == site_id)
    query = select(Patient.id).where(Patient.id.in_(at_site)).order_by(Patient.id)
    return scope.rows(query, principal, Patient)


def group_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = select(Site).where(ids_filter(params, Site.id, site_of_group))
    query = scope.by_site(query, principal, Site.id)

    def build(s: Session, rows: list[Any]) -> list[Item]:
        return [
            Item(to_group(r[0], list(s.execute(member_query(principal, r[0].id)).scalars())), None)
            for r in rows
        ]

    return [Source(query.order_by(Site.id), build)]
