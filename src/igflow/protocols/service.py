"""Use cases of the protocols capability: drafts, approval by a second pharmacist, the version in force.

Statuses: ``draft`` -> ``approved`` | ``rejected`` (one transition table, 409 otherwise). A draft may be
edited by the pharmacist who proposed it; an approved or rejected version never changes again. The
approver holds the P&T-approver permission, is a pharmacist, and is not the proposer (also a database
CHECK). The protocol in force for a site on a date is the latest approved organisation version
effective by then, overlaid by the latest approved version of that site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from igflow.catalog import Catalog, load_catalog
from igflow.catalog.protocol import (
    ProtocolDocument,
    ProtocolFileError,
    ProtocolValues,
    apply_protocol,
    check_references,
    parse_values,
)
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from igflow.protocols.models import ClinicalProtocol
from igflow.protocols.schemas import ProtocolDecisionIn, ProtocolIn
from igflow.security import audit
from igflow.security.audit import Actor
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.statemachine import StateMachine

#: status -> statuses it may move to; :func:`decide` is its compare-and-set (it also guards on the
#: draft's last edit, so a decision is never made on a text the approver did not read)
PROTOCOL = StateMachine(
    "clinical_protocol",
    ClinicalProtocol,
    {"draft": frozenset({"approved", "rejected"}), "approved": frozenset(), "rejected": frozenset()},
    noun="this protocol version",
)
TRANSITIONS = PROTOCOL.transitions


def _scope(site_id: int | None) -> str:
    return "organisation" if site_id is None else f"site:{site_id}"


def validate_values(values: dict[str, object], catalog: Catalog | None = None) -> ProtocolValues:
    try:
        parsed = parse_values(values)
    except ProtocolFileError as exc:
        raise InvalidInput(str(exc), "values") from None
    problems = check_references(parsed, catalog or load_catalog())
    if problems:
        raise InvalidInput(problems[0], "values")
    return parsed


def list_protocols(session: Session) -> list[ClinicalProtocol]:
    return list(
        session.execute(
            select(ClinicalProtocol).order_by(ClinicalProtocol.scope, ClinicalProtocol.version.desc())
        ).scalars()
    )


def get(session: Session, protocol_id: int) -> ClinicalProtocol:
    protocol = session.get(ClinicalProtocol, protocol_id)
    if protocol is None:
        raise NotFound(f"protocol {protocol_id} not found")
    return protocol


def _next_version(session: Session, scope: str) -> int:
    latest = session.execute(
        select(ClinicalProtocol.version)
        .where(ClinicalProtocol.scope == scope)
        .order_by(ClinicalProtocol.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return (latest or 0) + 1


def create_draft(session: Session, actor: Actor, proposer_id: int, data: ProtocolIn) -> ClinicalProtocol:
    """A new version (draft) of the organisation's or a site's protocol."""
    if data.site_id is not None:
        sites_service.get_site(session, data.site_id)
    values = validate_values(data.values)
    scope = _scope(data.site_id)
    based_on_id = data.based_on_id
    if based_on_id is not None:
        base = get(session, based_on_id)
        if base.scope != scope:
            raise InvalidInput(
                "based_on_id: a new version must keep the scope of the one it revises", "site_id"
            )
    protocol = ClinicalProtocol(
        scope=scope,
        site_id=data.site_id,
        version=_next_version(session, scope),
        title=data.title.strip(),
        values=values.model_dump(mode="json", exclude_none=True),
        summary=data.summary.strip(),
        effective_from=data.effective_from,
        status="draft",
        proposed_by_user_id=proposer_id,
        based_on_id=based_on_id,
    )
    session.add(protocol)
    session.flush()
    audit.record(
        session,
        actor,
        "protocol.propose",
        "protocol",
        protocol.id,
        detail={"scope": scope, "version": protocol.version, "decides": values.decided()},
    )
    session.commit()
    return protocol


def update_draft(
    session: Session, principal: Principal, protocol_id: int, data: ProtocolIn
) -> ClinicalProtocol:
    protocol = get(session, protocol_id)
    if protocol.status != "draft":
        raise Conflict(
            f"status: version {protocol.version} is {protocol.status} and can no longer change; "
            "start a new version from it instead.",
            "status",
        )
    if protocol.proposed_by_user_id != principal.user_id:
        raise Forbidden("Only the pharmacist who proposed this draft can edit it.", "proposed_by")
    if _scope(data.site_id) != protocol.scope:
        raise InvalidInput(
            "site_id: a draft keeps its scope; start a new protocol for another site", "site_id"
        )
    values = validate_values(data.values)
    changed = session.execute(
        update(ClinicalProtocol)
        .where(ClinicalProtocol.id == protocol.id, ClinicalProtocol.status == "draft")
        .values(
            title=data.title.strip(),
            values=values.model_dump(mode="json", exclude_none=True),
            summary=data.summary.strip(),
            effective_from=data.effective_from,
            updated_at=utcnow(),
        )
    ).rowcount
    if changed != 1:
        session.rollback()
        raise Conflict("status: the draft was decided a moment ago and can no longer change.", "status")
    audit.record(
        session,
        principal.actor,
        "protocol.edit",
        "protocol",
        protocol.id,
        detail={"decides": values.decided()},
    )
    session.commit()
    session.refresh(protocol)
    return protocol


def may_decide(principal: Principal, protocol: ClinicalProtocol) -> bool:
    """A P&T approver who is a pharmacist and did not propose this draft (the page shows the form)."""
    return (
        protocol.status == "draft"
        and principal.can(Perm.PROTOCOL_APPROVE)
        and principal.can(Perm.PLAN_VERIFY)
        and principal.user_id != protocol.proposed_by_user_id
    )


def decide(
    session: Session, principal: Principal, protocol_id: int, data: ProtocolDecisionIn
) -> ClinicalProtocol:
    """Approve or reject a draft: a P&T approver who is a pharmacist and not the proposer; once only."""
    protocol = get(session, protocol_id)
    if data.decision not in TRANSITIONS[protocol.status]:
        raise Conflict(
            f"status: version {protocol.version} is already {protocol.status}; a decision is made once. "
            "Propose a new version to change it.",
            "status",
        )
    if not principal.can(Perm.PROTOCOL_APPROVE) or not principal.can(Perm.PLAN_VERIFY):
        raise Forbidden("Approval needs a pharmacist with the P&T-approver role.", "approver")
    if protocol.proposed_by_user_id == principal.user_id:
        raise Forbidden(
            "A second person must approve: you proposed this version, so another P&T approver decides.",
            "approver",
        )
    if data.version != protocol.version:
        raise Conflict(f"version: this is version {protocol.version}, you read {data.version}", "version")
    if data.decision == "rejected" and not data.note.strip():
        raise InvalidInput("note: say why the version is rejected, for the proposer", "note")
    now = utcnow()
    changed = session.execute(
        update(ClinicalProtocol)
        .where(
            ClinicalProtocol.id == protocol.id,
            ClinicalProtocol.status == "draft",
            ClinicalProtocol.updated_at == protocol.updated_at,
        )
        .values(
            status=data.decision,
            approved_by_user_id=principal.user_id if data.decision == "approved" else None,
            approved_at=now if data.decision == "approved" else None,
            decision_note=data.note.strip(),
            updated_at=now,
        )
    ).rowcount
    if changed != 1:
        session.rollback()
        raise Conflict(
            "status: this version was decided or edited a moment ago; reload it and decide again.", "status"
        )
    audit.record(
        session,
        principal.actor,
        f"protocol.{data.decision}",
        "protocol",
        protocol.id,
        detail={"scope": protocol.scope, "version": protocol.version},
    )
    session.commit()
    session.refresh(protocol)
    return protocol


@dataclass(frozen=True)
class InForce:
    """The protocol versions in force for a site on a date, applied to the catalog."""

    protocols: tuple[ClinicalProtocol, ...]
    catalog: Catalog

    @property
    def ids(self) -> list[int]:
        return [p.id for p in self.protocols]

    @property
    def citation(self) -> str:
        return "; ".join(citation(p) for p in self.protocols) or "no approved site protocol"


def citation(protocol: ClinicalProtocol) -> str:
    return document(protocol).citation


def document(protocol: ClinicalProtocol) -> ProtocolDocument:
    """The version as a protocol file (``igflow dose --protocol FILE`` gives the same plan with it)."""
    return ProtocolDocument(
        title=protocol.title,
        version=protocol.version,
        approved_on=protocol.approved_at.date() if protocol.approved_at else None,
        effective_from=protocol.effective_from,
        values=ProtocolValues.model_validate(protocol.values),
    )


def _latest_approved(session: Session, scope: str, on: date) -> ClinicalProtocol | None:
    return session.execute(
        select(ClinicalProtocol)
        .where(
            ClinicalProtocol.scope == scope,
            ClinicalProtocol.status == "approved",
            ClinicalProtocol.effective_from <= on,
        )
        .order_by(ClinicalProtocol.effective_from.desc(), ClinicalProtocol.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def catalog_for_ids(session: Session, protocol_ids: list[int], catalog: Catalog | None = None) -> Catalog:
    """The catalog with exactly these approved versions applied, in order (as a stored plan names them)."""
    result = catalog or load_catalog()
    for protocol_id in protocol_ids:
        protocol = get(session, protocol_id)
        result = apply_protocol(result, ProtocolValues.model_validate(protocol.values), citation(protocol))
    return result


def in_force(session: Session, site_id: int | None, on: date, catalog: Catalog | None = None) -> InForce:
    """The organisation's approved protocol on ``on``, overlaid by the site's, applied to the catalog."""
    result = catalog or load_catalog()
    found: list[ClinicalProtocol] = []
    scopes = ["organisation"] + ([_scope(site_id)] if site_id is not None else [])
    for scope in scopes:
        protocol = _latest_approved(session, scope, on)
        if protocol is not None:
            found.append(protocol)
            result = apply_protocol(
                result, ProtocolValues.model_validate(protocol.values), citation(protocol)
            )
    return InForce(protocols=tuple(found), catalog=result)
