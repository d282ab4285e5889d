"""The FastAPI application: routers, middleware, error handling and the deny-by-default route check."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import BaseRoute, Mount
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from igflow import __version__
from igflow.appointments import pages as appointment_pages
from igflow.appointments.routes import router as appointments_router
from igflow.authorizations import pages as prior_auth_pages
from igflow.authorizations.routes import router as prior_auth_router
from igflow.config import Settings, get_settings
from igflow.costs import pages as cost_pages
from igflow.costs.routes import router as costs_router
from igflow.coverage.routes import router as coverage_router
from igflow.db import Database
from igflow.directory.routes import router as directory_router
from igflow.errors import IgflowError, Unauthenticated, field_errors
from igflow.fhir.routes import router as fhir_router
from igflow.fhir.smart import pages as fhir_client_pages
from igflow.fhir.smart.routes import router as fhir_clients_router
from igflow.home import delivery_pages, selflog_pages
from igflow.home import pages as home_pages
from igflow.home.delivery_routes import router as home_deliveries_router
from igflow.home.routes import router as home_router
from igflow.home.selflog_routes import router as selflog_router
from igflow.imports import pages as import_pages
from igflow.infusions import pages as infusion_pages
from igflow.infusions.routes import router as infusions_router
from igflow.inventory import pages as inventory_pages
from igflow.inventory.routes import router as inventory_router
from igflow.jobs import pages as job_pages
from igflow.jobs.queue import JobQueue
from igflow.jobs.routes import router as jobs_router
from igflow.logging_setup import exception_place
from igflow.messages import pages as message_pages
from igflow.messages import preference_pages as message_preference_pages
from igflow.openapi import install as install_openapi
from igflow.orders import pages as order_pages
from igflow.orders.routes import router as orders_router
from igflow.outcomes import pages as outcome_pages
from igflow.outcomes.routes import router as outcomes_router
from igflow.patients import edit_pages as patient_edit_pages
from igflow.patients import pages as patient_pages
from igflow.patients.routes import router as patients_router
from igflow.portal import pages as portal_pages
from igflow.portal import patient_pages as portal_patient_pages
from igflow.protocols import pages as protocol_pages
from igflow.protocols.routes import router as protocols_router
from igflow.referrals import pages as referral_pages
from igflow.referrals.routes import router as referrals_router
from igflow.reports import pages as report_pages
from igflow.reports import pages_b as report_pages_b
from igflow.reports.routes import router as reports_router
from igflow.request_guard import RequestGuardMiddleware
from igflow.security import pages as security_pages
from igflow.security.deps import route_permissions
from igflow.security.routes import router as security_router
from igflow.sites import pages as site_pages
from igflow.sites.routes import router as sites_router
from igflow.web import pages
from igflow.web.render import render

log = logging.getLogger("igflow.http")
UPLOAD_OVERHEAD_BYTES = 65536  # multipart boundaries and the form's other fields, beside the file
RETRY_AFTER_S = 2  # what a 503 (busy) asks the client to wait before trying again
BUSY_MESSAGE = "igflow is very busy right now and did not do this; please try again shortly."
# PostgreSQL's answers to contention, each after rolling the transaction back: lock_timeout
# (lock_not_available), serialization_failure and deadlock_detected.
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})
SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked")
STATIC_DIR = Path(__file__).parent / "web" / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fhir/"))


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    if route is None:
        return "(unmatched)"
    templates: dict[int, str] = getattr(request.app.state, "route_templates", {})
    return templates.get(id(route), getattr(route, "path", "(unmatched)"))


class HttpMiddleware(BaseHTTPMiddleware):
    """Security headers, a request-size cap, and an access log that never holds patient data.

    The log line carries the route *template* (``/api/v1/patients/{patient_id}``), never the
    concrete path or query string, which could carry names, MRNs or dates of birth.
    """

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        settings: Settings = request.app.state.settings
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES:
            response: Response = JSONResponse(
                {
                    "detail": f"The request is larger than {settings.max_upload_bytes // 1048576} MiB.",
                    "field": "file",
                },
                status_code=413,
            )
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if settings.https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.url.path.startswith(("/api/", "/fhir/")) or "text/html" in response.headers.get(
            "content-type", ""
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        log.info(
            "%s %s %s %.1fms",
            request.method,
            _route_template(request),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response


def _error_response(request: Request, status: int, message: str, field: str | None = None) -> Response:
    if _is_api(request):
        body: dict[str, Any] = {"detail": message}
        if field:
            body["field"] = field
        return JSONResponse(body, status_code=status)
    if status == 401:
        target = request.url.path
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def is_contention(exc: OperationalError) -> bool:
    """A lock wait that timed out or a transaction aborted for contention: retrying later succeeds."""
    if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return any(text in message for text in SQLITE_BUSY_MESSAGES)


def _busy_response(request: Request, reason: str) -> Response:
    logging.getLogger("igflow.error").warning(
        "%s on %s %s: answered 503", reason, request.method, _route_template(request)
    )
    response = _error_response(request, 503, BUSY_MESSAGE)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _unexpected_response(request: Request, exc: Exception) -> Response:
    reference = uuid.uuid4().hex[:12]
    # The exception's message may quote data (SQL parameters, say): log only its type and place.
    logging.getLogger("igflow.error").error(
        "unhandled %s at %s on %s %s (reference %s)",
        type(exc).__name__,
        exception_place(exc),
        request.method,
        _route_template(request),
        reference,
    )
    return _error_response(request, 500, f"Something went wrong on our side (reference {reference}).")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IgflowError)
    async def igflow_error(request: Request, exc: IgflowError) -> Response:
        if isinstance(exc, Unauthenticated) and _is_api(request):
            return JSONResponse(
                {"detail": exc.message}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return _error_response(request, exc.status_code, exc.message, exc.field)

    @app.exception_handler(ValidationError)
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError | ValidationError) -> Response:
        problems: list[str] = []
        fields: list[str] = []
        for name, message in field_errors(exc.errors()):
            if name not in fields:
                fields.append(name)
            problems.append(f"{name}: {message}")
        message = "; ".join(problems)
        if _is_api(request):
            return JSONResponse(
                {"detail": message, "field": fields[0] if fields else None, "errors": problems},
                status_code=422,
            )
        from igflow.web.forms import errors_of, failure_line  # a page says it in words, each field once

        return _error_response(request, 422, failure_line(errors_of(exc)))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # A number too large for the database (an id or a page far beyond 64 bits): the request's fault.
        return _error_response(
            request,
            422,
            "A number in the request is out of range (ids, pages and counts must fit in 64 bits).",
        )

    @app.exception_handler(PoolTimeout)
    async def busy(request: Request, exc: Exception) -> Response:
        # Every database connection stayed busy for the pool's timeout: a burst beyond what the pool
        # serves. Nothing was done; say so and when to retry (a 503, not an error of ours).
        return _busy_response(request, "database connection pool exhausted")

    @app.exception_handler(OperationalError)
    async def operational_error(request: Request, exc: OperationalError) -> Response:
        # A lock wait that timed out (SQLite's busy_timeout; PostgreSQL's lock_timeout) or a transaction
        # PostgreSQL chose to abort (deadlock, serialization): it was rolled back, so nothing was done, and
        # the same request succeeds once the burst passes. Any other OperationalError is ours: a 500.
        if is_contention(exc):
            return _busy_response(request, "database lock wait timed out")
        return _unexpected_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "Not found.", 405: "Method not allowed."}
        return _error_response(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return _unexpected_response(request, exc)


def iter_routes(app: FastAPI) -> list[tuple[str, set[str], BaseRoute]]:
    """Every route of the app as (path with prefix, methods, the original route), routers flattened."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            continue
        found.append((context.path or "", set(context.methods or ()), route))
    return found


