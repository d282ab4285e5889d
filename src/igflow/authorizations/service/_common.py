"""Shared by the prior-authorisation use cases: the catalog policy and time frame of a payer, loading a
request within site scope, and recording a move (state machine + event + audit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from igflow.authorizations.core import Grant, TimeFrame
from igflow.authorizations.models import GRANTED, PriorAuthEvent, PriorAuthRequest
from igflow.authorizations.states import PRIOR_AUTH
from igflow.catalog import Catalog, load_catalog
from igflow.catalog.models import PayerPolicy
from igflow.db import utcnow
from igflow.directory.models import Payer
from igflow.errors import NotFound
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage
from igflow.security import audit, scope
from igflow.security.principal import Principal


def catalog() -> Catalog:
    return load_catalog()


def policy_of(payer: Payer | None) -> PayerPolicy:
    payers = catalog().payers
    policy_id = payer.auth_policy_id if payer is not None else "generic"
    try:
        return payers.policy(policy_id)
    except LookupError:
        return payers.policy("generic")


def time_frame(payer: Payer | None) -> TimeFrame | None:
    """CMS-0057-F for the payers it covers; else the payer's own standard days when recorded; else none."""
    frames = catalog().payers.time_frames
    if payer is not None and payer.cms_0057f:
        return TimeFrame(frames.standard_days.value, frames.expedited_hours.value, "CMS-0057-F")
    if payer is not None and payer.standard_days:
        return TimeFrame(payer.standard_days, None, "the payer's own time frame")
    return None


def lead_days(payer: Payer | None) -> int:
    default = catalog().payers.reauthorisation.lead_days.value
    assert default is not None
    return payer.reauth_lead_days if payer is not None and payer.reauth_lead_days else default


def now() -> dt.datetime:
    return utcnow()


def payer_of(session: Session, request: PriorAuthRequest) -> Payer | None:
    coverage = session.get(Coverage, request.coverage_id)
    return session.get(Payer, coverage.payer_id) if coverage is not None else None


def load(session: Session, principal: Principal, request_id: int) -> PriorAuthRequest:
    request = scope.get(session, principal, PriorAuthRequest, request_id, "prior-authorisation request")
    try:
        patients_service.check_access(session, principal, request.patient_id)
    except NotFound:
        raise NotFound(f"prior-authorisation request {request_id} not found") from None
    return request


def move(
    session: Session,
    principal: Principal,
    request: PriorAuthRequest,
    to: str,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    **values: Any,
) -> None:
    """Move the request (409 when the state does not allow it, or it changed meanwhile), with its event row
    (who, when, why) and an audit row, in the caller's transaction."""
    before = PRIOR_AUTH.move(session, request, to, field_name="status", version=request.version + 1, **values)
    session.add(
        PriorAuthEvent(
            request_id=request.id,
            from_status=before,
            to_status=to,
            by_user_id=principal.user_id,
            reason=reason,
            detail=detail or {},
        )
    )
    audit.record(
        session,
        principal.actor,
        f"prior_auth.{to}",
        "prior_auth_request",
        request.id,
        patient_id=request.patient_id,
        detail={"from": before, **(detail or {})},
    )


def grant_of(request: PriorAuthRequest) -> Grant | None:
    if request.status not in GRANTED or request.start_date is None or request.end_date is None:
        return None
    return Grant(
        request_id=request.id,
        payer_reference=request.payer_reference,
        product_ids=tuple(request.authorised_product_ids or ()),
        grams=request.authorised_grams,
        infusions=request.authorised_infusions,
        site_of_care=request.authorised_site_of_care,
        start_date=request.start_date,
        end_date=request.end_date,
    )
