"""JSON API of the managers' reports of chairs, timeliness and outcomes: the same tables as the pages and
downloads, with the same filters (``start``, ``end``, ``centre``, ``indication``, ``product``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.reports import service
from igflow.reports.table import Table
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["reports"])


def table_json(table: Table) -> dict[str, Any]:
    return {
        "title": table.title,
        "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in table.columns],
        "rows": [dict(r) for r in table.rows],
        "notes": list(table.notes),
    }


def _report(request: Request, session: Session, principal: Principal, name: str) -> dict[str, Any]:
    parsed = service.parse_filters(session, principal, request.query_params)
    if parsed.filters is None:
        field, message = next(iter(parsed.errors.items()))
        raise InvalidInput(f"{field}: {message}", field)
    report = service.build(session, principal, name, parsed.filters)
    return jsonable_encoder(
        {
            "report": name,
            "filters": parsed.filters.detail(),
            "tables": [table_json(t) for t in report.tables()],
        }
    )


@router.get("/reports/utilisation")
def utilisation(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """Chair utilisation against staffed capacity, the peak hour, first-case delay and check-in wait."""
    return _report(request, session, principal, "utilisation")


@router.get("/reports/on-time")
def on_time(
    request: Request,
    principal: Principal = require(Perm.SCHEDULE_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """Maintenance courses given within their window, by indication and centre; courses waiting and why."""
    return _report(request, session, principal, "on-time")


@router.get("/reports/outcomes")
def outcomes(
    request: Request,
    principal: Principal = require(Perm.OUTCOME_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """Responders and non-responders per indication after the review cycles; orders past their review."""
    return _report(request, session, principal, "outcomes")