def check_route_permissions(app: FastAPI) -> list[str]:
    """Routes that declare no permission, or more than one: the app refuses to start with any."""
    problems = []
    for path, methods, route in iter_routes(app):
        if not isinstance(route, APIRoute):
            problems.append(f"{path}: not an APIRoute, cannot carry a permission")
            continue
        perms = route_permissions(route)
        if len(perms) != 1:
            problems.append(f"{sorted(methods)} {path}: {len(perms)} permissions declared (need exactly 1)")
    return problems


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="igflow",
        version=__version__,
        description=(
            "Immunoglobulin therapy from referral to outcome. Decision support for qualified clinicians; "
            "it does not replace their judgement."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # The streamed body is capped too (chunked uploads send no Content-Length to pre-check).
        max_body_size=settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES,
    )
    app.state.settings = settings
    app.state.db = database or Database(settings.database_url, pool=settings.pool_options())
    app.state.jobs = JobQueue.from_settings(settings, app.state.db)
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(HttpMiddleware)  # its headers go on the guard's answers too
    trusted = [host.strip() for host in settings.trusted_proxies.split(",") if host.strip()]
    if trusted:
        # Outermost: the client address every later step sees is the one the trusted proxy reported.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    _install_error_handlers(app)
    for router in (
        security_router,
        patients_router,
        referrals_router,
        orders_router,
        appointments_router,
        inventory_router,
        infusions_router,
        jobs_router,
        sites_router,
        directory_router,
        protocols_router,
        outcomes_router,
        costs_router,
        coverage_router,
        prior_auth_router,
        home_router,
        home_deliveries_router,
        selflog_router,
        fhir_clients_router,
        reports_router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(fhir_router)  # /fhir/R4: read and search, OperationOutcome errors
    app.include_router(pages.router)
    app.include_router(patient_pages.router)
    app.include_router(patient_edit_pages.router)
    app.include_router(message_preference_pages.router)
    app.include_router(portal_pages.router)
    app.include_router(portal_patient_pages.router)  # /my/measures, /my/costs, /my/caregivers
    app.include_router(referral_pages.router)
    app.include_router(site_pages.router)
    app.include_router(security_pages.router)
    app.include_router(fhir_client_pages.router)
    app.include_router(order_pages.router)
    app.include_router(appointment_pages.router)
    app.include_router(inventory_pages.router)
    app.include_router(infusion_pages.router)
    app.include_router(protocol_pages.router)
    app.include_router(job_pages.router)
    app.include_router(outcome_pages.router)
    app.include_router(cost_pages.router)
    app.include_router(prior_auth_pages.router)
    app.include_router(home_pages.router)
    app.include_router(delivery_pages.router)
    app.include_router(selflog_pages.router)
    app.include_router(message_pages.router)
    app.include_router(report_pages.router)
    app.include_router(import_pages.router)
    app.include_router(report_pages_b.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_openapi(app)
    app.state.route_templates = {id(route): path for path, _methods, route in iter_routes(app)}
    problems = check_route_permissions(app)
    if problems:
        raise RuntimeError("Routes without exactly one permission (deny by default):\n" + "\n".join(problems))
    return app
