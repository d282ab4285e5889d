"""Task: one item of a work queue (a follow-up call, a reaction review, a weight re-check, a response review).

The queue (nurse, pharmacist, prescriber, prior_auth) is the ``performerType``: igflow's tasks belong to a
role's queue, not to a person. ``open`` is ``ready`` and ``done`` is ``completed`` (who completed it and
when is ``executionPeriod.end`` and ``lastModified``). The due window is ``restriction.period``. The task's
working detail (checklists, values that raised it) and its recorded outcome stay out: they are igflow's
working notes, read in igflow, and may carry clinical detail the title does not.
"""

from __future__ import annotations

from fhir.resources.R4B.task import Task

from igflow.fhir.codes import LOCAL
from igflow.fhir.mapping.common import instant, pruned, ref
from igflow.infusions.models import WorkTask

TASK_KIND = f"{LOCAL}/CodeSystem/task-kind"  # follow_up, reaction_review, weight_review, ...
WORK_QUEUE = f"{LOCAL}/CodeSystem/work-queue"  # nurse, pharmacist, prescriber, prior_auth
STATUSES = {"open": "ready", "done": "completed"}
#: FHIR Task status -> igflow's, for the status search
IGFLOW_STATUS = {fhir: ours for ours, fhir in STATUSES.items()}


def to_task(task: WorkTask, *, administration_id: int | None) -> Task:
    """``administration_id``: the infusion record the task is about, once it is an administration."""
    done_at = instant(task.completed_at) if task.completed_at else None
    return Task.model_validate(
        pruned(
            {
                "resourceType": "Task",
                "id": str(task.id),
                "status": STATUSES.get(task.status, "ready"),
                "intent": "order",
                "code": {"coding": [{"system": TASK_KIND, "code": task.kind}], "text": task.title},
                "description": task.title,
                "for": ref("Patient", task.patient_id),
                "focus": ref("MedicationAdministration", administration_id) if administration_id else None,
                "authoredOn": instant(task.created_at),
                "lastModified": done_at or instant(task.created_at),
                "performerType": [
                    {"coding": [{"system": WORK_QUEUE, "code": task.queue}], "text": task.queue}
                ],
                "executionPeriod": {"start": instant(task.created_at), "end": done_at},
                "restriction": {
                    "period": {
                        "start": instant(task.due_from) if task.due_from else None,
                        "end": instant(task.due_by) if task.due_by else None,
                    }
                },
            }
        )
    )
