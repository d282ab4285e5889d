"""The symptom diary after an infusion: the patient answers plain questions for the catalog's window (72 h);
each save is triaged (``igflow.clinical.triage``); a red flag opens an urgent task in the nurses' queue at
once and tells the patient what to do now; the report shows on the patient's chart.

Saves are idempotent by ``client_id`` (one sitting of the form): the phone may send the same answers twice,
or again after being offline, and the report is updated, never doubled. A nurse task, once opened, stays
open when the answers later calm down: someone still calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.clinical.triage import Triage, TriageInputError, evaluate, triage_catalog
from igflow.db import utcnow
from igflow.errors import Conflict, Forbidden, InvalidInput
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.patients import service as patients_service
from igflow.portal.models import SymptomReport
from igflow.security import audit, scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites.models import Site

TASK_KIND = "symptom_report"
WITHIN_A_DAY = dt.timedelta(days=1)
MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class OpenInfusion:
    appointment_id: int
    site_name: str
    ended_at: dt.datetime
    closes_at: dt.datetime
    report: SymptomReport | None


def _patient_of(principal: Principal) -> int:
    if not principal.can(Perm.PATIENT_SELF) or principal.patient_id is None:
        raise Forbidden("Only the patient fills in their symptom diary.", "form")
    return principal.patient_id


def _window() -> dt.timedelta:
    return dt.timedelta(hours=triage_catalog().window_hours.value)


def open_infusions(session: Session, patient_id: int, now: dt.datetime | None = None) -> list[OpenInfusion]:
    """The patient's infusions whose diary is open (ended within the window), newest first."""
    now = now or utcnow()
    ended = func.coalesce(InfusionRecord.ended_at, InfusionRecord.signed_at)
    rows = session.execute(
        select(InfusionRecord.appointment_id, ended, Site.name)
        .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
        .join(Site, Site.id == Appointment.site_id)
        .where(
            InfusionRecord.patient_id == patient_id,
            InfusionRecord.status == "signed",
            ended >= now - _window(),
        )
        .order_by(ended.desc())
    ).all()
    out = []
    for appointment_id, ended_at, site_name in rows:
        report = session.execute(
            select(SymptomReport)
            .where(SymptomReport.appointment_id == appointment_id)
            .order_by(SymptomReport.updated_at.desc(), SymptomReport.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        out.append(OpenInfusion(appointment_id, site_name, ended_at, ended_at + _window(), report))
    return out


def _task_words(patient_id: int, triage: Triage) -> tuple[str, dict[str, object]]:
    meanings = [r.meaning for r in triage.matched]
    title = f"Symptom diary: {triage.level.words.lower()}: {'; '.join(meanings)}"[:200]
    detail: dict[str, object] = {
        "level": triage.level.id,
        "meanings": meanings,
        "href": f"/patients/{patient_id}#h-symptoms",
        "todo": "Call the patient now." if triage.red_flag else "Call the patient within a day.",
    }
    return title, detail


def _open_or_raise_task(session: Session, report: SymptomReport, triage: Triage, now: dt.datetime) -> None:
    if triage.level.nurse_task == "none":
        return
    due = now if triage.red_flag else now + WITHIN_A_DAY
    title, detail = _task_words(report.patient_id, triage)
    detail["report_id"] = report.id
    task = session.get(WorkTask, report.task_id) if report.task_id else None
    if task is None:
        task = WorkTask(
            kind=TASK_KIND,
            queue="nurse",
            patient_id=report.patient_id,
            title=title,
            detail=detail,
            due_from=now,
            due_by=due,
            status="open",
        )
        session.add(task)
        session.flush()
        report.task_id = task.id
        return
    order = [lv.id for lv in triage_catalog().levels]
    if task.status == "open" and order.index(triage.level.id) < order.index(str(task.detail.get("level"))):
        task.title, task.detail = title, detail  # more urgent than when it was opened
        task.due_by = min(task.due_by or due, due)


def save(
    session: Session, principal: Principal, appointment_id: int, client_id: str, answers: dict[str, str]
) -> tuple[SymptomReport, Triage]:
    patient_id = _patient_of(principal)
    client_id = client_id.strip()
    if not 8 <= len(client_id) <= MAX_CLIENT_ID:
        raise InvalidInput("client_id: reload the page and answer again", "client_id")
    infusion = next(
        (i for i in open_infusions(session, patient_id) if i.appointment_id == appointment_id), None
    )
    if infusion is None:
        raise InvalidInput(
            "form: the diary for this infusion is closed (it stays open for "
            f"{triage_catalog().window_hours.value} hours after an infusion). If you feel unwell, call your "
            "infusion centre; for chest pain or trouble breathing call 911.",
            "form",
        )
    try:
        triage = evaluate(answers)
    except TriageInputError as exc:
        raise InvalidInput(str(exc), exc.question) from None
    report = record(session, principal.actor, patient_id, appointment_id, client_id, answers, triage)
    session.commit()
    return report, triage


def record(
    session: Session,
    actor: audit.Actor,
    patient_id: int,
    appointment_id: int,
    client_id: str,
    answers: dict[str, str],
    triage: Triage,
    at: dt.datetime | None = None,
) -> SymptomReport:
    """Write (or update) the report of one sitting and open or raise its nurse task; no commit. ``save``
    checks who and when first; the demo loader records a report of an earlier infusion through here."""
    at = at or utcnow()
    report = session.execute(
        select(SymptomReport).where(SymptomReport.client_id == client_id)
    ).scalar_one_or_none()
    if report is None:
        report = SymptomReport(
            client_id=client_id,
            patient_id=patient_id,
            appointment_id=appointment_id,
            answers=dict(answers),
            level=triage.level.id,
            saves=0,
            created_at=at,
        )
        try:
            with session.begin_nested():
                session.add(report)
                session.flush()
        except IntegrityError:  # the same sitting saved at the same moment by another request
            report = session.execute(
                select(SymptomReport).where(SymptomReport.client_id == client_id)
            ).scalar_one()
    if report.patient_id != patient_id or report.appointment_id != appointment_id:
        raise Conflict("client_id: this form belongs to another diary; reload the page", "client_id")
    report.answers = dict(answers)
    report.level = triage.level.id
    report.rule_ids = [r.id for r in triage.matched]
    report.saves = (report.saves or 0) + 1
    report.updated_at = at
    session.flush()
    _open_or_raise_task(session, report, triage, at)
    audit.record(
        session,
        actor,
        "symptom_report.save",
        "symptom_report",
        report.id,
        patient_id=patient_id,
        detail={"level": triage.level.id},
    )
    return report


def reports_for(session: Session, principal: Principal, patient_id: int) -> list[SymptomReport]:
    """A patient's symptom reports for staff, newest first (audited as a read of the patient's diary)."""
    patients_service.check_access(session, principal, patient_id)
    query = scope.rows(
        select(SymptomReport).where(SymptomReport.patient_id == patient_id).order_by(SymptomReport.id.desc()),
        principal,
        SymptomReport,
    )
    rows = list(session.execute(query.limit(50)).scalars())
    audit.record(
        session,
        principal.actor,
        "symptom_report.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"shown": len(rows)},
    )
    session.commit()
    return rows
