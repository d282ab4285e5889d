"""Use cases of SMART Backend Services: register, list and disable backend clients; exchange a signed
client assertion for an access token (SMART App Launch 2.x "Backend Services", RFC 7523 section 3).

The token request is checked in this order, and the first problem is the answer (OAuth 2.0 error JSON):

1. ``grant_type=client_credentials``, ``client_assertion_type`` the JWT-bearer URN, a ``client_assertion``
   and a ``scope``;
2. the assertion's header: ``alg`` RS384 or ES384 (never ``none`` or HMAC), a ``kid``, no ``jku``;
3. the client named by ``iss``: registered and enabled, with a key of that ``kid`` of the matching type;
4. the signature (PyJWT), then ``iss == sub == client_id``, ``aud`` this token endpoint's URL, ``exp``
   present, not past and at most five minutes ahead (30 s leeway for clocks), ``nbf`` not ahead, a ``jti``;
5. the scopes: each one this server grants, all within the client's allowed scopes;
6. the service account: active;
7. the ``jti`` not used before (a row per use; the unique constraint settles two at the same moment).

Then a five-minute igflow bearer token is issued (:mod:`igflow.security.access_tokens`) and audited.
Refusals of a known client are audited too (outcome ``failure``, the error code and reason).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt import exceptions as jwt_errors
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import IgflowError, InvalidInput, NotFound
from igflow.fhir.service.registry import KINDS
from igflow.fhir.smart import jwks as jwks_mod
from igflow.fhir.smart import scopes as scopes_mod
from igflow.fhir.smart.models import BackendClient, ClientAssertionUse
from igflow.security import access_tokens, audit
from igflow.security.audit import Actor
from igflow.security.models import User
from igflow.security.principal import client_actor_name

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_S = 300
MAX_ASSERTION_LIFETIME_S = 300  # exp at most five minutes ahead (SMART Backend Services)
LEEWAY_S = 30
SIGNING_ALGORITHMS = tuple(jwks_mod.ALGORITHMS)  # ("RS384", "ES384")
MAX_ASSERTION_CHARS = 16_000


def resource_types() -> list[str]:
    return [kind.name for kind in KINDS]


def scopes_supported() -> list[str]:
    writes = [f"system/{t}.{scopes_mod.letters(w)}" for t, w in sorted(scopes_mod.WRITES.items())]
    return ["system/*.read", "system/*.rs", *(f"system/{t}.rs" for t in resource_types()), *writes]


class OAuthError(IgflowError):
    """A refused token request: ``error`` is the OAuth 2.0 code, ``message`` the reason in words."""

    def __init__(self, error: str, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.error = error
        self.status_code = status_code


def _invalid_client(message: str) -> OAuthError:
    return OAuthError("invalid_client", message, 401)


def _shown(value: object, limit: int = 60) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- registering clients ---------------------------------------------------------------------------------


def parse_scopes(values: list[str]) -> list[str]:
    """The allowed scopes of a client, checked (:class:`ValueError` with the reason)."""
    parsed = scopes_mod.parse_all(values, resource_types())
    if not parsed:
        raise ValueError("give at least one scope, such as system/Patient.rs")
    return [s.text for s in parsed]


def register_client(
    session: Session,
    actor: Actor,
    *,
    name: str,
    user_id: int,
    jwks: dict[str, Any],
    scopes: list[str],
) -> BackendClient:
    """A new client acting as the service account ``user_id`` (``jwks`` and ``scopes`` already checked
    by the schema; checked again here so that no caller can store unchecked keys)."""
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"user_id: user {user_id} not found", "user_id")
    if not user.is_service_account:
        raise InvalidInput("user_id: a backend client acts as a service account, not a person's", "user_id")
    if not user.active:
        raise InvalidInput("user_id: the service account is disabled", "user_id")
    try:
        keys = jwks_mod.validate(jwks)
    except jwks_mod.JwksError as exc:
        raise InvalidInput(f"jwks: {exc}", "jwks") from None
    try:
        allowed = parse_scopes(scopes)
    except ValueError as exc:
        raise InvalidInput(f"scopes: {exc}", "scopes") from None
    client = BackendClient(
        client_id=f"igfc-{secrets.token_hex(10)}",
        name=name.strip(),
        user_id=user.id,
        jwks=keys,
        scopes=allowed,
        enabled=True,
        created_at=utcnow(),
        created_by_user_id=actor.user_id,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor,
        "fhir_client.create",
        "fhir_backend_client",
        client.id,
        detail={
            "client_id": client.client_id,
            "user_id": user.id,
            "scopes": allowed,
            "kids": [k["kid"] for k in keys["keys"]],
        },
    )
    session.commit()
    return client


def list_clients(session: Session) -> list[BackendClient]:
    return list(session.execute(select(BackendClient).order_by(BackendClient.id)).scalars())


def get_client(session: Session, client_pk: int) -> BackendClient:
    client = session.get(BackendClient, client_pk)
    if client is None:
        raise NotFound(f"FHIR client {client_pk} not found")
    return client


def disable_client(session: Session, actor: Actor, client_pk: int) -> BackendClient:
    """Disable the client and revoke its live access tokens (audited); disabling twice changes nothing."""
    client = get_client(session, client_pk)
    if client.enabled:
        now = utcnow()
        client.enabled = False
        client.disabled_at = now
        client.disabled_by_user_id = actor.user_id
        revoked = access_tokens.revoke_client_tokens(session, client.client_id, now)
        audit.record(
            session,
            actor,
            "fhir_client.disable",
            "fhir_backend_client",
            client.id,
            detail={"client_id": client.client_id, "tokens_revoked": revoked},
        )
        session.commit()
    return client


# --- the token exchange -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Granted:
    access_token: str
    expires_in: int
    scope: str

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


def _form_value(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"{name} is missing")
    return value


def _check_request(form: Mapping[str, str]) -> tuple[str, list[str]]:
    grant_type = _form_value(form, "grant_type")
    if grant_type != GRANT_TYPE:
        raise OAuthError(
            "unsupported_grant_type", f"grant_type must be {GRANT_TYPE} (not {_shown(grant_type)})"
        )
    assertion_type = _form_value(form, "client_assertion_type")
    if assertion_type != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = _form_value(form, "client_assertion")
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise _invalid_client("the client assertion is too long")
    requested = scopes_mod.split(_form_value(form, "scope"))
    if not requested:
        raise OAuthError("invalid_request", "scope is missing")
    return assertion, requested


def _header(assertion: str) -> tuple[str, str]:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt_errors.DecodeError:
        raise _invalid_client("the client assertion is not a signed JWT") from None
    alg = header.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise _invalid_client(
            f"the client assertion is signed with alg {_shown(alg)}: sign it with RS384 or ES384"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid_client("the client assertion's header has no kid naming the key that signed it")
    if "jku" in header:
        raise _invalid_client("a jku header is not accepted: the keys are the ones registered here")
    return alg, kid


def _client_of(session: Session, assertion: str) -> BackendClient:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt_errors.DecodeError:
        raise _invalid_client("the client assertion cannot be read") from None
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise _invalid_client("the client assertion has no iss (it must be your client_id)")
    client = session.execute(select(BackendClient).where(BackendClient.client_id == iss)).scalar_one_or_none()
    if client is None:
        raise _invalid_client(f"no client is registered with the client_id {_shown(iss)}")
    if not client.enabled:
        raise _invalid_client("this client is disabled: ask igflow's administrator")
    return client


_JWT_REFUSALS: list[tuple[type[Exception], str]] = [
    (jwt_errors.InvalidSignatureError, "the signature does not verify with the registered key {kid}"),
    (jwt_errors.InvalidAudienceError, "aud must be this token endpoint's URL, {url}"),
    (jwt_errors.InvalidIssuerError, "iss must be your client_id"),
]


def _verified_claims(client: BackendClient, assertion: str, alg: str, kid: str, url: str) -> dict[str, Any]:
    jwk = jwks_mod.find(client.jwks, kid)
    if jwk is None:
        raise _invalid_client(f"no key with kid {_shown(kid)} is registered for this client")
    if jwks_mod.ALGORITHMS[alg] != jwk.get("kty"):
        raise _invalid_client(f"the key {_shown(kid)} is an {jwk.get('kty')} key: it cannot verify {alg}")
    key = jwt.PyJWK(jwk, algorithm=alg)
    try:
        return jwt.decode(
            assertion,
            key.key,
            algorithms=[alg],
            audience=url,
            issuer=client.client_id,
            # exp and nbf are checked against igflow's clock below, not the library's.
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt_errors.MissingRequiredClaimError as exc:
        raise _invalid_client(f"the client assertion has no {exc.claim} claim") from None
    except jwt_errors.InvalidTokenError as exc:
        for kind, words in _JWT_REFUSALS:
            if isinstance(exc, kind):
                raise _invalid_client(words.format(kid=_shown(kid), url=url)) from None
        raise _invalid_client("the client assertion cannot be verified") from None


def _check_claims(client: BackendClient, claims: dict[str, Any], now: datetime) -> tuple[str, datetime]:
    if claims.get("sub") != client.client_id:
        raise _invalid_client("sub must be your client_id, the same as iss")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise _invalid_client("exp must be a number of seconds since 1970")
    expires = datetime.fromtimestamp(exp, UTC)
    if expires + timedelta(seconds=LEEWAY_S) <= now:
        raise _invalid_client("the client assertion has expired (exp is past): make a new one")
    if expires > now + timedelta(seconds=MAX_ASSERTION_LIFETIME_S + LEEWAY_S):
        raise _invalid_client(
            "exp is more than five minutes ahead: an assertion may live five minutes at most"
        )
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and datetime.fromtimestamp(nbf, UTC) > now + timedelta(seconds=LEEWAY_S):
        raise _invalid_client("the client assertion is not valid yet (nbf is ahead)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _invalid_client("jti must be a unique string of at most 255 characters")
    return jti, expires


def _granted_scopes(client: BackendClient, requested: list[str]) -> list[str]:
    try:
        wanted = scopes_mod.parse_all(requested, resource_types())
        allowed = scopes_mod.parse_all(client.scopes, resource_types())
    except scopes_mod.ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    beyond = scopes_mod.not_within(wanted, allowed)
    if beyond:
        raise OAuthError(
            "invalid_scope",
            f"this client may not be granted {' '.join(s.text for s in beyond)} "
            f"(allowed: {' '.join(client.scopes)})",
        )
    return [s.text for s in wanted]


def _use_jti(session: Session, client: BackendClient, jti: str, expires: datetime, now: datetime) -> None:
    """Record the jti; a second use (even at the same moment, by the unique constraint) is refused."""
    session.execute(delete(ClientAssertionUse).where(ClientAssertionUse.expires_at < now))
    session.add(
        ClientAssertionUse(client_id=client.id, jti=jti, expires_at=expires + timedelta(seconds=LEEWAY_S))
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise _invalid_client("this client assertion (its jti) was used already: make a new one") from None


def exchange(session: Session, form: Mapping[str, str], token_url: str, client_address: str) -> Granted:
    """A signed client assertion for an access token (see the module's docstring for every check)."""
    now = utcnow()
    client: BackendClient | None = None
    try:
        assertion, requested = _check_request(form)
        alg, kid = _header(assertion)
        client = _client_of(session, assertion)
        claims = _verified_claims(client, assertion, alg, kid, token_url)
        jti, expires = _check_claims(client, claims, now)
        granted = _granted_scopes(client, requested)
        user = session.get(User, client.user_id)
        if user is None or not user.active:
            raise _invalid_client("the service account this client acts as is disabled")
        _use_jti(session, client, jti, expires, now)
        raw, token = access_tokens.issue_client_token(
            session,
            user,
            client_id=client.client_id,
            scopes=granted,
            now=now,
            lifetime_s=TOKEN_LIFETIME_S,
        )
        actor = Actor(user.id, client_actor_name(user.username, client.client_id), client_address)
        audit.record(
            session,
            actor,
            "fhir.token",
            "fhir_backend_client",
            client.id,
            detail={"client_id": client.client_id, "scopes": granted, "api_token_id": token.id},
        )
        session.commit()
        return Granted(raw, TOKEN_LIFETIME_S, " ".join(granted))
    except OAuthError as exc:
        session.rollback()
        if client is not None:
            _audit_refusal(session, client, exc, client_address)
        raise


def _audit_refusal(session: Session, client: BackendClient, exc: OAuthError, client_address: str) -> None:
    actor = Actor(None, client.client_id, client_address)
    audit.record(
        session,
        actor,
        "fhir.token",
        "fhir_backend_client",
        client.id,
        outcome="failure",
        detail={"client_id": client.client_id, "error": exc.error, "reason": exc.message},
    )
    session.commit()
