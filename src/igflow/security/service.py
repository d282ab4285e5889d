"""Use cases of the security capability. Each function takes a SQLAlchemy session; callers commit."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from igflow.config import Settings
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from igflow.security import audit
from igflow.security.audit import Actor
from igflow.security.models import ApiToken, AuditEvent, LoginAttempt, User, UserRole, UserSite, WebSession
from igflow.security.passwords import WeakPasswordError, hash_password, needs_rehash, verify_password
from igflow.security.permissions import Role
from igflow.security.principal import Principal

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LOGIN_FAILED_MESSAGE = "Invalid username or password."
TOKEN_PREFIX = "igf_"  # noqa: S105 - a public prefix, not a secret


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_roles(values: list[str] | set[str]) -> set[Role]:
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(f"roles: unknown role '{value}' (allowed: {allowed})", "roles") from None
    if not roles:
        raise InvalidInput("roles: at least one role is required", "roles")
    return roles


def principal_for_user(
    user: User,
    *,
    client_address: str | None,
    roles: set[Role] | None = None,
    via_token: bool = False,
    csrf_token: str | None = None,
    client_id: str | None = None,
    scopes: frozenset[str] | None = None,
) -> Principal:
    user_roles = {Role(r.role) for r in user.roles}
    effective = user_roles if roles is None else (roles & user_roles)
    site_ids = frozenset(s.site_id for s in user.sites) or None
    return Principal.build(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset(effective),
        site_ids=site_ids,
        patient_id=user.patient_id,
        client_address=client_address,
        via_token=via_token,
        csrf_token=csrf_token,
        client_id=client_id,
        scopes=scopes,
    )


# --- users -------------------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip().lower())).scalar_one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str | None,
    roles: list[str] | set[str],
    site_ids: list[int] | None = None,
    patient_id: int | None = None,
    is_service_account: bool = False,
    password_hash: str | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "username: 2-64 characters, lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            "username",
        )
    if not display_name.strip():
        raise InvalidInput("display_name: must not be empty", "display_name")
    role_set = parse_roles(roles)
    if Role.PATIENT in role_set:
        if patient_id is None:
            raise InvalidInput(
                "patient_id: a user with the patient role must be linked to their patient record",
                "patient_id",
            )
        if len(role_set) > 1:
            raise InvalidInput("roles: the patient role cannot be combined with staff roles", "roles")
    elif patient_id is not None:
        raise InvalidInput(
            "patient_id: only users with the patient role are linked to a patient", "patient_id"
        )
    if get_user_by_username(session, username) is not None:
        raise Conflict(f"username: '{username}' is already taken", "username")
    if password_hash is None and password is not None:
        try:
            password_hash = hash_password(password, user_inputs=(username, display_name))
        except WeakPasswordError as exc:
            raise InvalidInput(str(exc), "password") from None
    if password_hash is None and not is_service_account:
        raise InvalidInput("password: required for a person's account", "password")
    user = User(
        username=username,
        display_name=display_name.strip(),
        password_hash=password_hash,
        is_service_account=is_service_account,
        patient_id=patient_id,
        password_changed_at=utcnow(),
    )
    user.roles = [UserRole(role=r.value) for r in sorted(role_set)]
    user.sites = [UserSite(site_id=s) for s in sorted(set(site_ids or []))]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        detail={
            "username": username,
            "roles": sorted(r.value for r in role_set),
            "site_ids": sorted(set(site_ids or [])),
        },
    )
    session.commit()
    return user


def _sync_roles(user: User, wanted: set[str]) -> None:
    """Keep the rows of roles that stay, drop the others, add the new: replacing every row would
    insert a role before its old row is deleted, and the unique constraint refuses that."""
    user.roles = [r for r in user.roles if r.role in wanted]
    held = {r.role for r in user.roles}
    user.roles.extend(UserRole(role=role) for role in sorted(wanted - held))


def _sync_sites(user: User, wanted: set[int]) -> None:
    user.sites = [s for s in user.sites if s.site_id in wanted]
    held = {s.site_id for s in user.sites}
    user.sites.extend(UserSite(site_id=site_id) for site_id in sorted(wanted - held))


def _access_snapshot(user: User) -> dict[str, list[Any]]:
    return {"roles": sorted(r.role for r in user.roles), "site_ids": sorted(s.site_id for s in user.sites)}


def set_roles(
    session: Session, actor: Actor, user_id: int, roles: list[str], site_ids: list[int] | None = None
) -> User:
    """Replace a user's roles (and, when ``site_ids`` is given, their site limits); ends their sessions."""
    user = get_user(session, user_id)
    role_set = parse_roles(roles)
    if (Role.PATIENT in role_set) != (user.patient_id is not None):
        raise InvalidInput("roles: the patient role belongs only to accounts linked to a patient", "roles")
    if actor.user_id == user.id and Role.ADMIN not in role_set:
        raise Forbidden("roles: you cannot remove your own admin role", "roles")
    before = _access_snapshot(user)
    _sync_roles(user, {r.value for r in role_set})
    if site_ids is not None:
        _sync_sites(user, set(site_ids))
    session.flush()
    audit.record(
        session,
        actor,
        "user.roles_change",
        "user",
        user.id,
        detail={"before": before, "after": _access_snapshot(user)},
    )
    # Role changes take effect at once: end the user's open sessions.
    _end_sessions(session, user.id)
    session.commit()
    return user


