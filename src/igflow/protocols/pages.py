"""Pages of the protocols capability: what is in force, every version, drafting and approval."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.catalog.protocol import SETTINGS
from igflow.db import utcnow
from igflow.protocols import service
from igflow.protocols.models import ClinicalProtocol
from igflow.protocols.schemas import ProtocolDecisionIn, ProtocolIn
from igflow.security import service as security_service
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import form_action
from igflow.web.render import render

router = APIRouter(include_in_schema=False)

CAP_ROWS = 4  # at-risk rule rows offered on the form (blank ones are ignored)
_LIST_SETTINGS = ("premedication_after_reaction",)
_BOOL_SETTINGS = ("first_dose_at_home",)
_INT_SETTINGS = (
    "titration_step_interval_min",
    "observation_first_infusion_min",
    "observation_later_min",
    "renal_creatinine_max_age_days",
    "reaction_escalate_from_grade",
)
VITALS = {
    "systolic_bp_mmhg": "Systolic BP (mmHg)",
    "heart_rate_bpm": "Heart rate (/min)",
    "resp_rate_per_min": "Respiratory rate (/min)",
    "spo2_percent": "SpO2 (%)",
    "temperature_c": "Temperature (°C)",
}


def _people(session: Session, protocols: list[ClinicalProtocol]) -> dict[int, str]:
    ids = {p.proposed_by_user_id for p in protocols} | {
        p.approved_by_user_id for p in protocols if p.approved_by_user_id
    }
    return security_service.display_names(session, ids)


def _scope_names(session: Session) -> dict[str, str]:
    names = {"organisation": "Whole organisation"}
    for site in sites_service.list_sites(session):
        names[f"site:{site.id}"] = site.name
    return names


def _context(session: Session, protocols: list[ClinicalProtocol]) -> dict[str, Any]:
    catalog = load_catalog()
    return {
        "settings": SETTINGS,
        "people": _people(session, protocols),
        "scopes": _scope_names(session),
        "products": {pid: p.name for pid, p in catalog.products.items() if p.is_iv},
        "indications": {iid: i.name for iid, i in catalog.indications.items()},
        "decisions": catalog.administration.site_decisions,
        "group_names": {"renal": "renal risk", "thrombosis": "thrombosis risk", "cardiac": "heart failure"},
        "vitals": VITALS,
    }


@router.get("/protocols", response_class=HTMLResponse)
def protocol_list(
    request: Request,
    principal: Principal = require(Perm.PROTOCOL_READ),
    session: Session = Depends(get_session),
) -> Response:
    protocols = service.list_protocols(session)
    today = utcnow().date()
    in_force = {p.id for p in service.in_force(session, None, today).protocols}
    for site in sites_service.list_sites(session):
        in_force |= set(service.in_force(session, site.id, today).ids)
    return render(
        request,
        "protocols/list.html",
        {**_context(session, protocols), "protocols": protocols, "in_force": in_force},
    )


@router.get("/protocols/new", response_class=HTMLResponse)
def protocol_new(
    request: Request,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    base_id = request.query_params.get("from")
    base = service.get(session, int(base_id)) if base_id and base_id.isdigit() else None
    values = _form_from_protocol(base) if base else {"effective_from": utcnow().date().isoformat()}
    if base is not None:
        values["based_on_id"] = str(base.id)
        values["summary"] = ""
    return _form(request, session, values, {}, None)


def _form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    protocol: ClinicalProtocol | None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "protocols/form.html",
        {
            **_context(session, [protocol] if protocol else []),
            "values": values,
            "errors": errors,
            "protocol": protocol,
            "cap_rows": CAP_ROWS,
            "sites": sites_service.list_sites(session),
        },
        status_code=status_code,
    )


def _form_from_protocol(protocol: ClinicalProtocol) -> dict[str, Any]:
    """The form's fields from a stored version (to revise it or edit a draft)."""
    out: dict[str, Any] = {
        "title": protocol.title,
        "site_id": "" if protocol.site_id is None else str(protocol.site_id),
        "effective_from": protocol.effective_from.isoformat(),
        "summary": protocol.summary,
    }
    for name, decision in protocol.values.items():
        out[f"{name}.basis"] = decision.get("basis", "")
        out[f"{name}.references"] = "\n".join(decision.get("references", []))
        value = decision.get("value")
        if name == "at_risk_max_rate":
            for index, rule in enumerate(value or []):
                out[f"cap{index}.products"] = rule["products"]
                out[f"cap{index}.risk_groups"] = rule["risk_groups"]
                out[f"cap{index}.indications"] = rule.get("indications") or []
                out[f"cap{index}.max"] = f"{rule['max_rate_mg_per_kg_min']:g}"
        elif name == "vital_limits":
            for vital, band in (value or {}).items():
                for side in ("low", "high"):
                    if band.get(side) is not None:
                        out[f"vital_limits.{vital}.{side}"] = f"{band[side]:g}"
        elif name in _LIST_SETTINGS:
            out[f"{name}.value"] = "\n".join(value or [])
        elif name in _BOOL_SETTINGS:
            out[f"{name}.value"] = "yes" if value else "no"
        else:
            out[f"{name}.value"] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _parse_form(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the values to re-show, the ProtocolIn data) from the submitted form."""
    shown: dict[str, Any] = {}
    for key in form:
        items = form.getlist(key)
        shown[key] = items if key.endswith((".products", ".risk_groups", ".indications")) else items[-1]
    decided: dict[str, Any] = {}
    rules = []
    for index in range(CAP_ROWS):
        products = form.getlist(f"cap{index}.products")
        groups = form.getlist(f"cap{index}.risk_groups")
        maximum = str(form.get(f"cap{index}.max", "")).strip().replace(",", ".", 1)  # decimal comma accepted
        if not (products or groups or maximum):
            continue
        rule: dict[str, Any] = {
            "products": products,
            "risk_groups": groups,
            "max_rate_mg_per_kg_min": maximum,
        }
        indications = form.getlist(f"cap{index}.indications")
        if indications:
            rule["indications"] = indications
        rules.append(rule)
    for name in SETTINGS:
        basis = str(form.get(f"{name}.basis", "")).strip()
        references = _lines(str(form.get(f"{name}.references", "")))
        if name == "at_risk_max_rate":
            raw: Any = rules
            present = bool(rules)
        elif name == "vital_limits":
            raw = {}
            for vital in VITALS:
                band = {
                    side: text.replace(",", ".", 1)
                    for side in ("low", "high")
                    if (text := str(form.get(f"vital_limits.{vital}.{side}", "")).strip())
                }
                if band:
                    raw[vital] = band
            present = bool(raw)
        else:
            text = str(form.get(f"{name}.value", "")).strip()
            present = bool(text)
            raw = (
                _lines(text)
                if name in _LIST_SETTINGS
                else (text == "yes")
                if name in _BOOL_SETTINGS
                else text.replace(",", ".", 1)
                if name not in _INT_SETTINGS
                else text
            )
        if present or basis:
            decided[name] = {"value": raw if present else None, "basis": basis, "references": references}
    site_id = str(form.get("site_id", "")).strip()
    based_on = str(form.get("based_on_id", "")).strip()
    data = {
        "title": str(form.get("title", "")).strip(),
        "site_id": int(site_id) if site_id.isdigit() else None,
        "effective_from": str(form.get("effective_from", "")).strip() or None,
        "summary": str(form.get("summary", "")).strip(),
        "values": decided,
        "based_on_id": int(based_on) if based_on.isdigit() else None,
    }
    return shown, data


@router.post("/protocols/new", response_class=HTMLResponse)
async def protocol_create(
    request: Request,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    shown, data = _parse_form(await request.form())
    return await form_action(
        session,
        lambda: service.create_draft(
            session, principal.actor, principal.user_id, ProtocolIn.model_validate(data)
        ),
        lambda protocol: f"/protocols/{protocol.id}",
        lambda failure: _form(request, session, shown, failure.errors, None, status_code=422),
    )


@router.get("/protocols/{protocol_id}", response_class=HTMLResponse)
def protocol_detail(
    request: Request,
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_READ),
    session: Session = Depends(get_session),
) -> Response:
    protocol = service.get(session, protocol_id)
    return _detail(request, session, principal, protocol, {})


def _detail(
    request: Request,
    session: Session,
    principal: Principal,
    protocol: ClinicalProtocol,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "protocols/detail.html",
        {
            **_context(session, [protocol]),
            "protocol": protocol,
            "citation": service.citation(protocol),
            "may_edit": protocol.status == "draft" and principal.user_id == protocol.proposed_by_user_id,
            "may_approve": service.may_decide(principal, protocol),
            "errors": errors,
        },
        status_code=status_code,
    )


@router.get("/protocols/{protocol_id}/edit", response_class=HTMLResponse)
def protocol_edit_form(
    request: Request,
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    protocol = service.get(session, protocol_id)
    if protocol.status != "draft":
        return RedirectResponse(f"/protocols/new?from={protocol.id}", status_code=303)
    return _form(request, session, _form_from_protocol(protocol), {}, protocol)


@router.post("/protocols/{protocol_id}/edit", response_class=HTMLResponse)
async def protocol_edit(
    request: Request,
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    protocol = service.get(session, protocol_id)
    shown, data = _parse_form(await request.form())
    return await form_action(
        session,
        lambda: service.update_draft(session, principal, protocol_id, ProtocolIn.model_validate(data)),
        f"/protocols/{protocol_id}",
        lambda failure: _form(request, session, shown, failure.errors, protocol, status_code=422),
    )


@router.post("/protocols/{protocol_id}/decision", response_class=HTMLResponse)
async def protocol_decide(
    request: Request,
    protocol_id: int,
    principal: Principal = require(Perm.PROTOCOL_APPROVE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    service.get(session, protocol_id)  # an unknown protocol is a 404 before anything else
    fields = {"decision": form.get("decision"), "version": form.get("version"), "note": form.get("note", "")}
    return await form_action(
        session,
        lambda: service.decide(session, principal, protocol_id, ProtocolDecisionIn.model_validate(fields)),
        f"/protocols/{protocol_id}",
        lambda failure: _detail(
            request, session, principal, service.get(session, protocol_id), failure.errors, 409
        ),
    )


def today() -> date:
    return utcnow().date()
