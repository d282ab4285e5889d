"""Use cases of the infusions capability: check in, chart at the chair, sign, follow up, report.

The record's state is derived from its append-only chart entries. Each entry is validated against what
came before (no start without the checklist, a weight within the limit or a pharmacist's release,
baseline vitals and every planned vial scanned; no rate above the plan; nothing but corrections after
signing), and carries the alerts the pure core raised (``igflow.clinical.infusion_day``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.catalog import Catalog, load_catalog
from igflow.clinical.infusion_day import (
    InfusionDayDataError,
    VitalSigns,
    assess_reaction,
    check_weight,
    evaluate_vitals,
    follow_up_task,
    vitals_due,
)
from igflow.clinical.models import Step
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput, NotFound, plain_problem
from igflow.infusions import sc as sc_charting
from igflow.infusions.models import ChartEntry, InfusionRecord, WorkTask
from igflow.infusions.schemas import PAYLOADS, EntryIn
from igflow.orders.models import Order, PlanVersion
from igflow.outcomes import service as outcomes_service
from igflow.patients import service as patients_service
from igflow.patients.schemas import MeasurementIn
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.statemachine import StateMachine

_VITAL_FIELDS = ("systolic_bp_mmhg", "heart_rate_bpm", "resp_rate_per_min", "spo2_percent", "temperature_c")


@dataclass
class RecordView:
    """What the chair-side page shows: the plan day, progress, due vitals and every entry."""

    record: InfusionRecord
    plan: dict[str, Any]
    day: dict[str, Any]
    entries: list[ChartEntry]
    checklist_done: bool = False
    weight_ok: bool = False
    weight_pending_pharmacist: bool = False
    baseline_vitals: bool = False
    vials_needed: dict[float, int] = field(default_factory=dict)
    vials_scanned: dict[float, int] = field(default_factory=dict)
    current_rate_ml_per_h: float | None = None
    current_step: int | None = None
    vitals_due: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    missing_to_start: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: A subcutaneous plan's limits for this infusion (None: an IV plan, charted by its rate steps).
    sc: dict[str, Any] | None = None


def _plan_for(session: Session, appointment: Appointment) -> tuple[PlanVersion, Order, CourseSession]:
    cs = session.get(CourseSession, appointment.course_session_id)
    assert cs is not None
    course = session.get(Course, cs.course_id)
    assert course is not None
    version = session.get(PlanVersion, course.plan_version_id)
    order = session.get(Order, course.order_id)
    assert version is not None and order is not None
    return version, order, cs


def _day(plan: dict[str, Any], day_index: int) -> dict[str, Any]:
    for day in plan.get("days") or []:
        if int(day["day"]) == day_index:
            return dict(day)
    raise InvalidInput(f"the plan has no day {day_index}", "appointment_id")


def _max_rate_ml_per_h(view: RecordView) -> float:
    """The fastest rate the chart accepts today: the SC plan's total (sites x rate per site), else the
    fastest of the IV plan's steps."""
    if view.sc is not None:
        return float(view.sc["total_rate_ml_per_h"])
    return max(float(s["rate_ml_per_h"]) for s in view.day["steps"])


def _deliverable_in(view: RecordView, minutes: float) -> float:
    """The most the plan delivers in ``minutes``: at the SC plan's total rate, or by the IV steps."""
    if view.sc is not None:
        return float(view.sc["total_rate_ml_per_h"]) * max(0.0, minutes) / 60
    return _deliverable_ml(view.day, minutes)


def _site_catalog(session: Session, record: InfusionRecord) -> Catalog:
    """The catalog with the site protocol in force at the appointment's centre on its date."""
    from igflow.protocols import service as protocols_service

    appointment = session.get(Appointment, record.appointment_id)
    assert appointment is not None
    return protocols_service.in_force(session, appointment.site_id, appointment.date, load_catalog()).catalog


def _occurred_at(record: InfusionRecord, data: EntryIn, catalog: Catalog) -> datetime:
    """When the entry happened: now, or a back-timed moment within the charting limits."""
    now = utcnow()
    if data.occurred_at is None:
        return now
    when = data.occurred_at if data.occurred_at.tzinfo else data.occurred_at.replace(tzinfo=UTC)
    limit_h = catalog.infusion_day.charting.back_time_max_h
    if when > now + timedelta(minutes=1):
        raise InvalidInput("occurred_at: cannot be in the future", "occurred_at")
    if when < record.created_at - timedelta(minutes=1):
        raise InvalidInput("occurred_at: cannot be before the patient was checked in", "occurred_at")
    if when < now - timedelta(hours=limit_h):
        raise InvalidInput(
            f"occurred_at: at most {limit_h:g} hours back (charting limit); add a note instead", "occurred_at"
        )
    return when


def _deliverable_ml(day: dict[str, Any], minutes: float) -> float:
    """The most the plan's steps deliver in ``minutes`` from the start (rates never exceed the plan's)."""
    total = 0.0
    for step in day["steps"]:
        start, length = float(step["start_min"]), float(step["minutes"])
        run = max(0.0, min(length, minutes - start))
        total += float(step["rate_ml_per_h"]) * run / 60
    if minutes > sum(float(s["minutes"]) for s in day["steps"]):
        last = day["steps"][-1]
        extra = minutes - float(last["start_min"]) - float(last["minutes"])
        total += float(last["rate_ml_per_h"]) * max(0.0, extra) / 60
    return total