def set_sites(session: Session, actor: Actor, user_id: int, site_ids: list[int]) -> User:
    """Limit a user to these sites (an empty list: every site); audited; ends their sessions.

    The caller checks that the sites exist (the sites capability owns them).
    """
    user = get_user(session, user_id)
    if len(set(site_ids)) != len(site_ids):
        raise InvalidInput("site_ids: a site is listed more than once", "site_ids")
    if user.patient_id is not None and site_ids:
        raise InvalidInput(
            "site_ids: a patient's account sees only their own record; it takes no site limits", "site_ids"
        )
    before = _access_snapshot(user)
    _sync_sites(user, set(site_ids))
    session.flush()
    after = _access_snapshot(user)
    audit.record(
        session,
        actor,
        "user.sites_change",
        "user",
        user.id,
        detail={"before": before["site_ids"], "after": after["site_ids"]},
    )
    _end_sessions(session, user.id)  # the new limits take effect at once
    session.commit()
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    user = get_user(session, user_id)
    if actor.user_id == user.id and not active:
        raise Forbidden("active: you cannot disable your own account", "active")
    user.active = active
    if not active:
        _end_sessions(session, user.id)
        for token in session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalars():
            if token.revoked_at is None:
                token.revoked_at = utcnow()
    audit.record(session, actor, "user.enable" if active else "user.disable", "user", user.id)
    session.commit()
    return user


def reset_password(session: Session, actor: Actor, user_id: int, new_password: str) -> User:
    user = get_user(session, user_id)
    try:
        user.password_hash = hash_password(new_password, user_inputs=(user.username, user.display_name))
    except WeakPasswordError as exc:
        raise InvalidInput(str(exc), "password") from None
    user.password_changed_at = utcnow()
    _end_sessions(session, user.id)
    audit.record(session, actor, "user.password_reset", "user", user.id)
    session.commit()
    return user


# --- login and sessions --------------------------------------------------------------------------


def _failures(session: Session, since: datetime, **where: str) -> int:
    query = select(func.count()).select_from(LoginAttempt)
    query = query.where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    for name, value in where.items():
        query = query.where(getattr(LoginAttempt, name) == value)
    return int(session.execute(query).scalar_one())


def _known_address(session: Session, settings: Settings, username: str, client_address: str) -> bool:
    """Has this account signed in successfully from this address lately?"""
    since = utcnow() - timedelta(days=settings.login_known_address_days)
    found = session.execute(
        select(LoginAttempt.id)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.client_address == client_address,
            LoginAttempt.success.is_(True),
            LoginAttempt.at >= since,
        )
        .limit(1)
    ).first()
    return found is not None


def _throttled(session: Session, settings: Settings, username: str, client_address: str) -> bool:
    """Throttle per account *and* address, so that wrong passwords from elsewhere do not lock the owner
    out: five failures for this account from this address, twenty from this address for any account,
    or many for this account from everywhere, unless this address is one it signed in from before."""
    since = utcnow() - timedelta(minutes=settings.login_window_min)
    if (
        _failures(session, since, username=username, client_address=client_address)
        >= settings.login_max_failures_per_account
    ):
        return True
    if _failures(session, since, client_address=client_address) >= settings.login_max_failures_per_address:
        return True
    return _failures(
        session, since, username=username
    ) >= settings.login_max_failures_per_account_any_address and not _known_address(
        session, settings, username, client_address
    )


