"""The patient's own pages beside the portal's requests and diary: My questionnaires and Costs and help.

My questionnaires (/my/measures): the patient completes the outcome measures of their indications that
the catalog says may be self-reported (``self_report`` in outcomes.yaml). The item wording is not held
(not in igflow's references, or copyrighted: each measure's catalog text says why), so the page asks for
the total with its range, one measure per form. The score joins the outcome history as a
patient-reported reading (``igflow.outcomes.service.patient_reported``).

Costs and help (/my/costs): what the coverages in force say about the patient's share (copay, coinsurance,
out-of-pocket maximum, in dollars) and copay-assistance status; where nothing is recorded, who to ask (the
prior-authorisation team, with the centre's phone when the site has one)."""

from __future__ import annotations

import math
from typing import Any

from babel.numbers import format_currency
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.catalog.models import Measure
from igflow.coverage import service as coverage_service
from igflow.db import utcnow
from igflow.errors import InvalidInput
from igflow.i18n import N_
from igflow.outcomes.service import patient_reported
from igflow.patients import service as patients_service
from igflow.portal import caregiver_pages
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites.models import Site
from igflow.web import i18n
from igflow.web.forms import form_action, form_values
from igflow.web.pages import NOT_LINKED
from igflow.web.render import page_locale, render

router = APIRouter(include_in_schema=False)


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _problem(spec: Measure, text: str) -> str | None:
    """The problem with a typed total, in the page's language (None when the total is fine)."""
    low, high = spec.scale_min.value, spec.scale_max.value
    words = {"min": _bound(low), "max": _bound(high), "value": text}
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = math.nan
    if not text or not math.isfinite(value):
        return i18n.gettext("Enter the total score as a number from %(min)s to %(max)s.") % words
    if spec.integer and value != int(value):
        return i18n.gettext("Enter a whole number from %(min)s to %(max)s.") % words
    if (low is not None and value < low) or (high is not None and value > high):
        return (
            i18n.gettext(
                "%(value)s is outside this questionnaire's range: the total is from %(min)s to %(max)s."
            )
            % words
        )
    return None


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    failed: str | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput(NOT_LINKED)
    found = patient_reported.mine(session, principal)
    context = {
        "found": found,
        "failed": failed,
        "values": values,
        "errors": errors,
        "caregiver": patient_reported.is_caregiver(principal),
        "saved": request.query_params.get("saved"),
    }
    return render(request, "portal/measures.html", context, status_code=status_code)


@router.get("/my/measures", response_class=HTMLResponse)
def my_measures(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal, None, {}, {})


@router.post("/my/measures/{measure_id}", response_class=HTMLResponse)
async def my_measures_report(
    request: Request,
    measure_id: str,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    text = str(values.get("value", "")).strip()
    specs = {s.id: s for s in patient_reported.self_reportable_specs(session, principal.patient_id or 0)}
    spec = specs.get(measure_id)
    if spec is not None and not patient_reported.is_caregiver(principal):
        with i18n.using(page_locale(request, principal)):
            problem = _problem(spec, text)
        if problem is not None:
            return _page(request, session, principal, measure_id, values, {"value": problem}, 422)

    def act() -> Any:
        return patient_reported.report(session, principal, measure_id, float(text.replace(",", ".") or "nan"))

    return await form_action(
        session,
        act,
        f"/my/measures?saved={measure_id}",
        lambda failure: _page(
            request, session, principal, measure_id, values, failure.errors, failure.status_code
        ),
    )


# --- costs and help ---------------------------------------------------------------------------------------

RANK_WORDS = {1: N_("Main insurance"), 2: N_("Second insurance"), 3: N_("Third insurance")}
BENEFIT_WORDS = {"medical": N_("medical benefit"), "pharmacy": N_("pharmacy benefit")}


def _dollars(cents: int | None, locale: str) -> str | None:
    """Cents as dollars in the page's language ($1,234.50; 1.234,50 US$)."""
    if cents is None:
        return None
    return format_currency(cents / 100, "USD", locale="en_US" if locale == "en" else locale)


@router.get("/my/costs", response_class=HTMLResponse)
def my_costs(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    if principal.patient_id is None:
        raise InvalidInput(NOT_LINKED)
    locale = page_locale(request, principal)
    today = utcnow().date()
    coverages = [
        c
        for c in coverage_service.list_coverages(session, principal, principal.patient_id)
        if c.active and (c.effective_to is None or c.effective_to >= today)
    ]
    shown = [
        {
            "c": c,
            "copay": _dollars(c.copay_cents, locale),
            "oop_max": _dollars(c.oop_max_cents, locale),
            "limit": _dollars(c.assistance_limit_cents, locale),
            "assistance_ended": bool(c.assistance_expires_on and c.assistance_expires_on < today),
        }
        for c in coverages
    ]
    site_id = patients_service.home_site_id(session, principal.patient_id)
    site = session.get(Site, site_id) if site_id is not None else None
    context = {
        "coverages": shown,
        "any_assistance": any(c.assistance_program for c in coverages),
        "site": site,
        "rank_words": RANK_WORDS,
        "benefit_words": BENEFIT_WORDS,
    }
    return render(request, "portal/costs.html", context)


router.include_router(caregiver_pages.router)  # /my/caregivers and the chart's /patients/{id}/caregivers
