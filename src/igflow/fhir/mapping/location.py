"""Location: a site (``site-N``: a centre, or the home-infusion service) and its chairs (``chair-N``, partOf
their site)."""

from __future__ import annotations

from fhir.resources.R4B.location import Location

from igflow.fhir.codes import LOCATION_PHYSICAL_TYPE, SITE_KIND, SITE_SYSTEM
from igflow.fhir.mapping.common import pruned, ref
from igflow.sites.models import Chair, Site

SITE_PREFIX, CHAIR_PREFIX = "site-", "chair-"


def site_location_id(site_id: int) -> str:
    return f"{SITE_PREFIX}{site_id}"


def chair_location_id(chair_id: int) -> str:
    return f"{CHAIR_PREFIX}{chair_id}"


def _status(active: bool) -> str:
    return "active" if active else "inactive"


def to_site_location(site: Site, organisation_id: str | None) -> Location:
    position = (
        {"latitude": site.lat, "longitude": site.lon}
        if site.lat is not None and site.lon is not None
        else None
    )
    return Location.model_validate(
        pruned(
            {
                "resourceType": "Location",
                "id": site_location_id(site.id),
                "identifier": [{"system": SITE_SYSTEM, "value": site.code}],
                "status": _status(site.active),
                "name": site.name,
                "mode": "instance",
                "type": [{"coding": [{"system": SITE_KIND, "code": site.kind}]}],
                "physicalType": (
                    {"coding": [{"system": LOCATION_PHYSICAL_TYPE, "code": "si"}]}
                    if site.kind == "centre"
                    else None
                ),
                "address": {"text": site.address} if site.address else None,
                "position": position,
                "managingOrganization": ref("Organization", organisation_id) if organisation_id else None,
            }
        )
    )


def to_chair_location(chair: Chair, site: Site) -> Location:
    return Location.model_validate(
        pruned(
            {
                "resourceType": "Location",
                "id": chair_location_id(chair.id),
                "status": _status(chair.active and site.active),
                "name": f"{site.name} {chair.label}",
                "description": chair.kind,
                "mode": "instance",
                "physicalType": (
                    {"coding": [{"system": LOCATION_PHYSICAL_TYPE, "code": "bd"}]}
                    if chair.kind == "bed"
                    else None
                ),
                "partOf": ref("Location", site_location_id(site.id), site.name),
            }
        )
    )