def authenticate(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    client_address: str,
    *,
    reads: Session | None = None,
) -> User:
    """Check a username and password, with throttling per account and address (see :func:`_throttled`).

    The same message is given for an unknown user, a wrong password and a disabled account,
    so that the answer does not reveal which accounts exist.

    The checks read through ``reads`` (a WAL snapshot on SQLite, :meth:`igflow.db.Database.read_session`,
    which takes no write lock; default: ``session``) and end that transaction before Argon2 runs.
    Everything written (the attempt, a new hash, the failure's audit row) goes through ``session``
    afterwards, in one short transaction; a failure commits it, a success leaves it open for
    :func:`start_session`. The throttle was never atomic with the attempt it counts (the check ended
    before the password check), so reading it from a snapshot does not loosen it.
    """
    reads = reads if reads is not None else session
    username = username.strip().lower()[:64]
    client_address = client_address[:64]
    throttled = _throttled(reads, settings, username, client_address)
    user = None if throttled else get_user_by_username(reads, username)
    # End the read transaction before the password check: Argon2 takes tens of milliseconds of CPU, and
    # holding a pooled connection (on SQLite, the write lock) through it made a burst of sign-ins exhaust
    # the pool and stall every other request.
    reads.commit()
    if throttled:
        session.add(LoginAttempt(username=username, client_address=client_address, success=False))
        audit.record(session, Actor(None, username, client_address), "login", "session", outcome="throttled")
        session.commit()
        raise TooManyAttempts(
            f"Too many failed sign-in attempts. Wait {settings.login_window_min} minutes and try again, "
            "or ask an administrator to reset your password."
        )
    stored_hash = user.password_hash if user else None
    ok = verify_password(stored_hash, password)
    ok = ok and user is not None and user.active and not user.is_service_account
    # A stronger hash, when the parameters changed, is computed before the write transaction too.
    new_hash = _rehashed(password) if ok and stored_hash and needs_rehash(stored_hash) else None
    session.add(LoginAttempt(username=username, client_address=client_address, success=ok))
    if not ok or user is None:
        audit.record(
            session,
            Actor(user.id if user else None, username, client_address),
            "login",
            "session",
            outcome="failure",
        )
        session.commit()
        raise InvalidInput(LOGIN_FAILED_MESSAGE)
    if new_hash is not None:
        session.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    session.flush()
    return user


def _rehashed(password: str) -> str:
    # The same password, stored again under today's hash parameters: not a new choice to judge (one set
    # before today's strength rules is still re-hashed, and no strength estimate runs during sign-in).
    return hash_password(password, enforce_strength=False)


def sign_in(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    client_address: str,
    *,
    reads: Session | None = None,
) -> tuple[User, str, WebSession]:
    """:func:`authenticate`, then :func:`start_session`, in one call (one thread): the sign-in's one
    write transaction (the attempt, the session row, the audit row) begins and commits without waiting
    for anything in between. Split across two thread-pool calls, on SQLite it held the write lock while
    it waited for a free thread, and under a burst every thread was waiting for that lock."""
    user = authenticate(session, settings, username, password, client_address, reads=reads)
    raw, web_session = start_session(session, settings, user, client_address)
    return user, raw, web_session


def _successful_sign_ins(session: Session, user: User, limit: int) -> list[datetime]:
    """When the account last signed in successfully, newest first."""
    return list(
        session.execute(
            select(LoginAttempt.at)
            .where(LoginAttempt.username == user.username, LoginAttempt.success.is_(True))
            .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
            .limit(limit)
        ).scalars()
    )


def last_sign_in(session: Session, user: User) -> datetime | None:
    """The account's latest successful sign-in, if any (for an administrator's view of the account)."""
    successes = _successful_sign_ins(session, user, 1)
    return successes[0] if successes else None


def recent_failed_sign_ins(
    session: Session, user: User, limit: int = 10, *, own_session: bool = True
) -> tuple[int, list[LoginAttempt]]:
    """Failed sign-ins (throttled ones included) for the account since its previous successful one,
    at most 30 days back: how many, and the latest.

    ``own_session``: the account's holder is asking, so its latest success (the one that started this
    session) is skipped; an administrator looking at the account (``False``) counts from the latest.
    """
    skip = 1 if own_session else 0
    successes = _successful_sign_ins(session, user, skip + 1)
    since = utcnow() - timedelta(days=30)
    if len(successes) == skip + 1:
        since = max(since, successes[skip])
    where = (
        LoginAttempt.username == user.username,
        LoginAttempt.success.is_(False),
        LoginAttempt.at > since,
    )
    count = int(session.execute(select(func.count()).select_from(LoginAttempt).where(*where)).scalar_one())
    newest_first = (LoginAttempt.at.desc(), LoginAttempt.id.desc())
    latest = list(
        session.execute(select(LoginAttempt).where(*where).order_by(*newest_first).limit(limit)).scalars()
    )
    return count, latest


def start_session(
    session: Session, settings: Settings, user: User, client_address: str
) -> tuple[str, WebSession]:
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    web_session = WebSession(
        token_hash=_digest(raw),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_h),
        client_address=client_address,
    )
    session.add(web_session)
    session.flush()
    audit.record(session, Actor(user.id, user.username, client_address), "login", "session", web_session.id)
    session.commit()
    return raw, web_session


