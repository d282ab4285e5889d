"""Pages of the managers' reports: the index of the reports the user may open, chair utilisation, on-time
therapy and outcomes, each with its filters, charts with their tables, and CSV/XLSX downloads
(``<page>/download?format=csv|xlsx&<filters>``; CSV holds one table, ``table=<n>`` picks which)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.patients import service as patients_service
from igflow.reports import on_time, service
from igflow.reports.table import FORMATS, Table, download
from igflow.security.deps import get_session, require, route_permissions
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

#: every report page the index may list: (path, title, what it shows). Shown when the app has the page
#: and the user holds its permission (read from the route itself, so the index never disagrees with it).
REPORTS: tuple[tuple[str, str, str], ...] = (
    (
        "/reports/utilisation",
        "Chair utilisation",
        "Chairs in use against staffed capacity by centre, weekday "
        "and hour; the mid-day peak; first-case start delay and the wait from check-in to start.",
    ),
    (
        "/reports/on-time",
        "On-time therapy",
        "Maintenance courses given within their window, by indication "
        "and centre; courses left waiting and why.",
    ),
    (
        "/reports/outcomes",
        "Outcomes",
        "Responders and non-responders per indication after the review "
        "cycles; patients past their review date.",
    ),
    (
        "/reports/prior-auth",
        "Prior authorisation",
        "Requests by state, days to a decision by payer, denials and appeals; authorisations expiring.",
    ),
    (
        "/reports/drug",
        "Drug",
        "Grams dispensed, partial-vial waste, expiry losses, cost per cycle and stock turns.",
    ),
    ("/reports/safety", "Safety", "Reaction rates beside the published baseline, with confidence intervals."),
    ("/reports/cost", "Drug cost", "Monthly drug cost per centre and payer; cost per patient and cycle."),
    (
        "/reports/reactions",
        "Reactions",
        "Reaction rates per product, indication and first or later infusion.",
    ),
)

PAGES = {
    "utilisation": ("reports/utilisation.html", "chair-utilisation"),
    "on-time": ("reports/on_time.html", "on-time-therapy"),
    "outcomes": ("reports/outcomes.html", "outcomes"),
}


def _permission(request: Request, path: str) -> Perm | None:
    from igflow.app import iter_routes  # the app includes this module's router

    for route_path, methods, route in iter_routes(request.app):
        if route_path == path and "GET" in methods and isinstance(route, APIRoute):
            perms = route_permissions(route)
            return perms[0] if len(perms) == 1 else None
    return None


@router.get("/reports", response_class=HTMLResponse)
def reports_index(request: Request, principal: Principal = require(Perm.SITE_READ)) -> Response:
    shown = []
    for path, title, about in REPORTS:
        perm = _permission(request, path)
        if perm is not None and principal.can(perm):
            shown.append({"path": path, "title": title, "about": about})
    return render(request, "reports/index.html", {"reports": shown})


def _page(request: Request, session: Session, principal: Principal, name: str) -> Response:
    parsed = service.parse_filters(session, principal, request.query_params)
    report = service.build(session, principal, name, parsed.filters) if parsed.filters else None
    template, _file = PAGES[name]
    context: dict[str, Any] = {
        "report": report,
        "values": parsed.values,
        "errors": parsed.errors,
        "options": service.options(session, principal),
        "action": request.url.path,
        "query": parsed.filters.query() if parsed.filters else "",
        "tables": report.tables() if report is not None else [],
        "names": {},
        "reason_words": on_time.REASON_WORDS,
    }
    if report is not None and name in ("on-time", "outcomes"):
        ids = (
            {r.patient_id for r in report.waiting}
            if name == "on-time"
            else {p.row.patient_id for p in report.past_review()}
        )
        context["names"] = patients_service.display_names(session, ids)
    return render(request, template, context, status_code=422 if parsed.errors else 200)


def _download(request: Request, session: Session, principal: Principal, name: str) -> Response:
    fmt = request.query_params.get("format", "csv")
    if fmt not in FORMATS:
        raise InvalidInput(f"format: choose one of {', '.join(FORMATS)}", "format")
    parsed = service.parse_filters(session, principal, request.query_params)
    if parsed.filters is None:
        field, message = next(iter(parsed.errors.items()))
        raise InvalidInput(f"{field}: {message}", field)
    report = service.build(session, principal, name, parsed.filters, fmt)
    tables: list[Table] = report.tables()
    if fmt == "csv":
        pick = request.query_params.get("table", "1")
        if not pick.isdigit() or not 1 <= int(pick) <= len(tables):
            raise InvalidInput(f"table: choose a table from 1 to {len(tables)}", "table")
        tables = [tables[int(pick) - 1]]
    _template, stem = PAGES[name]
    filename = f"{stem}-{parsed.filters.start.isoformat()}-to-{parsed.filters.end.isoformat()}"
    return download(tables, fmt, filename)


@router.get("/reports/utilisation", response_class=HTMLResponse)
def utilisation_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, "utilisation")


@router.get("/reports/utilisation/download")
def utilisation_download(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, "utilisation")


@router.get("/reports/on-time", response_class=HTMLResponse)
def on_time_page(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, "on-time")


@router.get("/reports/on-time/download")
def on_time_download(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, "on-time")


@router.get("/reports/outcomes", response_class=HTMLResponse)
def outcomes_page(
    request: Request,
    principal: Principal = require(Perm.OUTCOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, "outcomes")


@router.get("/reports/outcomes/download")
def outcomes_download(
    request: Request,
    principal: Principal = require(Perm.OUTCOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, "outcomes")
