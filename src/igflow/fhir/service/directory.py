"""Practitioner, Organization and Location: the shared directory (prescribers, the organisation and payers,
sites and chairs), the same for every user: ``scope`` leaves the site directory unscoped on purpose."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from igflow.directory.models import Payer, Prescriber
from igflow.fhir.codes import US_NPI
from igflow.fhir.mapping.location import (
    CHAIR_PREFIX,
    SITE_PREFIX,
    to_chair_location,
    to_site_location,
)
from igflow.fhir.mapping.organization import (
    ORG_PREFIX,
    PAYER_PREFIX,
    organisation_id,
    to_organisation,
    to_payer,
)
from igflow.fhir.mapping.practitioner import to_practitioner
from igflow.fhir.search import Params, parse_reference, parse_token, prefixed_id
from igflow.fhir.service.engine import Item, Source, all_of, ids_filter
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.models import Chair, Organisation, Site


def _npi(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("identifier"):
        values = [t.code for t in map(parse_token, group) if t.system in (None, US_NPI) and t.code]
        clauses.append(Prescriber.npi.in_(values) if values else false())
    return all_of(clauses)


def _words(params: Params, name: str, column: Any) -> ColumnElement[bool]:
    """A string search: a word of ``column`` starting with the value, any case."""
    clauses = []
    for group in params.all(name):
        parts = []
        for raw in group:
            word = raw.lower().replace("%", "").replace("_", "").replace("\\", "")
            if word:
                parts += [func.lower(column).like(f"{word}%"), func.lower(column).like(f"% {word}%")]
        clauses.append(or_(*parts) if parts else false())
    return all_of(clauses)


def practitioner_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = select(Prescriber).where(
        ids_filter(params, Prescriber.id), _npi(params), _words(params, "name", Prescriber.name)
    )
    return [
        Source(
            query.order_by(Prescriber.id),
            lambda _s, rows: [Item(to_practitioner(r[0]), None) for r in rows],
        )
    ]


def organization_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    orgs = select(Organisation).where(
        ids_filter(params, Organisation.id, lambda v: prefixed_id(v, ORG_PREFIX))
    )
    payers = select(Payer).where(ids_filter(params, Payer.id, lambda v: prefixed_id(v, PAYER_PREFIX)))
    return [
        Source(
            orgs.order_by(Organisation.id), lambda _s, rows: [Item(to_organisation(r[0]), None) for r in rows]
        ),
        Source(payers.order_by(Payer.id), lambda _s, rows: [Item(to_payer(r[0]), None) for r in rows]),
    ]


def _organisation_ref(session: Session) -> str | None:
    organisation = sites_service.get_organisation(session)
    return organisation_id(organisation.id) if organisation else None


def _partof(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("partof"):
        wanted = [
            i
            for i in (prefixed_id(parse_reference("partof", v, "Location"), SITE_PREFIX) for v in group)
            if i
        ]
        clauses.append(Chair.site_id.in_(wanted) if wanted else false())
    return all_of(clauses)


def location_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    sites = select(Site).where(
        ids_filter(params, Site.id, lambda v: prefixed_id(v, SITE_PREFIX)),
        false() if params.has("partof") else _words(params, "name", Site.name),
    )
    chairs: Any = (
        select(Chair, Site)
        .join(Site, Site.id == Chair.site_id)
        .where(ids_filter(params, Chair.id, lambda v: prefixed_id(v, CHAIR_PREFIX)), _partof(params))
    )
    if params.has("name"):
        chairs = chairs.where(false())  # chairs are found by their site (partof), not by name

    def build_sites(s: Session, rows: list[Any]) -> list[Item]:
        org = _organisation_ref(s)
        return [Item(to_site_location(r[0], org), None) for r in rows]

    return [
        Source(sites.order_by(Site.id), build_sites),
        Source(
            chairs.order_by(Chair.site_id, Chair.position, Chair.id),
            lambda _s, rows: [Item(to_chair_location(chair, site), None) for chair, site in rows],
        ),
    ]
