"""JSON API of the security capability: users, tokens, audit, and the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.config import Settings
from igflow.errors import InvalidInput
from igflow.security import audit, service
from igflow.security import audit_verify as audit_verify_service
from igflow.security.deps import get_session, get_settings_dep, require
from igflow.security.models import AuditEvent, User
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.security.schemas import (
    ActiveIn,
    AuditEventOut,
    FailedSignInOut,
    MeOut,
    PasswordIn,
    RolesIn,
    SitesIn,
    TokenIn,
    TokenIssued,
    TokenOut,
    UserIn,
    UserOut,
    VerifyOut,
)
from igflow.sites import service as sites_service

router = APIRouter(tags=["security"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        active=user.active,
        is_service_account=user.is_service_account,
        roles=[r.role for r in user.roles],
        site_ids=[s.site_id for s in user.sites],
        patient_id=user.patient_id,
        created_at=user.created_at,
    )


@router.get("/users", response_model=list[UserOut])
def list_users(
    principal: Principal = require(Perm.USER_MANAGE), session: Session = Depends(get_session)
) -> list[UserOut]:
    return [user_out(u) for u in service.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(
    data: UserIn, principal: Principal = require(Perm.USER_MANAGE), session: Session = Depends(get_session)
) -> UserOut:
    sites_service.site_ids_exist(session, data.site_ids, "site_ids")
    user = service.create_user(session, principal.actor, **data.model_dump())
    return user_out(user)


@router.put("/users/{user_id}/roles", response_model=UserOut)
def set_roles(
    user_id: int,
    data: RolesIn,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> UserOut:
    if data.site_ids is not None:
        sites_service.site_ids_exist(session, data.site_ids, "site_ids")
    return user_out(service.set_roles(session, principal.actor, user_id, data.roles, data.site_ids))


@router.put("/users/{user_id}/sites", response_model=UserOut)
def set_sites(
    user_id: int,
    data: SitesIn,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> UserOut:
    """Limit the user to these sites (an empty list: every site). Audited; ends the user's sessions."""
    service.get_user(session, user_id)
    sites_service.site_ids_exist(session, data.site_ids, "site_ids")
    return user_out(service.set_sites(session, principal.actor, user_id, data.site_ids))


@router.put("/users/{user_id}/active", response_model=UserOut)
def set_active(
    user_id: int,
    data: ActiveIn,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> UserOut:
    return user_out(service.set_active(session, principal.actor, user_id, data.active))


@router.put("/users/{user_id}/password", status_code=204)
def reset_password(
    user_id: int,
    data: PasswordIn,
    principal: Principal = require(Perm.USER_MANAGE),
    session: Session = Depends(get_session),
) -> None:
    service.reset_password(session, principal.actor, user_id, data.password)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    principal: Principal = require(Perm.TOKEN_MANAGE), session: Session = Depends(get_session)
) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in service.list_tokens(session)]


@router.post("/tokens", response_model=TokenIssued, status_code=201)
def issue_token(
    data: TokenIn, principal: Principal = require(Perm.TOKEN_MANAGE), session: Session = Depends(get_session)
) -> TokenIssued:
    raw, token = service.issue_token(session, principal.actor, **data.model_dump())
    return TokenIssued(**TokenOut.model_validate(token).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    token_id: int, principal: Principal = require(Perm.TOKEN_MANAGE), session: Session = Depends(get_session)
) -> TokenOut:
    return TokenOut.model_validate(service.revoke_token(session, principal.actor, token_id))


@router.get("/audit/events", response_model=list[AuditEventOut])
def audit_events(
    after_id: int = Query(default=0, ge=0, description="Rows after this id, in the order they were written."),
    after_seq: int | None = Query(
        default=None, ge=0, description="Instead: sealed rows after this chain position, in chain order."
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    patient_id: int | None = None,
    principal: Principal = require(Perm.AUDIT_READ),
    session: Session = Depends(get_session),
) -> list[AuditEventOut]:
    if after_seq is not None:
        query = select(AuditEvent).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq)
    else:
        query = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    rows = list(session.execute(query.limit(limit)).scalars())
    out = [AuditEventOut.model_validate(r) for r in rows]
    audit.record(
        session,
        principal.actor,
        "audit.read",
        "audit_event",
        detail={"after_seq": after_seq, "count": len(out)},
    )
    session.commit()
    return out


@router.get("/audit/verify", response_model=VerifyOut)
def audit_verify(
    principal: Principal = require(Perm.AUDIT_READ),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings_dep),
) -> VerifyOut:
    """The chain, the latest signed checkpoint (truncation, rewrite, forgery) and the unsealed lag."""
    return VerifyOut.model_validate(audit_verify_service.verify_with_settings(session, settings))


@router.get("/me", response_model=MeOut)
def me(principal: Principal = require(Perm.AUTHENTICATED), session: Session = Depends(get_session)) -> MeOut:
    """The caller's account, with the failed sign-ins to it since its previous successful one."""
    user = session.get(User, principal.user_id)
    if user is None:
        raise InvalidInput("account no longer exists")
    count, latest = service.recent_failed_sign_ins(session, user)
    return MeOut(
        **user_out(user).model_dump(),
        failed_sign_ins_since_last=count,
        recent_failed_sign_ins=[FailedSignInOut.model_validate(a) for a in latest],
    )
