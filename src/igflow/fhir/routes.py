"""The FHIR R4 router at ``/fhir/R4``: metadata, and a read and a search route per resource type.

Thin: parse, authorise (each route declares the read permission of its data; a SMART backend client's
token must also hold a scope covering the type and interaction), call the service, answer
``application/fhir+json``. Every error, the permission refusals included, is an OperationOutcome (the route
class catches them). Patient also has vread and instance history (versions rebuilt from its change log,
:mod:`igflow.fhir.service.history`); the writes igflow owns are ``PUT Patient/[id]`` and ``POST Observation``
(:mod:`igflow.fhir.service.writes`), each with the permission of the same write in igflow's API and a SMART
write scope. Another type or another write (``/fhir/R4/X`` and ``/fhir/R4/X/id``, any method) is a 404 or
405 OperationOutcome from the last two routes, for any signed-in user. The routes stay out of the OpenAPI
document: the CapabilityStatement describes them, and their errors are not igflow's JSON error shape.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from igflow.db import utcnow
from igflow.errors import Forbidden, IgflowError, NotFound
from igflow.fhir import search as fhir_search
from igflow.fhir.bulk import routes as bulk_routes
from igflow.fhir.bundle import etag, history, operation_outcome, searchset
from igflow.fhir.capability import capability_statement
from igflow.fhir.search import BadRequest, NotSupported
from igflow.fhir.service import engine
from igflow.fhir.service import history as fhir_history
from igflow.fhir.service import writes as fhir_writes
from igflow.fhir.service.engine import Kind
from igflow.fhir.service.registry import BY_NAME, KINDS
from igflow.fhir.smart import scopes as smart_scopes
from igflow.fhir.smart import token_routes as smart_routes
from igflow.security.deps import get_session, public, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

FHIR_JSON = "application/fhir+json"
PREFIX = "/fhir/R4"


class FhirResponse(Response):
    media_type = FHIR_JSON


def fhir_response(
    resource: FHIRAbstractModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return FhirResponse(resource.model_dump_json(), status_code=status_code, headers=headers)


def outcome_response(status: int, message: str, field: str | None = None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return fhir_response(operation_outcome(status, message, field), status, headers)


class FhirRoute(APIRoute):
    """Answers every error raised while handling the request (dependencies included) as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except IgflowError as exc:
                return outcome_response(exc.status_code, exc.message, exc.field)
            except RequestValidationError:
                return outcome_response(400, "The request cannot be read.")
            except StarletteHTTPException as exc:
                return outcome_response(exc.status_code, str(exc.detail))

        return fhir_handler


router = APIRouter(prefix=PREFIX, route_class=FhirRoute, include_in_schema=False, tags=["fhir"])


class NotAcceptable(IgflowError):
    status_code = 406


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


def _check_format(request: Request) -> None:
    """JSON only: an Accept header that takes no JSON is a 406; ``_format`` other than JSON a 400."""
    accept = request.headers.get("accept", "").lower()
    if accept and not any(t in accept for t in ("json", "*/*", "application/*")):
        raise NotAcceptable("Only application/fhir+json is served (no XML).")
    fmt = request.query_params.get(fhir_search.FORMAT)
    if fmt and fmt.strip().lower() not in fhir_search.JSON_FORMATS:
        raise BadRequest(f"_format: only JSON is served (application/fhir+json), not {fmt!r}", "_format")


@router.get("/metadata")
def metadata(request: Request, _principal: Principal | None = public()) -> Response:
    _check_format(request)
    return fhir_response(capability_statement(_base(request), utcnow()))


