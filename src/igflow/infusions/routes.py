"""JSON API of the infusions capability."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.infusions import service
from igflow.infusions.schemas import EntryIn, EntryOut, ReleaseIn, TaskDoneIn, TaskOut
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["infusions"])


def _record_out(view: service.RecordView) -> dict[str, Any]:
    r = view.record
    return {
        "id": r.id,
        "appointment_id": r.appointment_id,
        "patient_id": r.patient_id,
        "order_id": r.order_id,
        "plan_version_id": r.plan_version_id,
        "day_index": r.day_index,
        "product": r.product_id,
        "status": r.status,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "signed_at": r.signed_at,
        "max_reaction_grade": r.max_reaction_grade,
        "next_plan_flags": r.next_plan_flags,
        "volume_infused_ml": r.volume_infused_ml,
        "plan_day": view.day,
        "checklist_done": view.checklist_done,
        "weight_ok": view.weight_ok,
        "weight_pending_pharmacist": view.weight_pending_pharmacist,
        "baseline_vitals": view.baseline_vitals,
        "vials_needed": {f"{k:g}": v for k, v in view.vials_needed.items()},
        "vials_scanned": {f"{k:g}": v for k, v in view.vials_scanned.items()},
        "missing_to_start": view.missing_to_start,
        "current_rate_ml_per_h": view.current_rate_ml_per_h,
        "sc_limits": view.sc,  # a subcutaneous plan's limits for this infusion (None: IV rate steps)
        "vitals_due": [{"minute": m, "reasons": list(r)} for m, r in view.vitals_due],
        "alerts": view.alerts,
        "entries": [EntryOut.model_validate(e).model_dump(mode="json") for e in view.entries],
    }


@router.post("/appointments/{appointment_id}/infusion", status_code=201)
def check_in(
    appointment_id: int,
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    record = service.check_in(session, principal, appointment_id)
    return _record_out(service.read(session, principal, record.id))


@router.get("/infusions/{record_id}")
def read_record(
    record_id: int,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    return _record_out(service.read(session, principal, record_id))


@router.post("/infusions/{record_id}/entries", response_model=EntryOut, status_code=201)
def chart(
    record_id: int,
    data: EntryIn,
    principal: Principal = require(Perm.INFUSION_CHART),
    session: Session = Depends(get_session),
) -> EntryOut:
    return EntryOut.model_validate(service.chart(session, principal, record_id, data))


@router.post("/infusions/{record_id}/pharmacist-release", response_model=EntryOut, status_code=201)
def pharmacist_release(
    record_id: int,
    data: ReleaseIn,
    principal: Principal = require(Perm.PLAN_VERIFY),
    session: Session = Depends(get_session),
) -> EntryOut:
    """A pharmacist's decision after a weight change at the chair (proceed with the plan, or hold)."""
    return EntryOut.model_validate(service.release(session, principal, record_id, data))


@router.get("/patients/{patient_id}/infusions")
def patient_infusions(
    patient_id: int,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    return service.history(session, principal, patient_id)


@router.get("/sites/{site_id}/infusions")
def site_day(
    site_id: int,
    date: dt.date,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    rows = service.today_at_site(session, principal, site_id, date)
    return [
        {
            "appointment_id": r["appointment"].id,
            "patient_id": r["appointment"].patient_id,
            "chair_id": r["appointment"].chair_id,
            "start_min": r["appointment"].start_min,
            "state": r["state"],
            "record_id": r.get("record_id"),
        }
        for r in rows
    ]


@router.get("/tasks", response_model=list[TaskOut])
def my_tasks(
    queue: str | None = None,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> list[TaskOut]:
    return [TaskOut.model_validate(t) for t in service.tasks(session, principal, queue)]


@router.post("/tasks/{task_id}/done", response_model=TaskOut)
def complete_task(
    task_id: int,
    data: TaskDoneIn,
    principal: Principal = require(Perm.INFUSION_READ),
    session: Session = Depends(get_session),
) -> TaskOut:
    return TaskOut.model_validate(service.complete_task(session, principal, task_id, data.outcome, data.note))


@router.get("/reports/reactions")
def reactions(
    principal: Principal = require(Perm.INFUSION_READ), session: Session = Depends(get_session)
) -> dict[str, Any]:
    report = service.reaction_report(session, principal)
    return {**report, "baseline": [b.model_dump() for b in report["baseline"]]}
