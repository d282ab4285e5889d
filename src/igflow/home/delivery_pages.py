"""Pages of deliveries to a patient's home: the pharmacist's queue (excursions, late, not shipped in time,
home visits without a delivery, what is due) with the plan form, and a delivery's page with its actions
(pack, ship, logger readings, delivered, receive, excursion, release, waste, cancel).

Thin: parse the form, call the service, render. Each route declares one permission.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.home import cold_chain
from igflow.home.delivery_schemas import (
    CancelIn,
    DeliveryIn,
    ExcursionIn,
    ReadingsIn,
    ReceiveIn,
    ReleaseIn,
    ShipIn,
    VersionIn,
    WasteIn,
)
from igflow.home.service import deliveries, delivery_queue, excursions
from igflow.patients import service as patients_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

QUEUE_HEADINGS = {
    "excursion": "Temperature excursions: vials held",
    "late": "Late: not received by the day needed",
    "not_shipped": "Not shipped within the lead time",
    "no_delivery": "Home visits without a delivery",
    "due": "Due",
}


def _none_if_blank(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: (None if k in names and v in ("", None) else v) for k, v in values.items()}


def _queue_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any] | None = None,
    failure: FormFailure | None = None,
) -> Response:
    items = delivery_queue.queue(session, principal)
    names = patients_service.display_names(session, {i.patient_id for i in items})
    grouped: dict[str, list[Any]] = {kind: [] for kind in QUEUE_HEADINGS}
    for item in items:
        grouped[item.kind].append(item)
    writer = principal.can(Perm.DELIVERY_WRITE)
    context = {
        "grouped": grouped,
        "headings": QUEUE_HEADINGS,
        "names": names,
        "orders": deliveries.home_orders(session, principal) if writer else [],
        "sites": [
            s
            for s in sites_service.list_sites(session, only=principal.site_ids, active_only=True)
            if s.kind == "centre"
        ],
        "values": values or dict(request.query_params),
        "failure": failure,
        "lead_days": delivery_queue.lead_days(),
    }
    return render(
        request, "home/deliveries.html", context, status_code=failure.status_code if failure else 200
    )


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(
    request: Request, principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> Response:
    return _queue_page(request, session, principal)


def _plan_data(values: dict[str, Any]) -> DeliveryIn:
    data = _none_if_blank(values, "needed_by", "appointment_id", "order_id", "patient_id", "infusions")
    choice = str(data.pop("order", "") or "")
    if choice and ":" in choice:
        patient, order = choice.split(":", 1)
        data["patient_id"], data["order_id"] = patient, order
    if data.get("patient_id") is None:
        raise InvalidInput("order: choose the patient's home order", "order")
    if data.get("infusions") is None:
        data.pop("infusions", None)
    return DeliveryIn.model_validate(data)


@router.post("/deliveries", response_class=HTMLResponse)
async def plan_delivery_page(
    request: Request,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: deliveries.plan(session, principal, _plan_data(values)),
        lambda delivery: f"/deliveries/{delivery.id}",
        lambda failure: _queue_page(request, session, principal, values, failure),
    )


def _delivery_page(
    request: Request,
    session: Session,
    principal: Principal,
    delivery_id: int,
    failure: FormFailure | None = None,
    form: str = "",
    values: dict[str, Any] | None = None,
) -> Response:
    delivery = deliveries.read(session, principal, delivery_id)
    names = patients_service.display_names(session, {delivery.patient_id})
    context = {
        "d": delivery,
        "patient_name": names.get(delivery.patient_id, ""),
        "failure": failure,
        "form": form,
        "values": values or {},
        "replaced": request.query_params.get("replacement"),
    }
    return render(request, "home/delivery.html", context, status_code=failure.status_code if failure else 200)


@router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _delivery_page(request, session, principal, delivery_id)


async def _act(
    request: Request, session: Session, principal: Principal, delivery_id: int, form: str, action: Any
) -> Response:
    values = form_values(await request.form())
    return await form_action(
        session,
        lambda: action(values),
        lambda result: (
            f"/deliveries/{delivery_id}"
            + (f"?replacement={result.replacement_id}" if getattr(result, "replacement_id", None) else "")
            + f"#{form}"
        ),
        lambda failure: _delivery_page(request, session, principal, delivery_id, failure, form, values),
    )


def _version(values: dict[str, Any]) -> dict[str, Any]:
    return {"version": values.get("version") or None}


@router.post("/deliveries/{delivery_id}/pack", response_class=HTMLResponse)
async def pack_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "pack",
        lambda v: deliveries.pack(session, principal, delivery_id, VersionIn.model_validate(_version(v))),
    )


@router.post("/deliveries/{delivery_id}/ship", response_class=HTMLResponse)
async def ship_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def ship(v: dict[str, Any]) -> Any:
        data = {
            **_version(v),
            "carrier": v.get("carrier", ""),
            "carrier_reference": v.get("carrier_reference", ""),
        }
        return deliveries.ship(session, principal, delivery_id, ShipIn.model_validate(data))

    return await _act(request, session, principal, delivery_id, "ship", ship)


def _readings(v: dict[str, Any]) -> ReadingsIn:
    try:
        parsed = cold_chain.parse_logger_text(str(v.get("readings", "")))
    except ValueError as exc:
        raise InvalidInput(f"readings: {exc}", "readings") from None
    return ReadingsIn.model_validate(
        {
            "readings": [{"at": at, "celsius": c} for at, c in parsed],
            "courier_excursion": v.get("courier_excursion") == "yes",
            "judgement": v.get("judgement") or None,
            "note": v.get("note", ""),
        }
    )


@router.post("/deliveries/{delivery_id}/readings", response_class=HTMLResponse)
async def readings_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "readings",
        lambda v: excursions.record_readings(session, principal, delivery_id, _readings(v)),
    )


@router.post("/deliveries/{delivery_id}/delivered", response_class=HTMLResponse)
async def delivered_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "delivered",
        lambda v: deliveries.delivered(
            session, principal, delivery_id, VersionIn.model_validate(_version(v))
        ),
    )


@router.post("/deliveries/{delivery_id}/receive", response_class=HTMLResponse)
async def receive_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_RECEIVE),
    session: Session = Depends(get_session),
) -> Response:
    def receive(v: dict[str, Any]) -> Any:
        data = {**_version(v), "logger_alarm": v.get("logger_alarm") == "yes", "note": v.get("note", "")}
        return deliveries.receive(session, principal, delivery_id, ReceiveIn.model_validate(data))

    return await _act(request, session, principal, delivery_id, "receive", receive)


@router.post("/deliveries/{delivery_id}/excursion", response_class=HTMLResponse)
async def excursion_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "excursion",
        lambda v: excursions.flag_excursion(
            session, principal, delivery_id, ExcursionIn.model_validate({"note": v.get("note", "")})
        ),
    )


@router.post("/deliveries/{delivery_id}/release", response_class=HTMLResponse)
async def release_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "release",
        lambda v: excursions.release(
            session, principal, delivery_id, ReleaseIn.model_validate({"reason": v.get("reason", "")})
        ),
    )


@router.post("/deliveries/{delivery_id}/waste", response_class=HTMLResponse)
async def waste_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    def waste(v: dict[str, Any]) -> Any:
        data = {
            "reason": v.get("reason", ""),
            "replan": v.get("replan") == "yes",
            "needed_by": v.get("needed_by") or None,
        }
        return excursions.waste(session, principal, delivery_id, WasteIn.model_validate(data))

    return await _act(request, session, principal, delivery_id, "waste", waste)


@router.post("/deliveries/{delivery_id}/cancel", response_class=HTMLResponse)
async def cancel_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return await _act(
        request,
        session,
        principal,
        delivery_id,
        "cancel",
        lambda v: deliveries.cancel(
            session,
            principal,
            delivery_id,
            CancelIn.model_validate({**_version(v), "reason": v.get("reason", "")}),
        ),
    )
