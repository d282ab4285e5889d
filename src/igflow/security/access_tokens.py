"""Short-lived bearer tokens for SMART backend clients (igflow.fhir.smart): ``api_token`` rows like any
other token (only a SHA-256 digest kept, resolved by :func:`igflow.security.service.resolve_token`), that
also carry the client's id and the scopes granted. The caller audits and commits."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from igflow.security.models import ApiToken, User
from igflow.security.service import TOKEN_PREFIX, _digest


def issue_client_token(
    session: Session, user: User, *, client_id: str, scopes: list[str], now: datetime, lifetime_s: int
) -> tuple[str, ApiToken]:
    """A token acting as ``user`` (all its roles; its site limits apply when resolved) for ``client_id``."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=f"FHIR client {client_id}"[:100],
        prefix=raw[:10],
        token_hash=_digest(raw),
        roles=sorted(r.role for r in user.roles),
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_s),
        client_id=client_id,
        scopes=list(scopes),
    )
    session.add(token)
    session.flush()
    return raw, token


def revoke_client_tokens(session: Session, client_id: str, now: datetime) -> int:
    """Revoke every live token of the client (when it is disabled); how many."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.client_id == client_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
