"""Pages and downloads of the prior-authorisation, drug and safety reports (thin: read the query, call the
report's service, render or download).

``/reports/<name>`` shows the report with its filters; ``/reports/<name>/download?format=csv|xlsx&<filters>``
gives its tables (CSV: one table, chosen with ``table=``, the first by default; XLSX: a sheet per table).
Refused filters: the page shows the problem beside its field (a 422) with the default period; a download
refuses with the same words. Every read and download is audited by the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.costs.panels import money as money  # registers the ``money`` filter
from igflow.errors import InvalidInput
from igflow.reports import drug_service, prior_auth_service, safety_service, service_b
from igflow.reports.service_b import ReportView
from igflow.reports.table import FORMATS, download
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.render import TEMPLATES, field_error, render

router = APIRouter(include_in_schema=False)

Builder = Callable[[Session, Principal, Mapping[str, str]], ReportView]
FIELD_LABELS = {
    "start": "From",
    "end": "To",
    "centre": "Centre",
    "product": "Product",
    "indication": "Indication",
    "payer": "Payer",
    "format": "Format",
    "table": "Table",
}


def _page(
    request: Request, session: Session, principal: Principal, build: Builder, template: str
) -> Response:
    params = dict(request.query_params)
    view = build(session, principal, params)
    service_b.audit_read(session, principal, view)
    errors = {}
    if view.error is not None:
        name = view.error.field or "start"
        errors[name] = field_error(name, view.error.message)
    shown = {k: v for k, v in params.items() if k in FIELD_LABELS} if view.error else view.filters.query()
    return render(
        request,
        template,
        {
            "view": view,
            "values": {**view.filters.query(), **shown},
            "errors": errors,
            "labels": FIELD_LABELS,
            "download_query": urlencode(view.filters.query()),
        },
        status_code=422 if errors else 200,
    )


def _download(request: Request, session: Session, principal: Principal, build: Builder) -> Response:
    params = dict(request.query_params)
    fmt = params.get("format", "")
    if fmt not in FORMATS:
        raise InvalidInput(f"format: choose one of {', '.join(FORMATS)}", "format")
    view = build(session, principal, params)
    if view.error is not None:
        raise view.error
    table = params.get("table") or next(iter(view.tables))
    if table not in view.tables:
        raise InvalidInput(f"table: choose one of {', '.join(view.tables)}", "table")
    service_b.audit_download(session, principal, view, fmt, table)
    f = view.filters
    stem = f"igflow-{view.name}-{f.start.isoformat()}-to-{f.end.isoformat()}"
    if fmt == "csv":
        return download(view.tables[table], fmt, f"{stem}-{table}")
    return download(list(view.tables.values()), fmt, stem)


@router.get("/reports/prior-auth", response_class=HTMLResponse)
def prior_auth_page(
    request: Request,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, prior_auth_service.report, "reports/prior_auth.html")


@router.get("/reports/prior-auth/download")
def prior_auth_download(
    request: Request,
    principal: Principal = require(Perm.PRIOR_AUTH_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, prior_auth_service.report)


@router.get("/reports/drug", response_class=HTMLResponse)
def drug_page(
    request: Request,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, drug_service.report, "reports/drug.html")


@router.get("/reports/drug/download")
def drug_download(
    request: Request,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, drug_service.report)


@router.get("/reports/safety", response_class=HTMLResponse)
def safety_page(
    request: Request,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, safety_service.report, "reports/safety.html")


@router.get("/reports/safety/download")
def safety_download(
    request: Request,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _download(request, session, principal, safety_service.report)


def cell(value: Any, unit: str | None) -> str:
    """A table cell as the page shows it: dollars with cents, numbers without float noise, dates ISO."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "US$":
        return f"${value:,.2f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


TEMPLATES.env.filters["report_cell"] = cell
