"""The table of job kinds: one handler per kind, with the permission that starts, shows and cancels it.

Adding a kind (stock allocation, route optimisation, a report build, a PDF): write a module with a
``KIND = JobKind(...)`` whose handler takes a :class:`~igflow.jobs.runner.JobContext`, and add it to
:func:`kinds` below. Submit it with :func:`igflow.jobs.service.submit`; the pages and the API show
progress, cancel and the result link without further work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from igflow.security.permissions import Perm

if TYPE_CHECKING:
    from igflow.jobs.models import Job
    from igflow.jobs.runner import JobContext


@dataclass(frozen=True)
class JobKind:
    name: str  # stored in job.kind
    label: str  # what a person calls it: "Planning run"
    permission: Perm  # to start it, see it and cancel it
    run: Callable[[JobContext], None]  # the handler; it calls ctx.complete(...) in its final transaction
    result_url: Callable[[Job], str | None]  # the page of what it produced, once it has succeeded


@lru_cache(maxsize=1)
def kinds() -> dict[str, JobKind]:
    from igflow.fhir.bulk import job as fhir_export
    from igflow.imports import job as imports_job
    from igflow.jobs import letter, planning, routing

    return {
        kind.name: kind
        for kind in (planning.KIND, letter.KIND, routing.KIND, fhir_export.KIND, *imports_job.KINDS)
    }


def get_kind(name: str) -> JobKind | None:
    return kinds().get(name)
