"""Task: the work queues' tasks, of the principal's own queues only (as igflow's task list), narrowed by the
patient rule of ``scope``. Open and completed tasks are both served (the task list shows the open ones)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from igflow.fhir.mapping.medication_administration import NOT_STARTED
from igflow.fhir.mapping.task import IGFLOW_STATUS, to_task
from igflow.fhir.search import Params, parse_token
from igflow.fhir.service.engine import Item, Source, all_of, ids_filter, reference_filter
from igflow.infusions import service as infusions_service
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.security import scope
from igflow.security.principal import Principal


def _status(params: Params) -> ColumnElement[bool]:
    clauses = []
    for group in params.all("status"):
        wanted = [IGFLOW_STATUS[t.code] for t in map(parse_token, group) if t.code in IGFLOW_STATUS]
        clauses.append(WorkTask.status.in_(wanted) if wanted else false())
    return all_of(clauses)


def _tasks(session: Session, rows: list[Any]) -> list[Item]:
    record_ids = {r[0].record_id for r in rows if r[0].record_id is not None}
    started = (
        set(
            session.execute(
                select(InfusionRecord.id).where(
                    InfusionRecord.id.in_(record_ids), InfusionRecord.status != NOT_STARTED
                )
            ).scalars()
        )
        if record_ids
        else set()
    )
    return [
        Item(to_task(t, administration_id=t.record_id if t.record_id in started else None), t.patient_id)
        for (t,) in rows
    ]


def task_sources(session: Session, principal: Principal, params: Params) -> list[Source]:
    queues = infusions_service.my_queues(principal)
    query = scope.rows(select(WorkTask), principal, WorkTask).where(
        WorkTask.queue.in_(queues),
        ids_filter(params, WorkTask.id),
        reference_filter(params, "patient", "Patient", WorkTask.patient_id),
        _status(params),
    )
    return [Source(query.order_by(WorkTask.id), _tasks)]