def check_in(session: Session, principal: Principal, appointment_id: int) -> InfusionRecord:
    """Open the chart for today's appointment (the same record if it is already open)."""
    appointment = scope.appointment(session, principal, appointment_id)
    try:
        patients_service.check_access(session, principal, appointment.patient_id)
    except NotFound:
        raise NotFound(f"appointment {appointment_id} not found") from None
    existing = session.execute(
        select(InfusionRecord).where(InfusionRecord.appointment_id == appointment.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    if appointment.status != "booked":
        raise InvalidInput(f"appointment_id: the appointment is {appointment.status}", "appointment_id")
    version, order, cs = _plan_for(session, appointment)
    day = _day(version.plan, cs.day_index)
    reason = sc_charting.not_chartable(version.plan, day)
    if reason is not None:
        raise InvalidInput(f"appointment_id: {reason}", "appointment_id")
    record = InfusionRecord(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        order_id=order.id,
        plan_version_id=version.id,
        day_index=cs.day_index,
        product_id=str(version.plan["product"]),
        status="checked_in",
        first_infusion=bool(version.plan.get("first_infusion")),
        next_plan_flags=[],
        created_by_user_id=principal.user_id,
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        again = session.execute(
            select(InfusionRecord).where(InfusionRecord.appointment_id == appointment.id)
        ).scalar_one()
        return again
    audit.record(
        session,
        principal.actor,
        "infusion.check_in",
        "infusion_record",
        record.id,
        patient_id=record.patient_id,
    )
    session.commit()
    return record


def _load(session: Session, principal: Principal, record_id: int) -> InfusionRecord:
    record = scope.get(session, principal, InfusionRecord, record_id, "infusion record")
    try:
        patients_service.check_access(session, principal, record.patient_id)
    except NotFound:
        raise NotFound(f"infusion record {record_id} not found") from None
    return record


def _entries(session: Session, record_id: int) -> list[ChartEntry]:
    return list(
        session.execute(
            select(ChartEntry).where(ChartEntry.record_id == record_id).order_by(ChartEntry.id)
        ).scalars()
    )


def _steps(day: dict[str, Any]) -> list[Step]:
    return [
        Step(
            start_min=float(s["start_min"]),
            minutes=float(s["minutes"]),
            rate_mg_per_kg_min=float(s["rate_mg_per_kg_min"]),
            rate_ml_per_h=float(s["rate_ml_per_h"]),
            volume_ml=float(s.get("volume_ml") or 0),
        )
        for s in day["steps"]
    ]


def _view(session: Session, record: InfusionRecord) -> RecordView:
    version = session.get(PlanVersion, record.plan_version_id)
    assert version is not None
    day = _day(version.plan, record.day_index)
    entries = _entries(session, record.id)
    view = RecordView(record=record, plan=version.plan, day=day, entries=entries)
    if sc_charting.is_sc(version.plan):
        view.sc = sc_charting.limits(session, record, version.plan, day)
    view.vials_needed = {float(v["size_g"]): int(v["count"]) for v in day.get("vials", [])}
    scanned: dict[float, int] = defaultdict(int)
    started = False
    for entry in entries:
        view.alerts.extend(entry.result.get("alerts", []))
        if entry.kind == "checklist":
            view.checklist_done = True
        elif entry.kind == "weight":
            view.weight_ok = not entry.result.get("needs_pharmacist", True)
            view.weight_pending_pharmacist = bool(entry.result.get("needs_pharmacist"))
        elif entry.kind == "pharmacist_release":
            if entry.payload.get("decision") in ("proceed", "replan") and view.weight_pending_pharmacist:
                view.weight_ok, view.weight_pending_pharmacist = True, False
        elif entry.kind == "vitals" and not started:
            view.baseline_vitals = True
        elif entry.kind == "vial":
            scanned[float(entry.result["size_g"])] += 1
        elif entry.kind == "start":
            started = True
            first_rate = view.sc["total_rate_ml_per_h"] if view.sc else day["steps"][0]["rate_ml_per_h"]
            view.current_step, view.current_rate_ml_per_h = 0, float(first_rate)
        elif entry.kind == "rate_change":
            view.current_rate_ml_per_h = float(entry.payload["rate_ml_per_h"])
            view.current_step = entry.result.get("step")
    view.vials_scanned = dict(scanned)
    missing = []
    if not view.checklist_done:
        missing.append("the pre-infusion checklist (two identifiers, hydration, IV access)")
    if view.weight_pending_pharmacist:
        missing.append("the pharmacist's release after today's weight change")
    elif not view.weight_ok:
        missing.append("today's weight")
    if not view.baseline_vitals:
        missing.append("baseline vital signs")
    if view.vials_scanned != view.vials_needed:
        want = ", ".join(f"{c} × {s:g} g" for s, c in sorted(view.vials_needed.items()))
        have = ", ".join(f"{c} × {s:g} g" for s, c in sorted(view.vials_scanned.items())) or "none"
        missing.append(f"every planned vial scanned (plan: {want}; scanned: {have})")
    view.missing_to_start = missing
    observation = float(day.get("observation_min") or 0)
    if view.sc is not None:
        view.alerts.append(
            {
                "severity": "info",
                "code": "sc_vitals_schedule_unknown",
                "message": "The catalog's vitals schedule is for IV rate steps; no subcutaneous schedule is "
                "in the catalog. Record vitals before the infusion and before signing, and as the site's "
                "SCIG protocol asks.",
            }
        )
        return view
    try:
        due = vitals_due(_steps(day), load_catalog().infusion_day.vitals_schedule, observation)
        view.vitals_due = [(d.minute, d.reasons) for d in due]
    except InfusionDayDataError as exc:
        view.alerts.append({"severity": "warning", "code": "vitals_schedule_unknown", "message": str(exc)})
    return view


def read(session: Session, principal: Principal, record_id: int) -> RecordView:
    record = _load(session, principal, record_id)
    audit.record(
        session, principal.actor, "infusion.read", "infusion_record", record.id, patient_id=record.patient_id
    )
    session.commit()
    return _view(session, record)


def _alerts(items: Any) -> list[dict[str, Any]]:
    return [{"severity": a.severity, "code": a.code, "message": a.message} for a in items]


def _replayed(existing: ChartEntry, record_id: int, data: EntryIn) -> ChartEntry:
    """A submission whose client_id is stored: the stored entry when it is the same one (a retry),
    409 when the id was used for another record, kind, payload, amended entry or reason."""
    amends_id = data.amends_id if data.kind == "correction" else None
    stored = (existing.record_id, existing.kind, existing.payload, existing.amends_id, existing.reason)
    if stored != (record_id, data.kind, data.payload, amends_id, data.reason):
        raise Conflict(
            f"client_id: {data.client_id} was already used for a different chart entry "
            f"(entry {existing.id}, {existing.kind}); a retry must send the same entry, a new entry a new id",
            "client_id",
        )
    return existing


#: The infusion record's status. ``stopped`` is an infusion a reaction stopped; it is ended (volume
#: infused) like any other, then observed and signed. A signed record takes only corrections.
RECORD = StateMachine(
    "infusion_record",
    InfusionRecord,
    {
        "checked_in": frozenset({"infusing"}),
        "infusing": frozenset({"stopped", "observation"}),
        "stopped": frozenset({"observation"}),
        "observation": frozenset({"signed"}),
        "signed": frozenset(),
    },
    labels={
        "checked_in": "checked in (not started)",
        "infusing": "infusing",
        "stopped": "stopped after a reaction",
        "observation": "in observation",
        "signed": "signed",
    },
    noun="the infusion",
)
TASK = StateMachine(
    "work_task", WorkTask, {"open": frozenset({"done"}), "done": frozenset()}, noun="the task"
)
_NOT_SIGNED = frozenset(RECORD.states - {"signed"})


@dataclass
class _Charting:
    """What one chart entry's handler works with; a handler fills ``result`` and, when the entry moves the
    record on, names the new status in ``to`` (with the columns that change beside it in ``values``)."""

    session: Session
    principal: Principal
    record: InfusionRecord
    data: EntryIn
    payload: Any
    view: RecordView
    catalog: Catalog
    occurred: datetime
    result: dict[str, Any] = field(default_factory=dict)
    to: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Kind:
    """One kind of chart entry: the record states it may be charted in (with the sentence a nurse reads
    otherwise) and its handler."""

    handler: Any
    states: frozenset[str] = _NOT_SIGNED
    wrong_state: str = "The record is signed and locked; add a correction that names the entry and says why."


def _chart_checklist(c: _Charting) -> None:
    if len(set(c.payload.identifiers)) < 2:
        raise InvalidInput(
            "payload.identifiers: confirm two different patient identifiers", "payload.identifiers"
        )
    if not c.payload.hydration:
        c.result["alerts"] = [
            {"severity": "warning", "code": "hydration_not_confirmed", "message": "Hydration not confirmed."}
        ]


def _chart_weight(c: _Charting) -> None:
    limits = c.catalog.infusion_day.weight_check
    check = check_weight(float(c.view.plan["weight_kg"]), c.payload.weight_kg, limits)
    c.result.update(
        needs_pharmacist=check.needs_pharmacist,
        change_kg=check.change_kg,
        change_percent=check.change_percent,
        threshold_percent=limits.max_change_percent.value,
        threshold_source=limits.max_change_percent.source,
        alerts=_alerts(check.alerts),
    )
    appointment = c.session.get(Appointment, c.record.appointment_id)
    assert appointment is not None
    site = sites_service.get_site(c.session, appointment.site_id)
    stored = patients_service.add_measurement(
        c.session,
        c.principal,
        c.record.patient_id,
        MeasurementIn(
            kind="weight_kg",
            value=c.payload.weight_kg,
            measured_on=c.occurred.astimezone(ZoneInfo(site.timezone)).date(),
            note=f"weighed at the chair (infusion record {c.record.id})",
        ),
        commit=False,
    )
    c.result["measurement_id"] = stored.id
    if check.needs_pharmacist:
        _task(
            c.session,
            "weight_review",
            "pharmacist",
            c.record,
            f"Weight at the chair {c.payload.weight_kg:g} kg vs plan {c.view.plan['weight_kg']:g} kg",
            {"change_kg": check.change_kg, "change_percent": check.change_percent},
        )


def _chart_pharmacist_release(c: _Charting) -> None:
    if not c.principal.can(Perm.PLAN_VERIFY):
        raise Forbidden("Only a pharmacist can release a plan after a weight change.", "kind")
    if not c.view.weight_pending_pharmacist:
        raise InvalidInput("kind: no weight change is waiting for a pharmacist", "kind")
    if c.payload.decision == "replan":
        c.result.update(_replan_for_todays_weight(c.session, c.principal, c.record, c.payload.note))


def _chart_vitals(c: _Charting) -> None:
    reading = VitalSigns(**{k: getattr(c.payload, k) for k in _VITAL_FIELDS})
    baseline = next((e for e in c.view.entries if e.kind == "vitals"), None)
    base = VitalSigns(**{k: baseline.payload.get(k) for k in _VITAL_FIELDS}) if baseline else None
    c.result["alerts"] = _alerts(evaluate_vitals(reading, c.catalog.infusion_day.vital_limits, base))


def _chart_vial(c: _Charting) -> None:
    from igflow.inventory import service as inventory_service

    appointment_id = c.record.appointment_id
    scan = inventory_service.scan_check(c.session, c.principal, appointment_id, c.payload.scan_text)
    size = float(scan.vial_size_g)
    if c.view.vials_scanned.get(size, 0) >= c.view.vials_needed.get(size, 0):
        raise InvalidInput(
            f"scan: the plan needs no more {size:g} g vials today (plan: {c.view.vials_needed})", "scan"
        )
    if not c.view.vials_scanned:  # the day's first vial: is this dispense covered by the authorisation?
        warnings = _authorisation_at_dispense(c, scan.product_id)
        if warnings:
            c.result["authorisation"] = warnings
    # The stock move's own idempotency key, derived from the chart entry's (and short enough for it).
    move_key = "vial-" + hashlib.sha256(c.data.client_id.encode()).hexdigest()[:32]
    move = inventory_service.dispense(
        c.session, c.principal, appointment_id, scan.lot_id, 1, client_id=move_key
    )
    c.result.update(lot_id=scan.lot_id, lot_number=scan.lot_number, size_g=size, move_id=move.id)


def _authorisation_at_dispense(c: _Charting, product_id: str) -> list[str]:
    """What dispensing today's dose would do to the prior authorisation: warnings the chart records and
    shows, or a refusal when the payer makes it a hard stop (the scheduler was stopped the same way)."""
    from igflow.appointments import service as appointments_service
    from igflow.appointments.models import Appointment
    from igflow.authorizations import service as authorizations_service
    from igflow.authorizations.core import Use

    appointment = c.session.get(Appointment, c.record.appointment_id)
    if appointment is None:
        return []
    used = [
        u
        for u in appointments_service.authorisation_uses(c.session, c.record.order_id)
        if u.date != appointment.date
    ]
    grams = float(c.view.day.get("dispensed_g") or c.view.day.get("prescribed_g") or 0.0)
    new = [Use(date=appointment.date, grams=grams, product_id=product_id, site_of_care="facility")]
    check = authorizations_service.check_days(c.session, c.record.order_id, c.record.patient_id, used, new)
    if check is None or not check.findings:
        return []
    if check.hard_stop:
        raise Conflict(
            "scan: not dispensed. " + " ".join(check.messages) + " This payer does not allow it: the "
            "prior-authorisation specialist can ask the payer for more on the patient's prior-auth page.",
            "scan",
        )
    return check.messages


def _chart_start(c: _Charting) -> None:
    if c.view.missing_to_start:
        raise InvalidInput("Not ready to start: " + "; ".join(c.view.missing_to_start) + ".", "kind")
    if c.view.sc is not None:
        c.result["sc_limits"] = c.view.sc  # the limits this SC infusion is charted against
    c.to, c.values = "infusing", {"started_at": c.occurred}


def _chart_rate_change(c: _Charting) -> None:
    rate, most = c.payload.rate_ml_per_h, _max_rate_ml_per_h(c.view)
    if rate > most + 0.05:
        why = f" ({sc_charting.limit_words(c.view.sc)})" if c.view.sc is not None else ""
        raise InvalidInput(
            f"payload.rate_ml_per_h: {rate:g} mL/h is above the plan's maximum {most:g} mL/h for today{why}",
            "payload.rate_ml_per_h",
        )
    if c.view.sc is not None:
        c.result["step"] = 0
        return
    rates = [float(s["rate_ml_per_h"]) for s in c.view.day["steps"]]
    c.result["step"] = max((k for k, r in enumerate(rates) if r <= rate + 0.05), default=0)


def _chart_reaction(c: _Charting) -> None:
    p, record = c.payload, c.record
    assessment = assess_reaction(p.grade, p.symptoms, c.catalog.infusion_day, p.action_taken)
    c.result.update(
        recommended_action=assessment.recommended_action,
        stops_infusion=assessment.stops_infusion,
        notify=list(assessment.notify_queues),
        next_plan_flags=list(assessment.next_plan_flags),
        protocol_source=assessment.protocol_source,
        alerts=_alerts(assessment.alerts),
    )
    record.max_reaction_grade = max(record.max_reaction_grade, p.grade)
    if assessment.stops_infusion and record.status == "infusing":
        c.to, c.values = "stopped", {"ended_at": utcnow()}
    if assessment.next_plan_flags:
        record.next_plan_flags = sorted(set(record.next_plan_flags) | set(assessment.next_plan_flags))
    for queue in assessment.notify_queues:
        _task(
            c.session,
            "reaction_review",
            queue,
            record,
            f"Grade {p.grade} infusion reaction ({', '.join(p.symptoms)})",
            {"grade": p.grade, "next_plan_flags": list(assessment.next_plan_flags)},
        )


def _chart_end(c: _Charting) -> None:
    record, volume = c.record, c.payload.volume_infused_ml
    started = record.started_at or c.occurred
    elapsed_min = max(0.0, (c.occurred - started).total_seconds() / 60)
    if record.status == "stopped" and record.ended_at is not None:
        elapsed_min = max(0.0, (record.ended_at - started).total_seconds() / 60)
    most = _deliverable_in(c.view, elapsed_min)
    margin = c.catalog.infusion_day.charting.volume_margin_percent
    if volume > most * (1 + margin / 100) + 1 and not c.payload.confirm_volume:
        raise InvalidInput(
            f"payload.volume_infused_ml: {volume:g} mL is more than the plan's rates can deliver in "
            f"{elapsed_min:.0f} min (at most about {most:.0f} mL). Check the pump's volume; "
            "if it is right, confirm it.",
            "payload.volume_infused_ml",
        )
    c.result.update(deliverable_ml=round(most, 1), elapsed_min=round(elapsed_min, 1))
    c.to, c.values = "observation", {"volume_infused_ml": volume}
    if record.status == "infusing":
        c.values["ended_at"] = c.occurred


def _chart_sign(c: _Charting) -> None:
    record, view = c.record, c.view
    end_id = max(e.id for e in view.entries if e.kind == "end")
    if not any(e.kind == "vitals" and e.id > end_id for e in view.entries):
        raise InvalidInput("kind: record discharge vital signs after the observation before signing", "kind")
    observation_min = float(view.day.get("observation_min") or 0)
    ended_at = record.ended_at or c.occurred
    waited_min = (c.occurred - ended_at).total_seconds() / 60
    early = c.payload.early_reason.strip()
    if waited_min < observation_min and not early:
        due = ended_at + timedelta(minutes=observation_min)
        raise InvalidInput(
            f"payload.early_reason: the plan's observation is {observation_min:g} min after the end; "
            f"{observation_min - waited_min:.0f} min remain (until {due.strftime('%H:%M')} UTC). "
            "Sign then, or give the reason to sign early.",
            "payload.early_reason",
        )
    if early:
        c.result.update(signed_early_min=round(observation_min - waited_min, 1), early_reason=early)
    c.to, c.values = "signed", {"signed_at": utcnow(), "signed_by_user_id": c.principal.user_id}
    task = follow_up_task(record.ended_at or utcnow(), c.catalog.infusion_day.follow_up)
    _task(
        c.session,
        "follow_up",
        "nurse",
        record,
        "Follow-up call after the infusion",
        {"checklist": [{"id": i.id, "label": i.label} for i in task.checklist]},
        due=(task.due_from_utc, task.due_by_utc),
    )
    from igflow.home.service import rules as home_rules  # home therapy reads infusions, not the reverse

    if home_rules.after_sign(c.session, record, c.catalog) is not None:
        c.result.update(next_dose_at_centre=True)


def _chart_note(c: _Charting) -> None:
    """A free-text note: nothing to check beyond its schema."""


def _chart_correction(c: _Charting) -> None:
    target = c.session.get(ChartEntry, c.data.amends_id) if c.data.amends_id else None
    if target is None or target.record_id != c.record.id:
        raise InvalidInput("amends_id: name the entry of this record being corrected", "amends_id")
    if not c.data.reason.strip():
        raise InvalidInput("reason: say why the entry is corrected", "reason")


#: Every kind of chart entry, with the record states it may be charted in.
KINDS: dict[str, _Kind] = {
    "checklist": _Kind(_chart_checklist),
    "weight": _Kind(_chart_weight),
    "pharmacist_release": _Kind(_chart_pharmacist_release),
    "vitals": _Kind(_chart_vitals),
    "vial": _Kind(_chart_vial, frozenset({"checked_in"}), "Vials are scanned before the infusion starts."),
    "start": _Kind(
        _chart_start, frozenset({"checked_in"}), "The infusion has already started: it is {status}."
    ),
    "rate_change": _Kind(
        _chart_rate_change, frozenset({"infusing"}), "Rates are changed while infusing; it is {status}."
    ),
    "reaction": _Kind(_chart_reaction),
    "end": _Kind(
        _chart_end,
        frozenset({"infusing", "stopped"}),
        "Only a running or stopped infusion can be ended; it is {status}.",
    ),
    "sign": _Kind(
        _chart_sign,
        frozenset({"observation"}),
        "End the infusion (volume infused, vials) before signing; it is {status}.",
    ),
    "note": _Kind(_chart_note),
    "correction": _Kind(_chart_correction, RECORD.states),
}


def chart(session: Session, principal: Principal, record_id: int, data: EntryIn) -> ChartEntry:
    """Append one chart entry; a retried submission (same client_id) returns the stored entry."""
    record = _load(session, principal, record_id)
    existing = session.execute(
        select(ChartEntry).where(ChartEntry.client_id == data.client_id)
    ).scalar_one_or_none()
    if existing is not None:
        return _replayed(existing, record_id, data)
    try:
        payload = PAYLOADS[data.kind].model_validate(data.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or data.kind
        raise InvalidInput(f"payload.{name}: {plain_problem(first)}", f"payload.{name}") from None
    spec = KINDS[data.kind]
    if record.status not in spec.states:
        raise Conflict(spec.wrong_state.format(status=RECORD.label(record.status)), "kind")
    catalog = _site_catalog(session, record)
    charting = _Charting(
        session, principal, record, data, payload, _view(session, record), catalog,
        _occurred_at(record, data, catalog),
    )  # fmt: skip
    spec.handler(charting)
    if charting.to is not None:
        RECORD.move(session, record, charting.to, field_name="kind", **charting.values)
    if charting.to == "signed":
        from igflow.appointments import service as appointments_service  # appointments reads infusions

        # What a signature sets going: the appointment (and course) completed, a due response review.
        appointments_service.complete_day(session, principal, record.appointment_id)
        outcomes_service.review_after_signing(session, principal, record)
    kind, occurred, result = data.kind, charting.occurred, charting.result
    entry = ChartEntry(
        record_id=record.id,
        client_id=data.client_id,
        kind=kind,
        payload=data.payload,
        result=result,
        amends_id=data.amends_id if kind == "correction" else None,
        reason=data.reason,
        created_by_user_id=principal.user_id,
        occurred_at=data.occurred_at and occurred,
    )
    session.add(entry)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same client_id committed first (the unique constraint is the
        # arbiter; the check above cannot see an uncommitted entry): the same entry replays, another
        # is a conflict, never someone else's entry returned as this one.
        session.rollback()
        again = session.execute(
            select(ChartEntry).where(ChartEntry.client_id == data.client_id)
        ).scalar_one_or_none()
        if again is None:
            raise
        return _replayed(again, record_id, data)
    audit.record(
        session,
        principal.actor,
        f"infusion.{kind}",
        "chart_entry",
        entry.id,
        patient_id=record.patient_id,
        detail={"record_id": record.id},
    )
    session.commit()
    return entry


def release(session: Session, principal: Principal, record_id: int, data: Any) -> ChartEntry:
    """The pharmacist's decision on a weight change at the chair; closes the weight-review task."""
    entry = chart(
        session,
        principal,
        record_id,
        EntryIn(
            client_id=data.client_id,
            kind="pharmacist_release",
            payload={"decision": data.decision, "note": data.note},
        ),
    )
    if data.decision == "hold":
        # not today: the task stays open until the record can proceed (a later release or re-plan)
        _task(
            session,
            "weight_hold",
            "prescriber",
            session.get(InfusionRecord, record_id),  # type: ignore[arg-type]
            f"Infusion held by the pharmacist after a weight change: {data.note}",
            {"note": data.note},
        )
        session.commit()
        return entry
    for task in session.execute(
        select(WorkTask).where(
            WorkTask.record_id == record_id, WorkTask.kind == "weight_review", WorkTask.status == "open"
        )
    ).scalars():
        TASK.move(
            session,
            task,
            "done",
            outcome={"decision": data.decision, "note": data.note},
            completed_by_user_id=principal.user_id,
            completed_at=utcnow(),
        )
    session.commit()
    return entry


def _replan_for_todays_weight(
    session: Session, principal: Principal, record: InfusionRecord, note: str
) -> dict[str, Any]:
    """A new plan version from today's weight (already in the patient's history), verified now by this
    pharmacist; the chart follows it from here. Other days of the course keep theirs until re-booked."""
    from igflow.orders import service as orders_service
    from igflow.orders.schemas import VerificationIn

    order = session.get(Order, record.order_id)
    assert order is not None
    current, _created = orders_service.refresh(session, order)
    if current.id == record.plan_version_id:
        raise InvalidInput(
            "decision: today's weight gives the same plan; proceed with it instead", "payload.decision"
        )
    try:
        orders_service.verify(
            session,
            principal,
            order.id,
            VerificationIn(
                version=current.version, decision="verified", note=f"Re-planned at the chair: {note}"
            ),
        )
    except (InvalidInput, Forbidden, Conflict) as exc:
        raise InvalidInput(
            f"payload.decision: the new plan (version {current.version}) cannot be verified here: "
            f"{exc.message} Open order {order.id} to resolve it.",
            "payload.decision",
        ) from None
    day = _day(current.plan, record.day_index)
    reason = sc_charting.not_chartable(current.plan, day)
    if reason is not None:
        raise InvalidInput(f"payload.decision: {reason} in the new plan", "payload.decision")
    before = record.plan_version_id
    record.plan_version_id = current.id
    return {"plan_version_before": before, "plan_version": current.id, "version": current.version}


def _task(
    session: Session,
    kind: str,
    queue: str,
    record: InfusionRecord,
    title: str,
    detail: dict[str, Any],
    due: tuple[datetime, datetime] | None = None,
) -> WorkTask:
    task = WorkTask(
        kind=kind,
        queue=queue,
        patient_id=record.patient_id,
        record_id=record.id,
        title=title,
        detail=detail,
        due_from=due[0] if due else None,
        due_by=due[1] if due else None,
        status="open",
    )
    session.add(task)
    session.flush()
    return task


_QUEUE_OF_PERM = (
    (Perm.PLAN_VERIFY, "pharmacist"),
    (Perm.ORDER_WRITE, "prescriber"),
    (Perm.INFUSION_CHART, "nurse"),
    (Perm.PRIOR_AUTH_WRITE, "prior_auth"),
)


def my_queues(principal: Principal) -> list[str]:
    return [queue for perm, queue in _QUEUE_OF_PERM if principal.can(perm)]


def tasks(session: Session, principal: Principal, queue: str | None = None) -> list[WorkTask]:
    queues = my_queues(principal)
    if queue is not None:
        if queue not in queues:
            raise Forbidden(f"queue: the {queue} queue is not yours", "queue")
        queues = [queue]
    query = (
        select(WorkTask)
        .where(WorkTask.status == "open", WorkTask.queue.in_(queues))
        .order_by(WorkTask.due_by.is_(None), WorkTask.due_by, WorkTask.id)
    )
    visible = list(session.execute(scope.rows(query, principal, WorkTask)).scalars())
    audit.record(
        session, principal.actor, "task.list", "work_task", detail={"returned_ids": [t.id for t in visible]}
    )
    session.commit()
    return visible


def complete_task(
    session: Session, principal: Principal, task_id: int, outcome: dict[str, Any], note: str
) -> WorkTask:
    task = scope.get(session, principal, WorkTask, task_id, "task")
    if task.queue not in my_queues(principal):
        raise Forbidden(f"This task is in the {task.queue} queue.", "queue")
    TASK.check(task.status, "done")
    if task.kind == "follow_up":
        expected = {c["id"] for c in task.detail.get("checklist", [])}
        if set(outcome) != expected:
            raise InvalidInput(
                f"outcome: answer every item of the checklist ({', '.join(sorted(expected))})", "outcome"
            )
    TASK.move(
        session,
        task,
        "done",
        outcome={**outcome, "note": note},
        completed_by_user_id=principal.user_id,
        completed_at=utcnow(),
    )
    audit.record(session, principal.actor, "task.complete", "work_task", task.id, patient_id=task.patient_id)
    session.commit()
    return task


def today_at_site(session: Session, principal: Principal, site_id: int, day: Any) -> list[dict[str, Any]]:
    """The day's appointments at a centre with each chair's live state (for the chair side and the board)."""
    scope.require_site(principal, site_id)
    appointments = list(
        session.execute(
            select(Appointment)
            .where(
                Appointment.site_id == site_id,
                Appointment.date == day,
                Appointment.status.in_(("booked", "completed")),
            )
            .order_by(Appointment.start_min)
        ).scalars()
    )
    states = states_for_appointments(session, [a.id for a in appointments])
    audit.record(
        session,
        principal.actor,
        "infusion.day_list",
        "site",
        site_id,
        detail={"appointment_ids": [a.id for a in appointments]},
    )
    session.commit()
    return [{"appointment": a, **states.get(a.id, {"state": "not checked in"})} for a in appointments]


def states_for_appointments(session: Session, appointment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Live state per appointment: checked in, infusing at step k of n, reaction, done."""
    if not appointment_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    records = session.execute(
        select(InfusionRecord).where(InfusionRecord.appointment_id.in_(appointment_ids))
    ).scalars()
    for record in records:
        view = _view(session, record)
        steps = len(view.day["steps"])
        if record.status == "infusing" and view.sc is not None:
            label = f"infusing subcutaneously, {view.sc['sites']} site(s)"
        elif record.status == "infusing":
            label = f"infusing, step {(view.current_step or 0) + 1} of {steps}"
        else:
            label = {
                "checked_in": "checked in",
                "stopped": "stopped",
                "observation": "observation",
                "signed": "done",
            }[record.status]
        if record.max_reaction_grade:
            label += f"; reaction grade {record.max_reaction_grade}"
        last_vitals = next((e for e in reversed(view.entries) if e.kind == "vitals"), None)
        if last_vitals is not None and any(
            a.get("severity") in ("warning", "hard_stop") for a in last_vitals.result.get("alerts", [])
        ):
            label += "; vitals alert"
        out[record.appointment_id] = {"state": label, "record_id": record.id, "status": record.status}
    return out


def history(session: Session, principal: Principal, patient_id: int) -> list[dict[str, Any]]:
    """A patient's infusions: date, product, lots, dose, reactions."""
    patients_service.check_access(session, principal, patient_id)
    query = (
        select(InfusionRecord, Appointment)
        .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
        .where(InfusionRecord.patient_id == patient_id)
        .order_by(Appointment.date)
    )
    rows = session.execute(scope.rows(query, principal, Appointment)).all()
    out = []
    for record, appointment in rows:
        entries = _entries(session, record.id)
        version = session.get(PlanVersion, record.plan_version_id)
        assert version is not None
        day = _day(version.plan, record.day_index)
        out.append(
            {
                "record_id": record.id,
                "date": appointment.date,
                "product": record.product_id,
                "dose_g": day["dispensed_g"],
                "status": record.status,
                "lots": sorted({e.result.get("lot_number", "") for e in entries if e.kind == "vial"}),
                "reactions": [e.payload for e in entries if e.kind == "reaction"],
                "max_reaction_grade": record.max_reaction_grade,
                "volume_infused_ml": record.volume_infused_ml,
            }
        )
    audit.record(session, principal.actor, "infusion.history", "patient", patient_id, patient_id=patient_id)
    session.commit()
    return out


def reaction_report(session: Session, principal: Principal) -> dict[str, Any]:
    """Reaction rates per product, indication and first-vs-later infusion, beside the published baseline."""
    query = (
        select(InfusionRecord, Order.indication_id)
        .join(Order, Order.id == InfusionRecord.order_id)
        .where(InfusionRecord.status.in_(("signed", "observation", "stopped")))
    )
    rows = session.execute(scope.rows(query, principal, InfusionRecord)).all()
    groups: dict[str, dict[str, dict[str, int]]] = {"product": {}, "indication": {}, "infusion": {}}
    for record, indication in rows:
        for dimension, key in (
            ("product", record.product_id),
            ("indication", indication),
            ("infusion", "first" if record.first_infusion else "later"),
        ):
            cell = groups[dimension].setdefault(
                key, {"infusions": 0, "any": 0, "moderate_or_worse": 0, "serious": 0}
            )
            cell["infusions"] += 1
            cell["any"] += record.max_reaction_grade >= 1
            cell["moderate_or_worse"] += record.max_reaction_grade >= 2
            cell["serious"] += record.max_reaction_grade >= 3
    baseline = load_catalog().infusion_day.baseline_rates
    audit.record(session, principal.actor, "report.reactions", "report", detail={"infusions": len(rows)})
    session.commit()
    return {"groups": groups, "baseline": baseline, "infusions": len(rows)}


def flags_for_order(session: Session, order_id: int) -> list[dict[str, Any]]:
    """Reactions on this order's infusions that flagged the next plan (for the order page)."""
    rows = session.execute(
        select(InfusionRecord, Appointment.date)
        .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
        .where(InfusionRecord.order_id == order_id, InfusionRecord.max_reaction_grade > 0)
        .order_by(Appointment.date)
    ).all()
    return [
        {"date": day, "grade": r.max_reaction_grade, "flags": r.next_plan_flags, "record_id": r.id}
        for r, day in rows
        if r.next_plan_flags
    ]


def highest_reaction_grade(session: Session, patient_id: int) -> int | None:
    """The highest CTCAE grade of an infusion reaction on the patient's chart (None: no reaction)."""
    grade = session.execute(
        select(InfusionRecord.max_reaction_grade)
        .where(InfusionRecord.patient_id == patient_id, InfusionRecord.max_reaction_grade > 0)
        .order_by(InfusionRecord.max_reaction_grade.desc())
        .limit(1)
    ).scalar_one_or_none()
    return grade or None


def record_site(session: Session, record: InfusionRecord) -> Any:
    """The centre where the record's appointment is (its time zone is the one a nurse reads)."""
    appointment = session.get(Appointment, record.appointment_id)
    assert appointment is not None
    return sites_service.get_site(session, appointment.site_id)


def record_site_for_id(session: Session, principal: Principal, record_id: int) -> Any:
    return record_site(session, _load(session, principal, record_id))


def prior_reactions(session: Session, patient_id: int, exclude_record_id: int) -> list[dict[str, Any]]:
    """Earlier infusion reactions of this patient, newest first (for the top of the chair page)."""
    rows = session.execute(
        select(InfusionRecord, Appointment.date)
        .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
        .where(
            InfusionRecord.patient_id == patient_id,
            InfusionRecord.max_reaction_grade > 0,
            InfusionRecord.id != exclude_record_id,
        )
        .order_by(Appointment.date.desc())
        .limit(5)
    ).all()
    return [{"date": day, "grade": r.max_reaction_grade, "product_id": r.product_id} for r, day in rows]


def highest_reaction_grades(session: Session, patient_ids: Any) -> dict[int, int | None]:
    """:func:`highest_reaction_grade` for many patients in one query."""
    ids = sorted(set(patient_ids))
    out: dict[int, int | None] = dict.fromkeys(ids)
    if not ids:
        return out
    rows = session.execute(
        select(InfusionRecord.patient_id, InfusionRecord.max_reaction_grade)
        .where(InfusionRecord.patient_id.in_(ids), InfusionRecord.max_reaction_grade > 0)
        .order_by(InfusionRecord.patient_id, InfusionRecord.max_reaction_grade)
    )
    for patient_id, grade in rows:  # the highest comes last and stays
        out[patient_id] = grade or None
    return out
