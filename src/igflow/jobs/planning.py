"""The planning-run job: read the horizon in a snapshot, solve with no transaction open, save the draft.

The draft -> publish flow is unchanged: the job's result is a draft planning run that a scheduler opens,
checks and publishes (or discards) on its page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from igflow.appointments import service as appointments_service
from igflow.appointments.models import PlanningRun
from igflow.appointments.schemas import PlanningIn
from igflow.db import Database
from igflow.jobs.kinds import JobKind
from igflow.jobs.models import Job
from igflow.jobs.runner import JobContext
from igflow.scheduling.cpsat import Progress
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

KIND_NAME = "planning"


def params_of(data: PlanningIn) -> dict[str, Any]:
    """The job's parameters (JSON) from the validated request."""
    return {
        "start_date": data.start_date.isoformat(),
        "days": data.days,
        "time_limit_s": data.time_limit_s,
        "seed": data.seed,
        "free_appointment_ids": sorted(set(data.free_appointment_ids)),
    }


def plan(
    db: Database, principal: Principal, params: dict[str, Any], ctx: JobContext | None = None
) -> PlanningRun:
    """The whole planning run; the job handler and the demo loader both call it."""
    start = dt.date.fromisoformat(params["start_date"])
    days = int(params["days"])
    limit = float(params.get("time_limit_s") or appointments_service.policy().planning_time_limit_s)

    def report(fraction: float, message: str) -> None:
        if ctx is not None:
            ctx.progress(fraction, message)
            ctx.check_cancelled()

    report(0.01, "Reading waiting courses, bookings and chairs")
    with db.read_session() as session:
        imap = appointments_service.build_instance(
            session,
            start,
            days,
            free_appointment_ids=set(params.get("free_appointment_ids") or []),
            principal=principal,
            any_centre_course_ids=set(params.get("any_centre_course_ids") or []),
        )
        session.rollback()
    # From here until the draft is saved no database transaction is open.
    total = len(imap.instance.sessions)
    report(0.04, f"Front-desk baseline and first schedule for {total} sessions")

    def on_progress(p: Progress) -> None:
        share = min(1.0, p.elapsed_s / max(p.time_limit_s, 0.001))
        placed = total - p.unscheduled
        report(
            0.05 + 0.9 * share,
            f"Optimising: {placed} of {total} sessions placed ({p.elapsed_s:.0f} of {limit:.0f} s)",
        )

    greedy, optimised = appointments_service.solve_planning(
        imap.instance, time_limit_s=limit, seed=int(params.get("seed") or 0), progress=on_progress
    )
    report(0.97, "Saving the draft")
    with db.session() as session:
        run = appointments_service.save_planning_run(session, principal, imap, start, days, greedy, optimised)
        if ctx is not None:
            ctx.complete(
                session,
                "planning_run",
                run.id,
                {
                    "sessions": total,
                    "scheduled": len(optimised.assignments),
                    "unscheduled": len(optimised.unscheduled),
                },
            )
        session.commit()
    return run


def _run(ctx: JobContext) -> None:
    plan(ctx.db, ctx.principal, ctx.params, ctx)


def _result_url(job: Job) -> str | None:
    return f"/planning/{job.result_id}" if job.result_id is not None else None


KIND = JobKind(
    name=KIND_NAME, label="Planning run", permission=Perm.SCHEDULE_PLAN, run=_run, result_url=_result_url
)
