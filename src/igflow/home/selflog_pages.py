"""The patient's own infusion log (phone-sized): what is due next and the plan in plain words, the form to
log a self-infusion (the lot scanned with the phone's camera where the browser can, typed otherwise), the
deliveries on their way (confirm receipt) and the vials at home.

Thin: parse the form, call the service, render. Each route declares one permission.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.home.delivery_schemas import ReceiveIn
from igflow.home.selflog_schemas import SelfInfusionIn, SelfInfusionOut
from igflow.home.service import deliveries, selflog
from igflow.home.service.selflog_plan import tz
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

#: The camera may be used by this page only (the scanner); every other page keeps camera=().
CAMERA_POLICY = "camera=(self), microphone=(), geolocation=()"


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    failure: FormFailure | None = None,
    saved: SelfInfusionOut | None = None,
    status_code: int = 200,
) -> Response:
    view = selflog.my_log(session, principal)
    assert principal.patient_id is not None
    on_the_way = [
        d
        for d in deliveries.for_patient(session, principal, principal.patient_id, limit=20)
        if d.status in ("shipped", "delivered")
    ]
    rules = load_catalog().home_supply.self_infusion
    now_local = utcnow().astimezone(tz(session)).strftime("%Y-%m-%dT%H:%M")
    plan = view.plan
    defaults = {
        "infused_at": now_local,
        "vials": str(sum(count for _size, count in plan.vials)) if plan and plan.vials else "",
        "volume_ml": f"{plan.volume_ml:g}" if plan and plan.volume_ml else "",
        "sites": str(plan.sites) if plan and plan.sites else "",
        "duration_min": str(plan.duration_min) if plan and plan.duration_min else "",
        "reaction": "none",
    }
    context = {
        "log": view,
        "on_the_way": on_the_way,
        "answers": rules.reaction_answers,
        "symptoms": rules.symptoms,
        "values": {**defaults, **(values or {})},
        "failure": failure,
        "saved": saved,
        "client_id": f"self-{uuid.uuid4().hex}",
        "tz": tz(session),
    }
    response = render(
        request,
        "home/my_infusions.html",
        context,
        status_code=failure.status_code if failure else status_code,
    )
    response.headers["Permissions-Policy"] = CAMERA_POLICY
    return response


@router.get("/my/self-infusions", response_class=HTMLResponse)
def my_infusions_page(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    return _page(request, session, principal)


@router.post("/my/self-infusions", response_class=HTMLResponse)
async def log_infusion_page(
    request: Request,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    values = form_values(form)
    data = {
        **{k: v for k, v in values.items() if k not in ("symptoms",) and v != ""},
        "symptoms": [str(s) for s in form.getlist("symptoms")],
    }
    # A retry of the same submission (same client_id) lands once: showing the result again is safe.
    return await form_action(
        session,
        lambda: selflog.log(session, principal, SelfInfusionIn.model_validate(data)),
        lambda saved: _page(request, session, principal, saved=saved),
        lambda failure: _page(request, session, principal, values=values, failure=failure),
    )


@router.post("/my/deliveries/{delivery_id}/receive", response_class=HTMLResponse)
async def my_receive_page(
    request: Request,
    delivery_id: int,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> Response:
    values = form_values(await request.form())
    data = {
        "version": values.get("version") or None,
        "logger_alarm": values.get("logger_alarm") == "yes",
        "note": values.get("note", ""),
    }
    return await form_action(
        session,
        lambda: deliveries.receive(session, principal, delivery_id, ReceiveIn.model_validate(data)),
        "/my/self-infusions#h-deliveries",
        lambda failure: _page(request, session, principal, failure=failure),
    )
