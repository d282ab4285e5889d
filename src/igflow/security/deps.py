"""FastAPI dependencies: the database session, the current principal and the permission every route declares.

Every route depends on exactly one :func:`require` (or :func:`public`); the app refuses to start when a
route has none (deny by default), and a test walks every route to prove it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from igflow.config import Settings
from igflow.errors import Forbidden, Unauthenticated
from igflow.security import service
from igflow.security.permissions import Perm
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
    return request.client.host if request.client else "unknown"


async def _submitted_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


class Requirement:
    """A route's declared permission, usable as a FastAPI dependency that returns the principal."""

    def __init__(self, permission: Perm) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"require({self.permission.value})"

    async def __call__(self, request: Request, session: Session = Depends(get_session)) -> Principal | None:
        settings: Settings = request.app.state.settings
        address = client_address(request)
        principal: Principal | None = None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            principal = await run_in_threadpool(service.resolve_token, session, auth[7:].strip(), address)
            if principal is None:
                raise Unauthenticated("The API token is invalid, expired or revoked.")
        else:
            raw = request.cookies.get(SESSION_COOKIE)
            if raw:
                principal = await run_in_threadpool(service.resolve_session, session, settings, raw, address)
        request.state.principal = principal
        if principal is None and self.permission is not Perm.PUBLIC:
            raise Unauthenticated("Sign in to continue.")

        if request.method not in SAFE_METHODS and not (principal is not None and principal.via_token):
            submitted = await _submitted_csrf(request)
            expected = principal.csrf_token if principal else request.cookies.get(PRELOGIN_CSRF_COOKIE)
            if not _same(submitted, expected):
                raise Forbidden(
                    "The form has expired or did not come from igflow (CSRF check). Reload and try again."
                )

        if principal is None:
            return None  # a public route
        if not principal.can(self.permission):
            raise Forbidden(f"Your role does not allow this ({self.permission.value}).")
        return principal


_REQUIREMENTS: dict[Perm, Requirement] = {}


def require(permission: Perm) -> Any:
    """``principal: Principal = require(Perm.PATIENT_READ)`` declares the route's permission."""
    if permission not in _REQUIREMENTS:
        _REQUIREMENTS[permission] = Requirement(permission)
    return Depends(_REQUIREMENTS[permission])


def public() -> Any:
    return require(Perm.PUBLIC)


def new_prelogin_csrf() -> str:
    return secrets.token_urlsafe(32)


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
