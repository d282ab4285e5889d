"""Observation: three kinds of row, each with the permission of the data behind it.

- measurements (weight, height, labs): the route's own permission (``patient.clinical.read``);
- outcome readings: only for users who may read outcomes (``outcome.read``);
- vital signs charted at the chair: only for users who may read infusion records (``infusion.read``).

Each is narrowed by its own ``scope`` rule (the patient rule; the infusion-record rule and the patient rule
for vitals). ``code`` matches any coding an Observation carries (``system|code`` or ``code``); blood
pressure is the panel 85354-9 (its systolic and diastolic are components). Dates of measurements and
readings are the dates they were measured; a vital sign's is its charting time, compared in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.fhir.codes import VITAL_SIGNS_CHARTED, Code, VitalSign, vital_payload_keys
from igflow.fhir.mapping.medication_administration import NOT_STARTED
from igflow.fhir.mapping.observation import (
    MEASUREMENT,
    OUTCOME,
    VITALS,
    ChartedVitals,
    measurement_code,
    outcome_code,
    to_measurement_observation,
    to_outcome_observation,
    to_vital_observation,
)
from igflow.fhir.search import Params, Token, parse_token, prefixed_id
from igflow.fhir.service.engine import Item, Source, all_of, date_filter, ids_filter, reference_filter
from igflow.fhir.service.infusions import ENTRY_AT, corrections_of, scoped_records
from igflow.infusions.models import ChartEntry, InfusionRecord
from igflow.outcomes.models import OutcomeReading
from igflow.patients import service as patients_service
from igflow.patients.models import Measurement
from igflow.security import scope
from igflow.security.permissions import Perm
from igflow.security.principal import Principal


def _matches(token: Token, codes: Iterable[Code]) -> bool:
    return any(c.code == token.code and (token.system is None or token.system == c.system) for c in codes)


def _code_filter(params: Params, column: Any, codes_of: dict[str, tuple[Code, ...]]) -> ColumnElement[bool]:
    """``code``: rows whose key (kind, measure) has a matching coding; OR within a value, AND between."""
    clauses = []
    for group in params.all("code"):
        tokens = [parse_token(v) for v in group]
        keys = [key for key, codes in codes_of.items() if any(_matches(t, codes) for t in tokens)]
        clauses.append(column.in_(keys) if keys else false())
    return all_of(clauses)


def _corrected_by(session: Session, model: Any, ids: list[int]) -> dict[int, int]:
    """For each of ``ids``, the row that corrects it (igflow keeps one correction per row)."""
    if not ids:
        return {}
    rows = session.execute(select(model.amends_id, model.id).where(model.amends_id.in_(ids))).all()
    return {amended: correction for amended, correction in rows}


def _measurements(session: Session, rows: list[Any]) -> list[Item]:
    kinds = patients_service.measurement_kinds()
    corrected = _corrected_by(session, Measurement, [r[0].id for r in rows])
    out = []
    for (m,) in rows:
        kind = kinds.get(m.kind)
        resource = to_measurement_observation(
            m,
            label=kind.label if kind else m.kind,
            unit_text=kind.unit if kind else "",
            corrected_by=corrected.get(m.id),
        )
        out.append(Item(resource, m.patient_id))
    return out


def _measurement_source(principal: Principal, params: Params) -> Source:
    kinds = patients_service.measurement_kinds()
    codes = {k: measurement_code(k, v.label, v.unit).codes for k, v in kinds.items()}
    query = scope.rows(select(Measurement), principal, Measurement).where(
        ids_filter(params, Measurement.id, lambda v: prefixed_id(v, f"{MEASUREMENT}-")),
        reference_filter(params, "patient", "Patient", Measurement.patient_id),
        _code_filter(params, Measurement.kind, codes),
        date_filter(params, "date", Measurement.measured_on),
    )
    return Source(query.order_by(Measurement.id), _measurements)


def _readings(session: Session, rows: list[Any]) -> list[Item]:
    measures = {m.id: m for m in load_catalog().outcomes.measures}
    corrected = _corrected_by(session, OutcomeReading, [r[0].id for r in rows])
    return [
        Item(
            to_outcome_observation(r, measure=measures.get(r.measure_id), corrected_by=corrected.get(r.id)),
            r.patient_id,
        )
        for (r,) in rows
    ]


def _reading_source(principal: Principal, params: Params) -> Source:
    measures = {m.id: m for m in load_catalog().outcomes.measures}
    codes = {mid: outcome_code(mid, m).codes for mid, m in measures.items()}
    query = scope.rows(select(OutcomeReading), principal, OutcomeReading).where(
        ids_filter(params, OutcomeReading.id, lambda v: prefixed_id(v, f"{OUTCOME}-")),
        reference_filter(params, "patient", "Patient", OutcomeReading.patient_id),
        _code_filter(params, OutcomeReading.measure_id, codes),
        date_filter(params, "date", OutcomeReading.measured_on),
    )
    return Source(query.order_by(OutcomeReading.id), _readings)


def _vitals_id(sign: VitalSign) -> Callable[[str], int | None]:
    suffix = f"-{sign.slug}"
    return lambda v: prefixed_id(v.removesuffix(suffix), f"{VITALS}-") if v.endswith(suffix) else None


def _vitals_builder(sign: VitalSign) -> Callable[[Session, list[Any]], list[Item]]:
    def build(session: Session, rows: list[Any]) -> list[Item]:
        corrections = corrections_of(session, [entry.id for entry, _record in rows])
        out = []
        for entry, record in rows:
            charted = ChartedVitals(
                entry=entry,
                patient_id=record.patient_id,
                administration_id=record.id if record.status != NOT_STARTED else None,
                corrections=tuple(corrections.get(entry.id, [])),
            )
            out.append(Item(to_vital_observation(charted, sign), record.patient_id))
        return out

    return build


def _vitals_source(principal: Principal, params: Params, sign: VitalSign) -> Source:
    present = or_(*(ChartEntry.payload[key].as_float().is_not(None) for key in vital_payload_keys(sign)))
    query = scoped_records(
        select(ChartEntry, InfusionRecord)
        .join(InfusionRecord, InfusionRecord.id == ChartEntry.record_id)
        .where(ChartEntry.kind == "vitals", present),
        principal,
    ).where(
        ids_filter(params, ChartEntry.id, _vitals_id(sign)),
        reference_filter(params, "patient", "Patient", InfusionRecord.patient_id),
        _code_filter(params, ChartEntry.kind, {"vitals": sign.codes}),
        date_filter(params, "date", ENTRY_AT, as_datetime=True),
    )
    return Source(query.order_by(ChartEntry.id), _vitals_builder(sign))


def observation_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    sources = [_measurement_source(principal, params)]
    if principal.can(Perm.OUTCOME_READ):
        sources.append(_reading_source(principal, params))
    if principal.can(Perm.INFUSION_READ):
        sources += [_vitals_source(principal, params, sign) for sign in VITAL_SIGNS_CHARTED]
    return sources
