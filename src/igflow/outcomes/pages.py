"""Pages of the outcomes capability: the forms of the patient page's Outcomes section and of the order page's
Response panel (both panels are drawn by the patient and order pages from ``igflow.outcomes.panels``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.orders import pages as order_pages
from igflow.outcomes import service
from igflow.outcomes.panels import form_errors
from igflow.outcomes.schemas import DecisionIn, ReadingIn
from igflow.patients import pages as patient_pages
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import form_action, form_number, form_values

router = APIRouter(include_in_schema=False)


def _number(text: Any, name: str) -> float | None:
    return form_number(text, name)  # a decimal comma is accepted (igflow.web.forms)


def _int(text: Any) -> int | None:
    value = str(text or "").strip()
    return int(value) if value.isdigit() else None


def _reading(values: dict[str, Any]) -> ReadingIn:
    """The reading form as the API takes it: a measure in parts sends ``part.<id>`` fields."""
    spec = service.measure(str(values.get("measure_id", "")))
    parts = {p.id: _number(values.get(f"part.{p.id}"), "value") for p in spec.parts}
    if spec.parts and any(v is None for v in parts.values()):
        missing = " and ".join(p.name for p in spec.parts if parts[p.id] is None)
        raise InvalidInput(f"value: enter the {missing}", "value")
    return ReadingIn.model_validate(
        {
            "measure_id": spec.id,
            "value": None if spec.parts else _number(values.get("value"), "value"),
            "parts": parts if spec.parts else None,
            "measured_on": values.get("measured_on") or None,
            "method": values.get("method") or None,
            "order_id": _int(values.get("order_id")),
            "amends_id": _int(values.get("corrects")),
            "note": values.get("note", ""),
        }
    )


@router.post("/patients/{patient_id}/outcomes", response_class=HTMLResponse)
async def add_reading(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.OUTCOME_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    measure_id = str(values.get("measure_id", ""))
    return await form_action(
        session,
        lambda: service.add_reading(session, principal, patient_id, _reading(values)),
        f"/patients/{patient_id}#outcomes",
        lambda failure: patient_pages._chart_page(
            request,
            session,
            principal,
            patient_id,
            {},
            {},
            failure.status_code,
            outcome_form={"measure_id": measure_id, "values": values, "errors": form_errors(failure)},
        ),
    )


@router.post("/orders/{order_id}/continuation-decisions", response_class=HTMLResponse)
async def decide(
    request: Request,
    order_id: int,
    principal: Principal = require(Perm.CONTINUATION_DECIDE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())

    def data() -> DecisionIn:
        kind = str(values.get("kind", ""))
        return DecisionIn.model_validate(
            {
                "kind": kind,
                "reason": values.get("reason", ""),
                "new_dose_g_per_kg": _number(values.get("new_dose"), "new_dose_g_per_kg")
                if kind == "change_dose"
                else None,
                "new_interval_days": _int(values.get("new_interval")) if kind == "change_interval" else None,
                "new_product_id": (values.get("new_product") or None) if kind == "switch_product" else None,
                "review_in_days": _int(values.get("review_again_after")),
            }
        )

    return await form_action(
        session,
        lambda: service.decide(session, principal, order_id, data()),
        f"/orders/{order_id}#response",
        lambda failure: order_pages._order_page(
            request,
            session,
            principal,
            order_id,
            None,
            failure.status_code,
            decision_form={"values": values, "errors": form_errors(failure)},
        ),
    )
