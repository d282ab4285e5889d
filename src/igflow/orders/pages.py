"""Pages of the orders capability: the dose calculator, orders with their plans, the verification queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.costs import panels as cost_panels
from igflow.db import utcnow
from igflow.directory import service as directory_service
from igflow.errors import IgflowError
from igflow.infusions import service as infusions_service
from igflow.orders import service as orders_service
from igflow.orders.schemas import DosePreviewIn, OrderIn, VerificationIn
from igflow.outcomes import panels as outcome_panels
from igflow.patients import service as patients_service
from igflow.protocols import service as protocols_service
from igflow.referrals import service as referrals_service
from igflow.security import service as security_service
from igflow.security.deps import (
    get_session,
    require,
)
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import FormFailure, form_action, form_values, validate_form
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


# --- dose calculator, orders and verification --------------------------------------------------------


_CALC_FIELDS = ("indication", "phase", "product", "policy", "weight_kg", "height_cm", "sex", "age_years")
#: the subcutaneous inputs (docs/dose-scig.md), sent for an SC product
_CALC_SC = ("previous_iv_dose_g", "iv_interval_weeks", "interval_days", "infusion_number")


@router.get("/dose", response_class=HTMLResponse)
def dose_calculator(
    request: Request,
    principal: Principal = require(Perm.DOSE_CALCULATE),
    session: Session = Depends(get_session),
) -> Response:
    catalog = load_catalog()
    params = request.query_params
    site_param = params.get("site_id", "")
    site_id = int(site_param) if site_param.isdigit() else None
    values: dict[str, Any] = {
        k: params.get(k, "") for k in (*_CALC_FIELDS, "dose_g_per_kg", "days", *_CALC_SC)
    }
    values["risk"] = params.getlist("risk")
    values["first_infusion"] = params.get("first_infusion") == "true"
    values["policy"] = values["policy"] or catalog.default_policy
    plan, error = None, None
    if all(values[k] for k in ("weight_kg", "height_cm", "age_years")):
        try:
            data = validate_form(
                DosePreviewIn,
                {
                    **{k: values[k] for k in _CALC_FIELDS},
                    "dose_g_per_kg": values["dose_g_per_kg"] or None,
                    "days": values["days"] or None,
                    "risk": values["risk"],
                    "first_infusion": values["first_infusion"],
                    **{k: values[k] or None for k in _CALC_SC},
                },
            )
            plan = orders_service.preview(data, orders_service.protocol_catalog(session, site_id))
        except (ValidationError, IgflowError) as exc:
            error = FormFailure.of(exc).message
    return render(
        request,
        "orders/calculator.html",
        {
            "catalog": catalog,
            **_sc_choices(catalog),
            "values": {**values, "site_id": site_param},
            "plan": plan,
            "error": error,
            "sites": sites_service.centres(session),
            "protocols": protocols_service.in_force(session, site_id, utcnow().date()).citation,
        },
    )


def _sc_choices(catalog: Any) -> dict[str, list[str]]:
    """The subcutaneous products (their ids for the form's script, their names for the legend)."""
    sc = [pid for pid, p in catalog.products.items() if not p.is_iv]
    return {"sc_products": sc, "sc_names": [catalog.products[pid].name for pid in sc]}


def _order_form(
    session: Session, principal: Principal, patient_id: int, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the new-order form shows. An order started from an accepted referral (``referral_id`` among
    ``values``) starts from that referral's indication; without one, from the patient's latest accepted
    referral, if any (never from the first indication of the catalog: the form asks)."""
    patient = patients_service.check_access(session, principal, patient_id)
    referrals = [
        r
        for r in referrals_service.search(session, principal, patient_id=patient_id, page_size=50).items
        if r.status == "accepted"
    ]
    catalog = load_catalog()
    referral = None
    if values is not None:
        wanted = str(values.get("referral_id", ""))
        referral = next((r for r in referrals if str(r.id) == wanted), None)
        if referral is None and "referral_id" not in values and referrals:
            referral = max(referrals, key=lambda r: (r.received_on, r.id))
        if referral is not None:
            values.setdefault("referral_id", str(referral.id))
            values.setdefault("indication_id", referral.indication_id)
            values.setdefault("prescriber_id", str(referral.prescriber_id))
    return {
        "patient": patient,
        "prescribers": directory_service.list_prescribers(session),
        "referrals": referrals,
        "referral": referral,
        "catalog": catalog,
        **_sc_choices(catalog),
    }


@router.get("/patients/{patient_id}/orders/new", response_class=HTMLResponse)
def order_new(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.ORDER_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values: dict[str, Any] = {
        k: v for k, v in request.query_params.items() if k != "compare" and (v != "" or k == "referral_id")
    }
    form = _order_form(session, principal, patient_id, values)
    options, errors = None, {}
    if request.query_params.get("compare"):
        try:
            data = validate_form(
                OrderIn,
                {
                    "patient_id": patient_id,
                    "prescriber_id": values.get("prescriber_id") or 1,
                    "indication_id": values.get("indication_id", ""),
                    "phase": values.get("phase", ""),
                    "product_id": values.get("product_id") or next(iter(load_catalog().products)),
                    **{k: values[k] for k in ("dose_g_per_kg", "days") if k in values},
                },
            )
            options, _facts = orders_service.product_options(session, principal, patient_id, data)
        except (ValidationError, IgflowError) as exc:
            errors = FormFailure.of(exc).errors
    return render(
        request,
        "orders/new.html",
        {**form, "values": values, "errors": errors, "options": options},
    )


@router.post("/patients/{patient_id}/orders/new", response_class=HTMLResponse)
async def order_create(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.ORDER_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    values.setdefault("referral_id", "")  # "none" chosen: the form comes back with none, not the latest
    data = {k: v for k, v in values.items() if v != ""}
    data["patient_id"] = patient_id
    data["first_infusion"] = form.get("first_infusion") == "true"

    def refused(failure: FormFailure) -> Response:
        context = {
            **_order_form(session, principal, patient_id, values),
            "values": values,
            "errors": failure.errors,
        }
        return render(request, "orders/new.html", context, status_code=422)

    return await form_action(
        session,
        lambda: orders_service.create(session, principal, validate_form(OrderIn, data)),
        lambda order: f"/orders/{order.id}",
        refused,
    )


def _order_page(
    request: Request,
    session: Session,
    principal: Principal,
    order_id: int,
    error: str | None,
    status_code: int = 200,
    decision_form: dict[str, Any] | None = None,
    verify_form: dict[str, Any] | None = None,
) -> Response:
    order = orders_service.read(session, principal, order_id)
    current = order.versions[-1]
    verifier_ids = {x.verified_by_user_id for v in order.versions for x in v.verifications}
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "people": security_service.display_names(session, verifier_ids | {order.entered_by_user_id}),
            "prescriber": directory_service.get_prescriber(session, order.prescriber_id),
            "resolvable": any(a.get("resolvable_by") == "pharmacist" for a in current.plan["alerts"]),
            "fact_names": orders_service.FACT_NAMES,
            "patient_name": patients_service.display_name(session, order.patient_id),
            "can_verify": principal.can(Perm.PLAN_VERIFY) and order.entered_by_user_id != principal.user_id,
            "reaction_flags": infusions_service.flags_for_order(session, order.id),
            "error": error,
            "response": outcome_panels.order_panel(session, principal, order.id)
            if principal.can(Perm.OUTCOME_READ)
            else None,
            "decision_form": decision_form or {},
            "verify_form": verify_form or {},
            "cost": cost_panels.order_panel(session, principal, order.id)
            if principal.can(Perm.COST_READ)
            else None,
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_detail(
    request: Request,
    order_id: int,
    principal: Principal = require(Perm.ORDER_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _order_page(request, session, principal, order_id, None)


@router.post("/orders/{order_id}/plan")
def order_recompute(
    order_id: int,
    principal: Principal = require(Perm.ORDER_READ),
    session: Session = Depends(get_session),
) -> Response:
    """The page's "Recompute the plan" button: a new version from the current facts, then the order."""
    orders_service.recompute(session, principal, order_id)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


@router.post("/orders/{order_id}/verify", response_class=HTMLResponse)
async def order_verify(
    request: Request,
    order_id: int,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    fields = {k: v for k, v in form_values(form).items() if v != ""}
    fields["re_review"] = form.get("re_review") == "true"
    return await form_action(
        session,
        lambda: orders_service.verify(session, principal, order_id, validate_form(VerificationIn, fields)),
        f"/orders/{order_id}",
        lambda failure: _order_page(
            request, session, principal, order_id, failure.message, failure.status_code, verify_form=fields
        ),
    )


@router.get("/verification-queue", response_class=HTMLResponse)
def verification_queue(
    request: Request,
    sort: str = "urgency",
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> Response:
    """Plans awaiting a pharmacist with their urgency (the plan's priority: 1 is urgent) and how long each
    has waited; most urgent first, then longest waiting (or sorted by waiting time or patient)."""
    orders = orders_service.queue(session, principal)
    names = patients_service.display_names(session, [o.patient_id for o in orders])
    now = utcnow()
    rows = []
    for o in orders:
        latest = o.versions[-1]
        waited = now - latest.created_at
        rows.append(
            {
                "order": o,
                "priority": int(latest.plan.get("priority") or 3),
                "waited_h": waited.total_seconds() / 3600,
            }
        )
    keys = {
        "urgency": lambda r: (r["priority"], -r["waited_h"]),
        "waiting": lambda r: -r["waited_h"],
        "patient": lambda r: names.get(r["order"].patient_id, ""),
    }
    rows.sort(key=keys.get(sort, keys["urgency"]))
    return render(
        request,
        "orders/queue.html",
        {"rows": rows, "orders": orders, "names": names, "sort": sort if sort in keys else "urgency"},
    )
