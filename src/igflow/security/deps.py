"""FastAPI dependencies: the database session, the current principal and the permission every route declares.

Every route depends on exactly one :func:`require` (or :func:`public`); the app refuses to start when a
route has none (deny by default), and a test walks every route to prove it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from igflow.config import Settings
from igflow.errors import Forbidden, InvalidInput, Unauthenticated
from igflow.request_guard import form_problem
from igflow.security import csrf, service
from igflow.security.permissions import CAREGIVER_MAY_POST, Perm, Role, refusal
from igflow.security.principal import Principal

SESSION_COOKIE = "igflow_session"
PRELOGIN_CSRF_COOKIE = "igflow_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessionmaker() as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The peer's address; behind a proxy listed in IGFLOW_TRUSTED_PROXIES, the address it reported."""
    return request.client.host if request.client else "unknown"


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _submitted_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if _is_form(request):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def _refuse_nul_in_form(request: Request) -> None:
    """Every form's text fields, checked once here (JSON bodies are checked by the request guard)."""
    if _is_form(request):
        problem = form_problem(await request.form())
        if problem is not None:
            raise InvalidInput(problem[1], problem[0])


def prelogin_key(request: Request, session: Session) -> bytes:
    key: bytes | None = getattr(request.app.state, "prelogin_csrf_key", None)
    if key is None:
        key = csrf.load_key(session)
        request.app.state.prelogin_csrf_key = key
    return key


def valid_prelogin_csrf(request: Request, session: Session) -> str | None:
    """The pre-login CSRF cookie if this server issued it (a planted value is ignored), else None."""
    token = request.cookies.get(PRELOGIN_CSRF_COOKIE)
    return token if csrf.is_valid(prelogin_key(request, session), token) else None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


#: Where a SMART backend client's access token may be used (it carries FHIR scopes, nothing else)
SMART_TOKEN_PATHS = ("/fhir/R4/",)


class Requirement:
    """A route's declared permission, usable as a FastAPI dependency that returns the principal.

    ``credentials_in_body``: a public machine endpoint whose caller proves who it is in the request body
    (the OAuth token endpoint's signed client assertion). Cookies and bearer tokens are not read there,
    so no ambient authority is used and the CSRF check (which protects exactly that) does not apply.
    """

    def __init__(self, permission: Perm, *, credentials_in_body: bool = False) -> None:
        self.permission = permission
        self.credentials_in_body = credentials_in_body

    def __repr__(self) -> str:
        if self.credentials_in_body:
            return "client_credentials()"
        return f"require({self.permission.value})"

    async def __call__(self, request: Request, session: Session = Depends(get_session)) -> Principal | None:
        if self.credentials_in_body:
            request.state.principal = None
            if request.method not in SAFE_METHODS:
                await _refuse_nul_in_form(request)
            return None
        settings: Settings = request.app.state.settings
        address = client_address(request)
        principal: Principal | None = None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            principal = await run_in_threadpool(service.resolve_token, session, auth[7:].strip(), address)
            if principal is None:
                raise Unauthenticated("The API token is invalid, expired or revoked.")
            if principal.scopes is not None and not request.url.path.startswith(SMART_TOKEN_PATHS):
                raise Forbidden("This access token is for the FHIR API (/fhir/R4) only.")
        else:
            raw = request.cookies.get(SESSION_COOKIE)
            if raw:
                principal = await run_in_threadpool(service.resolve_session, session, settings, raw, address)
        request.state.principal = principal
        if principal is None and self.permission is not Perm.PUBLIC:
            raise Unauthenticated("Sign in to continue.")

        if request.method not in SAFE_METHODS and not (principal is not None and principal.via_token):
            submitted = await _submitted_csrf(request)
            if principal is not None:
                expected = principal.csrf_token
            else:
                expected = await run_in_threadpool(valid_prelogin_csrf, request, session)
            if not _same(submitted, expected):
                raise Forbidden(
                    "The form has expired or did not come from igflow (CSRF check). Reload and try again."
                )
        if request.method not in SAFE_METHODS:
            await _refuse_nul_in_form(request)

        if principal is None:
            return None  # a public route
        if not principal.can(self.permission):
            raise Forbidden(refusal(self.permission))
        if (
            self.permission is Perm.PATIENT_SELF
            and Role.CAREGIVER in principal.roles
            and request.method not in SAFE_METHODS
            and not request.url.path.startswith(CAREGIVER_MAY_POST)
        ):
            raise Forbidden(
                "A caregiver reads the patient's pages, asks the team on My requests and fills in the "
                "symptom diary; only the patient changes anything else here. Ask the patient, or the "
                "infusion team."
            )
        return principal


_REQUIREMENTS: dict[Perm, Requirement] = {}


def require(permission: Perm) -> Any:
    """``principal: Principal = require(Perm.PATIENT_READ)`` declares the route's permission."""
    if permission not in _REQUIREMENTS:
        _REQUIREMENTS[permission] = Requirement(permission)
    return Depends(_REQUIREMENTS[permission])


def public() -> Any:
    return require(Perm.PUBLIC)


_CLIENT_CREDENTIALS = Requirement(Perm.PUBLIC, credentials_in_body=True)


def client_credentials() -> Any:
    """A public route whose caller authenticates in the body (no session, no bearer, no CSRF check)."""
    return Depends(_CLIENT_CREDENTIALS)


def new_prelogin_csrf(request: Request, session: Session) -> str:
    return csrf.issue(prelogin_key(request, session))


def route_permissions(route: BaseRoute) -> list[Perm]:
    """Every permission declared on a route (through its dependency tree)."""
    if not isinstance(route, APIRoute):
        return []
    found: list[Perm] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Requirement):
            found.append(dep.call.permission)
        stack.extend(dep.dependencies)
    return found
