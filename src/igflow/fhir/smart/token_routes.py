"""``POST /fhir/R4/auth/token`` (the OAuth 2.0 token endpoint of SMART Backend Services) and
``GET /fhir/R4/.well-known/smart-configuration`` (its discovery document). Both public, like ``metadata``.

The token endpoint answers OAuth 2.0 JSON, errors included (``{"error": ..., "error_description": ...}``,
RFC 6749 section 5.2), never an OperationOutcome. Its caller proves who it is with the signed assertion in
the form, so it reads no cookie and has no CSRF check (:func:`igflow.security.deps.client_credentials`).
These routes are included into the FHIR router ahead of its catch-all routes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from igflow.errors import IgflowError
from igflow.fhir.smart import service
from igflow.security.deps import client_address, client_credentials, get_session, public
from igflow.security.principal import Principal

TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a secret
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


class OAuthRoute(APIRoute):
    """Every error while handling the request (the dependencies' included) as OAuth 2.0 error JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except service.OAuthError as exc:
                return oauth_error(exc.status_code, exc.error, exc.message)
            except IgflowError as exc:
                return oauth_error(400, "invalid_request", exc.message)
            except RequestValidationError:
                return oauth_error(400, "invalid_request", "The request cannot be read.")
            except StarletteHTTPException as exc:
                return oauth_error(exc.status_code, "invalid_request", str(exc.detail))

        return oauth_handler


router = APIRouter(route_class=OAuthRoute, include_in_schema=False, tags=["fhir"])


def fhir_base(request: Request) -> str:
    from igflow.fhir.routes import PREFIX  # the FHIR router includes this one

    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


def token_url(request: Request) -> str:
    """The URL a client's assertion names in ``aud``: this endpoint's, as the client reached it."""
    return fhir_base(request) + TOKEN_PATH


def smart_configuration(base: str) -> dict[str, Any]:
    return {
        "token_endpoint": base + TOKEN_PATH,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(service.SIGNING_ALGORITHMS),
        "grant_types_supported": [service.GRANT_TYPE],
        "scopes_supported": service.scopes_supported(),
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    }


@router.get("/.well-known/smart-configuration")
def discovery(request: Request, _principal: Principal | None = public()) -> Response:
    return JSONResponse(smart_configuration(fhir_base(request)))


@router.post(TOKEN_PATH)
async def token(
    request: Request,
    _principal: Principal | None = client_credentials(),
    session: Session = Depends(get_session),
) -> Response:
    """client_credentials with a signed JWT client assertion (private_key_jwt) -> a five-minute token."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return oauth_error(
            400, "invalid_request", "Send the token request form-encoded (application/x-www-form-urlencoded)."
        )
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    granted = await run_in_threadpool(
        service.exchange, session, fields, token_url(request), client_address(request)
    )
    return JSONResponse(granted.as_json(), headers=NO_STORE)
