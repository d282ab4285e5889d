"""MedicationAdministration and AdverseEvent: infusion records and the reactions charted on them, narrowed
by the infusion-record rule (the appointment's site) and the patient rule of ``scope``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import load_catalog
from igflow.fhir.mapping.adverse_event import ChartedReaction, to_adverse_event
from igflow.fhir.mapping.medication_administration import NOT_STARTED, to_medication_administration
from igflow.fhir.search import Params
from igflow.fhir.service.dispenses import dispense_ids_for
from igflow.fhir.service.engine import Item, Source, date_filter, ids_filter, reference_filter
from igflow.fhir.service.orders import product_name
from igflow.infusions.models import ChartEntry, InfusionRecord
from igflow.orders import service as orders_service
from igflow.security import scope
from igflow.security.principal import Principal

#: When a chart entry happened: back-timed entries carry it, others happened when recorded.
ENTRY_AT = func.coalesce(ChartEntry.occurred_at, ChartEntry.created_at)


def scoped_records(query: Any, principal: Principal) -> Any:
    """``query`` (joining InfusionRecord) narrowed to records at the principal's sites, of their patients."""
    return scope.by_patient(
        scope.rows(query, principal, InfusionRecord), principal, InfusionRecord.patient_id
    )


def corrections_of(session: Session, entry_ids: Iterable[int]) -> dict[int, list[ChartEntry]]:
    """Chart corrections naming each entry, oldest first."""
    ids = sorted(set(entry_ids))
    out: dict[int, list[ChartEntry]] = defaultdict(list)
    if not ids:
        return out
    for c in session.execute(
        select(ChartEntry)
        .where(ChartEntry.kind == "correction", ChartEntry.amends_id.in_(ids))
        .order_by(ChartEntry.id)
    ).scalars():
        assert c.amends_id is not None
        out[c.amends_id].append(c)
    return out


def _plan_day(plan: dict[str, Any], day_index: int) -> dict[str, Any]:
    return next((dict(d) for d in plan.get("days") or [] if int(d["day"]) == day_index), {})


def _administrations(session: Session, principal: Principal, rows: list[Any]) -> list[Item]:
    records: list[InfusionRecord] = [r[0] for r in rows]
    if not records:
        return []
    entries: dict[int, list[ChartEntry]] = defaultdict(list)
    for e in session.execute(
        select(ChartEntry).where(ChartEntry.record_id.in_([r.id for r in records])).order_by(ChartEntry.id)
    ).scalars():
        entries[e.record_id].append(e)
    plans = orders_service.plan_versions(session, [r.plan_version_id for r in records])
    dispenses = dispense_ids_for(session, principal, {r.appointment_id for r in records})
    out = []
    for record in records:
        plan = plans[record.plan_version_id].plan
        resource = to_medication_administration(
            record,
            entries[record.id],
            plan=plan,
            day=_plan_day(plan, record.day_index),
            product_name=product_name(record.product_id),
            dispense_ids=dispenses.get(record.appointment_id, []),
        )
        out.append(Item(resource, record.patient_id))
    return out


def medication_administration_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    query = scoped_records(
        select(InfusionRecord).where(InfusionRecord.status != NOT_STARTED), principal
    ).where(
        ids_filter(params, InfusionRecord.id),
        reference_filter(params, "patient", "Patient", InfusionRecord.patient_id),
        date_filter(params, "effective-time", InfusionRecord.started_at, as_datetime=True),
        date_filter(params, "date", InfusionRecord.started_at, as_datetime=True),
    )
    return [Source(query.order_by(InfusionRecord.id), lambda s, rows: _administrations(s, principal, rows))]


def _reactions(session: Session, rows: list[Any]) -> list[Item]:
    labels = {g.grade: g.label for g in load_catalog().infusion_day.reaction_scale.grades}
    corrections = corrections_of(session, [r[0].id for r in rows])
    appointment_ids = {record.appointment_id for _entry, record in rows}
    sites = dict(
        session.execute(
            select(Appointment.id, Appointment.site_id).where(Appointment.id.in_(appointment_ids))
        ).all()
    )
    out = []
    for entry, record in rows:
        site_id = sites[record.appointment_id]
        charted = ChartedReaction(
            entry=entry,
            patient_id=record.patient_id,
            administration_id=record.id if record.status != NOT_STARTED else None,
            site_id=site_id,
            corrections=tuple(corrections.get(entry.id, [])),
        )
        out.append(Item(to_adverse_event(charted, labels), record.patient_id))
    return out


def adverse_event_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    # (no join to Appointment here: the infusion-record scope rule is an EXISTS over it)
    query = (
        select(ChartEntry, InfusionRecord)
        .join(InfusionRecord, InfusionRecord.id == ChartEntry.record_id)
        .where(ChartEntry.kind == "reaction")
    )
    query = scoped_records(query, principal).where(
        ids_filter(params, ChartEntry.id),
        reference_filter(params, "subject", "Patient", InfusionRecord.patient_id),
        date_filter(params, "date", ENTRY_AT, as_datetime=True),
    )
    return [Source(query.order_by(ChartEntry.id), _reactions)]
