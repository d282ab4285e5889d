"""Chair-side pages of the infusions capability (tablet-first, big targets), work queues and reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.appointments import service as appointments_service
from igflow.catalog import load_catalog
from igflow.costs import panels as cost_panels
from igflow.errors import InvalidInput
from igflow.infusions import service
from igflow.infusions.schemas import EntryIn, ReleaseIn
from igflow.patients import service as patients_service
from igflow.patients.models import Patient
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.charts import infusion_timeline_svg
from igflow.web.forms import form_action, form_number
from igflow.web.render import number, render

router = APIRouter(include_in_schema=False)

_VITALS = (
    "systolic_bp_mmhg",
    "diastolic_bp_mmhg",
    "heart_rate_bpm",
    "resp_rate_per_min",
    "spo2_percent",
    "temperature_c",
)


def _number(value: Any, field: str) -> float | None:
    return form_number(value, field)  # a decimal comma is accepted (igflow.web.forms)


def _occurred_at(form: Any, timezone: str, today: dt.date) -> dt.datetime | None:
    """The 'it happened at' time (HH:MM, site-local, today) as UTC; None when not given."""
    text = str(form.get("occurred_hhmm", "")).strip()
    if not text:
        return None
    try:
        clock = dt.time.fromisoformat(text)
    except ValueError:
        raise InvalidInput("occurred_at: give the time it happened as HH:MM", "occurred_at") from None
    local = dt.datetime.combine(today, clock, tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


_IDENTIFIER_WORDS = {"name": "name", "date_of_birth": "date of birth", "mrn": "MRN", "address": "address"}
_ACTION_WORDS = {
    "continue": "continue",
    "slow_to_previous_step": "slowed to the previous step",
    "pause_then_resume_lower": "paused, then resumed at a lower rate",
    "stop_and_escalate": "stopped and escalated",
}
_RELEASE_WORDS = {
    "proceed": "proceed with the verified plan",
    "replan": "re-planned for today's weight (new plan version verified)",
    "hold": "hold: not today",
}


def describe_entry(entry: Any, symptom_names: dict[str, str]) -> str:
    """A chart entry in plain words, the way a nurse would write it."""
    p, r = entry.payload, entry.result or {}
    kind = entry.kind
    if kind == "checklist":
        ids = ", ".join(_IDENTIFIER_WORDS.get(i, i) for i in p.get("identifiers", []))
        parts = [f"Two identifiers checked: {ids}."]
        parts.append("Hydration confirmed." if p.get("hydration") else "Hydration NOT confirmed.")
        if p.get("iv_access"):
            parts.append(f"IV access: {p['iv_access']}.")
        parts += [f"{m['drug']} {m['dose']} at {m['time']}." for m in p.get("premedications", [])]
        return " ".join(parts)
    if kind == "weight":
        text = f"Weight {number(p.get('weight_kg'), 1)} kg"
        if r.get("change_kg") is not None:
            sign = "+" if float(r["change_kg"]) > 0 else ""
            change = f"{sign}{number(r['change_kg'], 1)} kg, {sign}{number(r.get('change_percent'), 1)} %"
            text += f" ({change} from the plan)"
        if r.get("threshold_percent") is not None:
            limit = f"the protocol's {number(r['threshold_percent'], 1)} %"
            text += (
                f"; beyond {limit}: sent to a pharmacist"
                if r.get("needs_pharmacist")
                else f"; within {limit}"
            )
        elif r.get("needs_pharmacist"):
            text += "; sent to a pharmacist"
        return text + "."
    if kind == "pharmacist_release":
        decision = p.get("decision", "")
        return f"Pharmacist: {_RELEASE_WORDS.get(decision, decision)}. {p.get('note', '')}"
    if kind == "vitals":
        bits = []
        if p.get("systolic_bp_mmhg") is not None:
            dia = f"/{number(p['diastolic_bp_mmhg'], 0)}" if p.get("diastolic_bp_mmhg") is not None else ""
            bits.append(f"BP {number(p['systolic_bp_mmhg'], 0)}{dia} mmHg")
        for key, label, unit, places in (
            ("heart_rate_bpm", "pulse", "/min", 0),
            ("resp_rate_per_min", "respirations", "/min", 0),
            ("spo2_percent", "SpO2", " %", 0),
            ("temperature_c", "temperature", " °C", 1),
        ):
            if p.get(key) is not None:
                bits.append(f"{label} {number(p[key], places)}{unit}")
        return "Vital signs: " + (", ".join(bits) or "none entered") + "."
    if kind == "vial":
        text = f"Vial scanned: lot {r.get('lot_number', '?')}, {number(r.get('size_g'))} g."
        if r.get("authorisation"):
            text += (
                " Prior authorisation: " + " ".join(r["authorisation"]) + " (the specialist is to be told)."
            )
        return text
    if kind == "start":
        return "Infusion started at the plan's first rate."
    if kind == "rate_change":
        step = r.get("step")
        return (
            f"Pump rate {number(p.get('rate_ml_per_h'), 1)} mL/h"
            + (f" (step {step + 1})." if step is not None else ".")
            + (f" {p['note']}" if p.get("note") else "")
        )
    if kind == "reaction":
        symptoms = ", ".join(symptom_names.get(s, s) for s in p.get("symptoms", []))
        action = _ACTION_WORDS.get(p.get("action_taken", ""), "")
        text = f"Grade {p.get('grade')} reaction: {symptoms}. Action: {action}."
        if p.get("medications"):
            text += f" Given: {', '.join(p['medications'])}."
        return text + (f" {p['outcome']}" if p.get("outcome") else "")
    if kind == "end":
        volume = number(p.get("volume_infused_ml"), 1)
        text = f"Infusion ended: {volume} mL infused, {p.get('vials_wasted', 0)} vial(s) wasted."
        if p.get("confirm_volume"):
            text += " Volume confirmed by the nurse."
        return text + (f" {p['note']}" if p.get("note") else "")
    if kind == "sign":
        early = r.get("early_reason")
        return "Record signed." + (f" Signed before the observation time ended: {early}" if early else "")
    if kind == "correction":
        return f"Correction of entry #{entry.amends_id}: {p.get('text', '')} (why: {entry.reason})"
    return str(p.get("text", ""))


def payload_from_form(kind: str, form: Any) -> dict[str, Any]:
    """The entry payload for a chart form (one form per kind on the chair-side page)."""
    if kind == "checklist":
        premeds = []
        for k in (1, 2, 3):
            drug = str(form.get(f"premed_drug_{k}", "")).strip()
            if drug:
                premeds.append(
                    {
                        "drug": drug,
                        "dose": str(form.get(f"premed_dose_{k}", "")),
                        "time": str(form.get(f"premed_time_{k}", "")),
                    }
                )
        return {
            "identifiers": form.getlist("identifiers"),
            "hydration": form.get("hydration") == "yes",
            "iv_access": str(form.get("iv_access", "")),
            "premedications": premeds,
        }
    if kind == "weight":
        return {"weight_kg": _number(form.get("weight_kg"), "weight_kg")}
    if kind == "pharmacist_release":
        return {"decision": form.get("decision", ""), "note": str(form.get("note", ""))}
    if kind == "vitals":
        return {k: v for k in _VITALS if (v := _number(form.get(k), k)) is not None}
    if kind == "vial":
        return {"scan_text": str(form.get("scan_text", ""))}
    if kind == "start":
        return {}
    if kind == "rate_change":
        return {
            "rate_ml_per_h": _number(form.get("rate_ml_per_h"), "rate_ml_per_h"),
            "note": str(form.get("note", "")),
        }
    if kind == "reaction":
        grade = str(form.get("grade", ""))
        return {
            "grade": int(grade) if grade.isdigit() else 0,
            "symptoms": form.getlist("symptoms"),
            "action_taken": form.get("action_taken", ""),
            "medications": [m.strip() for m in str(form.get("medications", "")).split(",") if m.strip()],
            "outcome": str(form.get("outcome", "")),
        }
    if kind == "end":
        wasted = str(form.get("vials_wasted", "0")).strip() or "0"
        return {
            "volume_infused_ml": _number(form.get("volume_infused_ml"), "volume_infused_ml"),
            "vials_wasted": int(wasted) if wasted.isdigit() else -1,
            "note": str(form.get("note", "")),
            "confirm_volume": form.get("confirm_volume") == "yes",
        }
    if kind == "sign":
        return {
            "statement": str(form.get("statement", "")),
            "early_reason": str(form.get("early_reason", "")),
        }
    if kind in ("note", "correction"):
        return {"text": str(form.get("text", ""))}
    raise InvalidInput(f"kind: unknown chart entry '{kind}'", "kind")


@router.get("/chair", response_class=HTMLResponse)
def chair_day(
    request: Request,
    site: int | None = None,
    date: str = "",
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> Response:
    centres = sites_service.centres(session, only=principal.site_ids)
    if not centres:
        # a nurse of the home-infusion service: no chair to chart at, her day is her visits
        return render(request, "chair/no_centre.html", {}, status_code=200)
    chosen = next((s for s in centres if s.id == site), centres[0])
    try:
        day = dt.date.fromisoformat(date) if date else appointments_service.site_today(chosen.timezone)
    except ValueError:
        raise InvalidInput("date: use the form YYYY-MM-DD", "date") from None
    rows = service.today_at_site(session, principal, chosen.id, day)
    ids = {r["appointment"].patient_id for r in rows}
    names = patients_service.display_names(session, ids)
    chairs = {c.id: c.label for c in chosen.chairs}
    return render(
        request,
        "chair/day.html",
        {"site": chosen, "sites": centres, "day": day, "rows": rows, "names": names, "chairs": chairs},
    )


@router.post("/chair/appointments/{appointment_id}/check-in")
def chair_check_in(
    appointment_id: int,
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> Response:
    record = service.check_in(session, principal, appointment_id)
    return RedirectResponse(f"/chair/records/{record.id}", status_code=303)


def _record_page(
    request: Request,
    session: Session,
    principal: Principal,
    record_id: int,
    error: str | None,
    status_code: int = 200,
) -> Response:
    view = service.read(session, principal, record_id)
    patient = session.get(Patient, view.record.patient_id)
    assert patient is not None
    infusion_day = load_catalog().infusion_day
    forms = {kind: f"{kind}-{uuid.uuid4().hex}" for kind in service_kinds()}
    site = service.record_site(session, view.record)
    symptom_names = {s.id: s.label for s in infusion_day.symptoms}
    return render(
        request,
        "chair/record.html",
        {
            "view": view,
            "record": view.record,
            "patient": patient,
            "error": error,
            "client_ids": forms,
            "symptoms": infusion_day.symptoms,
            "scale": infusion_day.reaction_scale,
            "started_epoch_ms": int(view.record.started_at.timestamp() * 1000)
            if view.record.started_at
            else None,
            "can_release": principal.can(Perm.PLAN_VERIFY),
            "site": site,
            "tz": ZoneInfo(site.timezone),
            "described": {e.id: describe_entry(e, symptom_names) for e in view.entries},
            "prior_reactions": service.prior_reactions(session, patient.id, view.record.id),
            "iga_words": {
                "yes": "IgA deficiency WITH anti-IgA antibodies",
                "no": "no IgA deficiency with antibodies",
                "unknown": "not known",
            }[patient.iga_deficiency_anti_iga],
            "premedication": view.plan.get("premedication") or [],
            "cost": cost_panels.infusion_panel(session, principal, record_id)
            if principal.can(Perm.COST_READ)
            else None,
            "authorisation": _authorisation_line(session, view.record),
        },
        status_code=status_code,
    )


def _authorisation_line(session: Session, record: Any) -> str | None:
    """The prior authorisation this infusion is given and dispensed under, in one line (None: the patient
    has no coverage on record)."""
    from igflow.appointments.models import Appointment
    from igflow.authorizations import service as authorizations_service

    if not authorizations_service.needs_authorisation(session, record.patient_id):
        return None
    appointment = session.get(Appointment, record.appointment_id)
    if appointment is None:
        return None
    check = authorizations_service.covering_on(session, record.order_id, appointment.date)
    if check.grant is None:
        return (
            "No prior authorisation covers today: tell the prior-authorisation specialist before dispensing."
        )
    return check.summary


def service_kinds() -> tuple[str, ...]:
    return (
        "checklist",
        "weight",
        "pharmacist_release",
        "vitals",
        "vial",
        "start",
        "rate_change",
        "reaction",
        "end",
        "sign",
        "note",
        "correction",
    )


@router.get("/chair/records/{record_id}", response_class=HTMLResponse)
def chair_record(
    request: Request,
    record_id: int,
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> Response:
    return _record_page(request, session, principal, record_id, None)


@router.post("/chair/records/{record_id}/entries", response_class=HTMLResponse)
async def chair_entry(
    request: Request,
    record_id: int,
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    kind = str(form.get("kind", ""))
    amends = str(form.get("amends_id", ""))

    def chart() -> None:
        site = service.record_site_for_id(session, principal, record_id)
        data = EntryIn.model_validate(
            {
                "client_id": str(form.get("client_id", "")),
                "kind": kind,
                "payload": payload_from_form(kind, form),
                "amends_id": int(amends) if amends.isdigit() else None,
                "reason": str(form.get("reason", "")),
                "occurred_at": _occurred_at(
                    form, site.timezone, appointments_service.site_today(site.timezone)
                ),
            }
        )
        service.chart(session, principal, record_id, data)

    return await form_action(
        session,
        chart,
        f"/chair/records/{record_id}#{kind}",
        lambda failure: _record_page(
            request, session, principal, record_id, failure.message, failure.status_code
        ),
    )


@router.get("/tasks", response_class=HTMLResponse)
def task_queue(
    request: Request,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    tasks = service.tasks(session, principal)
    names = patients_service.display_names(session, {t.patient_id for t in tasks})
    organisation = sites_service.get_organisation(session)
    tz = ZoneInfo(organisation.timezone if organisation else "UTC")
    context = {
        "tasks": tasks,
        "names": names,
        "error": None,
        "client_id": f"release-{uuid.uuid4().hex}",
        "tz": tz,
        "tz_name": organisation.timezone if organisation else "UTC",
    }
    return render(request, "chair/tasks.html", context)


@router.post("/tasks/{task_id}/done")
async def task_done(
    request: Request,
    task_id: int,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    outcome = {k.removeprefix("item_"): str(v) for k, v in form.items() if k.startswith("item_")}
    await run_in_threadpool(
        service.complete_task, session, principal, task_id, outcome, str(form.get("note", ""))
    )
    return RedirectResponse("/tasks", status_code=303)


@router.post("/infusions/{record_id}/release")
async def release_page(
    request: Request,
    record_id: int,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    data = ReleaseIn.model_validate(
        {
            "client_id": str(form.get("client_id", "")),
            "decision": form.get("decision", ""),
            "note": form.get("note", ""),
        }
    )
    await run_in_threadpool(service.release, session, principal, record_id, data)
    return RedirectResponse("/tasks", status_code=303)


@router.get("/patients/{patient_id}/infusions", response_class=HTMLResponse)
def patient_infusions(
    request: Request,
    patient_id: int,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    rows = service.history(session, principal, patient_id)
    patient = session.get(Patient, patient_id)
    return render(
        request,
        "chair/history.html",
        {
            "rows": rows,
            "patient": patient,
            "svg": infusion_timeline_svg(rows),
            "patient_cost": cost_panels.patient_panel(session, principal, patient_id)
            if principal.can(Perm.COST_READ)
            else None,
        },
    )


@router.get("/reports/reactions", response_class=HTMLResponse)
def reactions_panel(
    request: Request,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "chair/reactions.html", {"report": service.reaction_report(session, principal)})