def resolve_session(
    session: Session, settings: Settings, raw_token: str, client_address: str
) -> Principal | None:
    web_session = session.execute(
        select(WebSession).where(WebSession.token_hash == _digest(raw_token))
    ).scalar_one_or_none()
    if web_session is None or web_session.ended_at is not None:
        return None
    now = utcnow()
    idle_limit = web_session.last_seen_at + timedelta(minutes=settings.session_idle_min)
    user = session.get(User, web_session.user_id)
    if now >= web_session.expires_at or now >= idle_limit or user is None or not user.active:
        web_session.ended_at = now
        session.commit()
        return None
    web_session.last_seen_at = now
    principal = principal_for_user(user, client_address=client_address, csrf_token=web_session.csrf_token)
    principal = with_caregiver_patient(session, principal)
    session.commit()
    return principal


def with_caregiver_patient(session: Session, principal: Principal) -> Principal:
    """A caregiver reads the portal of the one patient whose consent is in force (an active
    ``caregiver_link``, igflow.portal.caregivers); with none, ``patient_id`` stays None and the portal
    pages say the account is not linked. Read at every request, so a revoked consent ends access at once."""
    if Role.CAREGIVER not in principal.roles:
        return principal
    from igflow.portal.models import CaregiverLink  # the portal owns the consent; scope imports it too

    patient_id = session.execute(
        select(CaregiverLink.patient_id).where(
            CaregiverLink.caregiver_user_id == principal.user_id, CaregiverLink.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    return dataclasses.replace(principal, patient_id=patient_id)


def reads_by_user_on_patient(
    session: Session, user_id: int, patient_id: int, limit: int = 20
) -> list[tuple[datetime, str]]:
    """The latest audit rows of one account on one patient (when, action): a caregiver's own trail."""
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.action)
        .where(AuditEvent.actor_user_id == user_id, AuditEvent.patient_id == patient_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [(at, action) for at, action in rows]


def end_session(session: Session, raw_token: str, actor: Actor) -> None:
    web_session = session.execute(
        select(WebSession).where(WebSession.token_hash == _digest(raw_token))
    ).scalar_one_or_none()
    if web_session is not None and web_session.ended_at is None:
        web_session.ended_at = utcnow()
        audit.record(session, actor, "logout", "session", web_session.id)
        session.commit()


def _end_sessions(session: Session, user_id: int) -> None:
    now = utcnow()
    for web_session in session.execute(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    ).scalars():
        web_session.ended_at = now


# --- API tokens ------------------------------------------------------------------------------------


def issue_token(
    session: Session,
    actor: Actor,
    *,
    user_id: int,
    name: str,
    roles: list[str],
    expires_days: int,
) -> tuple[str, ApiToken]:
    """Create a token; the raw value is returned once and only its digest is kept."""
    user = get_user(session, user_id)
    if not user.is_service_account:
        raise InvalidInput("user_id: API tokens are issued to service accounts only", "user_id")
    if not user.active:
        raise InvalidInput("user_id: the service account is disabled", "user_id")
    if not 1 <= expires_days <= 365:
        raise InvalidInput("expires_days: must be between 1 and 365", "expires_days")
    role_set = parse_roles(roles)
    user_roles = {Role(r.role) for r in user.roles}
    if not role_set <= user_roles:
        extra = ", ".join(sorted(r.value for r in role_set - user_roles))
        raise InvalidInput(f"roles: the service account does not hold {extra}", "roles")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip() or "token",
        prefix=raw[:10],
        token_hash=_digest(raw),
        roles=sorted(r.value for r in role_set),
        expires_at=utcnow() + timedelta(days=expires_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.issue",
        "api_token",
        token.id,
        detail={"user_id": user.id, "roles": token.roles},
    )
    session.commit()
    return raw, token


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", "api_token", token.id)
        session.commit()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """The tokens issued here (the FHIR backend clients' five-minute tokens are not listed)."""
    query = select(ApiToken).where(ApiToken.client_id.is_(None)).order_by(ApiToken.id)
    return list(session.execute(query).scalars())


def resolve_token(session: Session, raw: str, client_address: str) -> Principal | None:
    token = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(raw))).scalar_one_or_none()
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    token.last_used_at = now
    principal = principal_for_user(
        user,
        client_address=client_address,
        roles={Role(r) for r in token.roles},
        via_token=True,
        client_id=token.client_id,
        scopes=None if token.client_id is None else frozenset(token.scopes or ()),
    )
    principal = with_caregiver_patient(session, principal)
    session.commit()
    return principal


def display_names(session: Session, user_ids: Any) -> dict[int, str]:
    """User id -> display name, for pages that show who proposed, approved or verified something."""
    wanted = {int(user_id) for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}
