"""Pages of the cost capability: the Prices page (history per product, the add form) and the cost report.
The cost panels of the order, course and infusion pages are drawn by those pages from
``igflow.costs.panels``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.costs import core, service
from igflow.costs.panels import money as money  # registers the ``money`` filter
from igflow.costs.schemas import PriceIn
from igflow.errors import IgflowError, InvalidInput
from igflow.patients import service as patients_service
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import field_error, render

router = APIRouter(include_in_schema=False)

#: the form's input for each service field, where they differ
_FORM_FIELDS = {"cents_per_gram": "price_per_gram"}


def _prices_page(
    request: Request,
    session: Session,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    products = service.list_prices(session)
    people = security_service.display_names(
        session, {r.recorded_by_user_id for p in products for r in p.prices if r.recorded_by_user_id}
    )
    return render(
        request,
        "costs/prices.html",
        {"products": products, "people": people, "values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/prices", response_class=HTMLResponse)
def prices_page(
    request: Request,
    principal: Principal = require(Perm.PRICE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    return _prices_page(request, session)


def _price_in(values: dict[str, Any]) -> PriceIn:
    text = str(values.get("price_per_gram", "")).strip()
    if not text:
        raise InvalidInput(
            "cents_per_gram: enter the price of one gram in US dollars, such as 82.50", "cents_per_gram"
        )
    try:
        cents = core.parse_dollars(text)
    except ValueError as exc:
        raise InvalidInput(
            f"cents_per_gram: {exc}; enter dollars and cents, such as 82.50", "cents_per_gram"
        ) from None
    return PriceIn.model_validate(
        {
            "product_id": values.get("product_id", ""),
            "cents_per_gram": cents,
            "effective_from": values.get("effective_from") or None,
            "source": values.get("source", ""),
        }
    )


@router.post("/prices", response_class=HTMLResponse)
async def add_price(
    request: Request,
    principal: Principal = require(Perm.PRICE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())

    def refused(failure: FormFailure) -> Response:
        errors = {_FORM_FIELDS.get(k, k): field_error(k, v) for k, v in failure.errors.items()}
        return _prices_page(request, session, values, errors, failure.status_code)

    return await form_action(
        session,
        lambda: service.add_price(session, principal, _price_in(values)),
        "/prices",
        refused,
    )


@router.get("/reports/cost", response_class=HTMLResponse)
def cost_report(
    request: Request,
    principal: Principal = require(Perm.COST_READ),
    session: Session = Depends(get_session),
) -> Response:
    start = request.query_params.get("start") or None
    end = request.query_params.get("end") or None
    error = None
    try:
        report = service.report(session, principal, start, end)
    except IgflowError as exc:
        session.rollback()
        error = exc.message
        report = service.report(session, principal)
    names = patients_service.display_names(session, [p.patient_id for p in report.patients])
    years = sorted({y for p in report.patients for y in p.years})
    totals = {
        "doses": sum(r.doses for r in report.rows),
        "dispensed": sum(r.dispensed_cents for r in report.rows),
        "waste": sum(r.waste_cents for r in report.rows),
        "planned": sum(r.planned_cents for r in report.rows),
        "unknown": sum(r.unknown for r in report.rows),
    }
    return render(
        request,
        "costs/report.html",
        {"report": report, "names": names, "years": years, "totals": totals, "error": error},
        status_code=422 if error else 200,
    )
