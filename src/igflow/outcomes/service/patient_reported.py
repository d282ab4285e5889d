"""Patient-reported outcome measures in the portal (issue 13): the measures of the patient's indications
that the catalog says may be self-reported (``self_report`` with its source), and the patient's own entry,
which joins the outcome history as an ordinary reading with method ``patient_reported`` (through
:func:`add_reading`: validated against the scale, audited, reviews raised).

A caregiver reads the page but does not enter a score: these instruments are the patient's own report
(``Forbidden`` says so and who to ask).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.catalog.models import Measure
from igflow.errors import Forbidden, InvalidInput
from igflow.infusions.models import WorkTask
from igflow.outcomes.models import OutcomeReading
from igflow.outcomes.schemas import ReadingIn
from igflow.outcomes.service._common import (
    current_catalog,
    effective,
    measure,
    patient_measure_ids,
    rows_of,
    today_utc,
)
from igflow.outcomes.service.readings import add_reading
from igflow.outcomes.service.reviews import TASK_KIND as REVIEW_TASK_KIND
from igflow.security import audit
from igflow.security.permissions import Perm, Role
from igflow.security.principal import Principal

METHOD = "patient_reported"


@dataclass(frozen=True)
class SelfReportable:
    """One measure the patient may complete, with their latest reading of it (any method)."""

    spec: Measure
    last_value: float | None
    last_on: dt.date | None
    last_by_patient: bool


@dataclass(frozen=True)
class MyMeasures:
    measures: list[SelfReportable]
    review_open: bool  # a response review is waiting for the prescriber: the scores are asked for now


def _patient_of(principal: Principal) -> int:
    if not principal.can(Perm.PATIENT_SELF) or principal.patient_id is None:
        raise Forbidden("Only the patient completes their own questionnaires.", "form")
    return principal.patient_id


def is_caregiver(principal: Principal) -> bool:
    return Role.CAREGIVER in principal.roles


def self_reportable_specs(session: Session, patient_id: int) -> list[Measure]:
    catalog = current_catalog()
    specs = [measure(mid, catalog) for mid in patient_measure_ids(session, patient_id, catalog)]
    return [s for s in specs if s.self_reportable]


def mine(session: Session, principal: Principal) -> MyMeasures:
    """The patient's self-reportable measures and their latest readings (audited as a read)."""
    patient_id = _patient_of(principal)
    specs = self_reportable_specs(session, patient_id)
    rows = effective(rows_of(session, patient_id, [s.id for s in specs])) if specs else []
    latest: dict[str, OutcomeReading] = {}
    for row in rows:  # ordered by date, then id: the last one wins
        latest[row.measure_id] = row
    out = []
    for spec in specs:
        last = latest.get(spec.id)
        out.append(
            SelfReportable(
                spec,
                last.value if last else None,
                last.measured_on if last else None,
                bool(last and last.method == METHOD),
            )
        )
    review_open = (
        session.execute(
            select(WorkTask.id)
            .where(
                WorkTask.patient_id == patient_id,
                WorkTask.kind == REVIEW_TASK_KIND,
                WorkTask.status == "open",
            )
            .limit(1)
        ).scalar_one_or_none()
        is not None
    )
    audit.record(
        session,
        principal.actor,
        "outcome.self_report.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"measure_ids": [s.id for s in specs]},
    )
    session.commit()
    return MyMeasures(out, review_open)


def report(session: Session, principal: Principal, measure_id: str, value: float) -> OutcomeReading:
    """The patient's own score for a self-reportable measure of their indications, dated today; it is
    an outcome reading like any other (``add_reading`` checks the scale, audits, raises reviews)."""
    patient_id = _patient_of(principal)
    if is_caregiver(principal):
        raise Forbidden(
            "form: these questionnaires are the patient's own report; the patient enters the score, "
            "or tells the team at the next visit.",
            "form",
        )
    spec = measure(measure_id)
    if spec.id not in {s.id for s in self_reportable_specs(session, patient_id)}:
        raise InvalidInput(f"measure_id: {spec.name} is not one you can fill in here", "measure_id")
    data = ReadingIn(measure_id=spec.id, value=value, measured_on=today_utc(), method=METHOD)
    return add_reading(session, principal, patient_id, data)