def _check_scope(principal: Principal, kind: Kind, interaction: str) -> None:
    """A SMART backend client's token reaches only what its scopes cover (on top of the service account's
    roles and site limits); a session or an ordinary API token carries no scopes and is not limited here."""
    if principal.scopes is None:
        return
    granted = smart_scopes.parse_all(principal.scopes, [k.name for k in KINDS])
    if not smart_scopes.covers(granted, kind.name, interaction):
        held = " ".join(sorted(principal.scopes))
        raise Forbidden(
            f"The access token's scopes ({held}) do not cover {interaction} of {kind.name}: that needs "
            f"{smart_scopes.needed(kind.name, interaction)} (or system/{kind.name}."
            f"{'read' if interaction in (smart_scopes.READ, smart_scopes.SEARCH) else 'write'})."
        )


def _matches_etag(request: Request, tag: str) -> bool:
    """If-None-Match names this version (``W/"2"``, ``"2"``, a list of them, or ``*``)."""
    wanted = request.headers.get("if-none-match")
    if not wanted:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in tags or tag.removeprefix("W/") in tags


def versioned_response(request: Request, kind: Kind, item: engine.Item) -> Response:
    """The resource with its ETag (versioned types); 304 without a body when If-None-Match names it."""
    meta = getattr(item.resource, "meta", None)
    if not (kind.versioned and meta is not None and meta.versionId):
        return fhir_response(item.resource)
    headers = {"ETag": etag(str(meta.versionId))}
    if meta.lastUpdated is not None:
        headers["Last-Modified"] = format_datetime(meta.lastUpdated.astimezone(dt.UTC), usegmt=True)
    if _matches_etag(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return fhir_response(item.resource, headers=headers)


def _read_route(kind: Kind) -> Callable[..., Response]:
    def read(
        request: Request,
        principal: Principal = require(kind.read_permission),
        session: Session = Depends(get_session),
    ) -> Response:
        _check_format(request)
        _check_scope(principal, kind, smart_scopes.READ)
        item = engine.read(session, principal, kind, request.path_params[kind.path_param])
        return versioned_response(request, kind, item)

    read.__name__ = f"read_{kind.name.lower()}"
    return read


def _search_route(kind: Kind) -> Callable[..., Response]:
    def search(
        request: Request,
        principal: Principal = require(kind.search_permission),
        session: Session = Depends(get_session),
    ) -> Response:
        _check_format(request)
        _check_scope(principal, kind, smart_scopes.SEARCH)
        params = fhir_search.parse(kind.name, request.query_params.multi_items(), kind.search_names)
        total, items = engine.search(session, principal, kind, params)
        return fhir_response(searchset(_base(request), params, total, items, utcnow()))

    search.__name__ = f"search_{kind.name.lower()}"
    return search


# Bulk Data $export, ahead of the reads (so that /Patient/$export is not read as a Patient's id)
bulk_routes.register(router)

for _kind in KINDS:
    router.add_api_route(f"/{_kind.name}", _search_route(_kind), methods=["GET"])
    router.add_api_route(f"/{_kind.name}/{{{_kind.path_param}}}", _read_route(_kind), methods=["GET"])


# --- vread and instance history of the versioned types (Patient) ------------------------------------------


def _history_route(kind: Kind) -> Callable[..., Response]:
    def history_instance(
        request: Request,
        principal: Principal = require(kind.read_permission),
        session: Session = Depends(get_session),
    ) -> Response:
        _check_format(request)
        _check_scope(principal, kind, smart_scopes.READ)
        fhir_search.parse(kind.name, request.query_params.multi_items(), ())  # _since, _at...: 400
        ident = request.path_params[kind.path_param]
        items, _history = fhir_history.HISTORIES[kind.name].versions(session, principal, ident)
        return fhir_response(history(_base(request), kind.name, ident, items, utcnow()))

    history_instance.__name__ = f"history_{kind.name.lower()}"
    return history_instance


def _vread_route(kind: Kind) -> Callable[..., Response]:
    def vread(
        request: Request,
        principal: Principal = require(kind.read_permission),
        session: Session = Depends(get_session),
    ) -> Response:
        _check_format(request)
        _check_scope(principal, kind, smart_scopes.READ)
        ident, version_id = request.path_params[kind.path_param], request.path_params["version_id"]
        item = fhir_history.HISTORIES[kind.name].version(session, principal, ident, version_id)
        return versioned_response(request, kind, item)

    vread.__name__ = f"vread_{kind.name.lower()}"
    return vread


for _kind in KINDS:
    if _kind.name in fhir_history.HISTORIES:
        _path = f"/{_kind.name}/{{{_kind.path_param}}}/_history"
        router.add_api_route(_path, _history_route(_kind), methods=["GET"])
        router.add_api_route(f"{_path}/{{version_id}}", _vread_route(_kind), methods=["GET"])


# --- the writes igflow owns: PUT Patient (demographics), POST Observation (outside lab results) ------------


async def raw_body(request: Request) -> bytes:
    """The request's body, unread as yet (a dependency declared after the permission check)."""
    return await request.body()


def _json(request: Request, raw: bytes) -> Callable[[], Any]:
    """Reads the body as JSON when the service asks (after it has checked what needs no body)."""

    def read() -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/fhir+json", "application/json"):
            raise BadRequest("Send the resource as application/fhir+json.")
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest("The body is not JSON.") from None

    return read


def _location(request: Request, resource: Any) -> str:
    return f"{_base(request)}/{resource.get_resource_type()}/{resource.id}"


@router.put("/Patient/{patient_id}")
def update_patient(
    request: Request,
    principal: Principal = require(Perm.PATIENT_WRITE),
    raw: bytes = Depends(raw_body),
    session: Session = Depends(get_session),
) -> Response:
    """Demographics only, with If-Match; the change reason from the extension or X-Change-Reason."""
    kind = BY_NAME["Patient"]
    _check_format(request)
    _check_scope(principal, kind, smart_scopes.UPDATE)
    ident = request.path_params["patient_id"]
    item = fhir_writes.update_patient(
        session,
        principal,
        ident,
        _json(request, raw),
        request.headers.get("if-match"),
        request.headers.get("x-change-reason"),
    )
    response = versioned_response(request, kind, item)
    version = item.resource.meta.versionId
    response.headers["Content-Location"] = f"{_location(request, item.resource)}/_history/{version}"
    return response


@router.post("/Observation")
def create_observation(
    request: Request,
    principal: Principal = require(Perm.MEASUREMENT_WRITE),
    raw: bytes = Depends(raw_body),
    session: Session = Depends(get_session),
) -> Response:
    """An outside lab result: a LOINC code igflow maps, in the catalog's unit (201, Location)."""
    _check_format(request)
    _check_scope(principal, BY_NAME["Observation"], smart_scopes.CREATE)
    item = fhir_writes.create_observation(session, principal, _json(request, raw))
    return fhir_response(item.resource, 201, {"Location": _location(request, item.resource)})


# SMART Backend Services (discovery and the token endpoint), ahead of the catch-all routes below
router.include_router(smart_routes.router)

_OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _unsupported(request: Request) -> Response:
    if request.method != "GET":
        raise NotSupported(
            f"{request.method} is not supported here: this FHIR server reads and searches, and writes "
            f"only PUT Patient/[id] and POST Observation (see {PREFIX}/metadata)."
        )
    raise NotFound(
        f"{request.url.path} is not served here: see {PREFIX}/metadata for the resource types and "
        "interactions supported."
    )


@router.api_route("/{fhir_type}", methods=_OTHER_METHODS)
def other_type(request: Request, _principal: Principal = require(Perm.AUTHENTICATED)) -> Response:
    """Another resource type, or a write to a served one: an OperationOutcome saying so."""
    return _unsupported(request)


@router.api_route("/{fhir_type}/{fhir_id}", methods=_OTHER_METHODS)
def other_instance(request: Request, _principal: Principal = require(Perm.AUTHENTICATED)) -> Response:
    """A resource of another type, an operation, or a write to a resource: an OperationOutcome saying so."""
    return _unsupported(request)
