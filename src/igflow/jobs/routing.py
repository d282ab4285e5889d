"""The routing-run job: read the home visits of the horizon in a snapshot, solve with no transaction open
(the optimiser and, beside it, the nearest-neighbour dispatcher and a lower bound on travel), save the draft.
A scheduler opens the draft, compares, and publishes or discards it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from igflow.db import Database
from igflow.home.models import RoutingRun
from igflow.home.schemas import RoutingIn
from igflow.home.service import runs as runs_service
from igflow.jobs.kinds import JobKind
from igflow.jobs.models import Job
from igflow.jobs.runner import JobContext
from igflow.routing import bounds, greedy, metrics, solver
from igflow.routing.travel import HaversineTravel
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

KIND_NAME = "routing"
DEFAULT_TIME_LIMIT_S = 30.0


def params_of(data: RoutingIn) -> dict[str, Any]:
    return {"start_date": data.start_date.isoformat(), "days": data.days, "time_limit_s": data.time_limit_s}


def route(
    db: Database, principal: Principal, params: dict[str, Any], ctx: JobContext | None = None
) -> RoutingRun:
    """The whole routing run; the job handler and the demo loader both call it."""
    start = dt.date.fromisoformat(params["start_date"])
    days = int(params["days"])
    limit = float(params.get("time_limit_s") or DEFAULT_TIME_LIMIT_S)

    def report(fraction: float, message: str) -> None:
        if ctx is not None:
            ctx.progress(fraction, message)
            ctx.check_cancelled()

    report(0.01, "Reading home visits, nurses and their hours")
    with db.read_session() as session:
        imap = runs_service.build_instance(session, principal, start, days)
        session.rollback()
    instance = imap.instance
    matrix = HaversineTravel(instance.travel)
    report(0.05, f"Dispatching {len(instance.visits)} visits nearest-first, as by hand")
    by_hand = greedy.greedy(instance, matrix)
    report(0.1, f"Optimising routes for {len(instance.visits)} visits ({limit:.0f} s at most)")
    optimised = solver.solve(instance, time_limit_s=limit, matrix=matrix)
    pinned = runs_service.pin_multi_day(imap, optimised)
    if pinned is not None:  # multi-day courses on successive days: a second solve with their days fixed
        report(0.6, "Placing the days of multi-day courses on successive dates")
        imap.instance = instance = pinned
        optimised = solver.solve(instance, time_limit_s=limit / 2, matrix=matrix)
        by_hand = greedy.greedy(instance, matrix)
    served = {stop.visit_id for r in optimised.routes for stop in r.stops}
    bound = bounds.travel_lower_bound_min(instance, matrix, served)
    figures = runs_service.figures_of(
        metrics.summarise(instance, optimised, matrix).model_dump(mode="json"),
        metrics.summarise(instance, by_hand, matrix).model_dump(mode="json"),
        bound,
    )
    report(0.97, "Saving the draft")
    with db.session() as session:
        run = runs_service.save_run(session, principal, imap, optimised, figures)
        if ctx is not None:
            ctx.complete(
                session,
                "routing_run",
                run.id,
                {"visits": len(instance.visits), "unassigned": len(optimised.unassigned)},
            )
        session.commit()
    return run


def _run(ctx: JobContext) -> None:
    route(ctx.db, ctx.principal, ctx.params, ctx)


def _result_url(job: Job) -> str | None:
    return f"/home/runs/{job.result_id}" if job.result_id is not None else None


KIND = JobKind(
    name=KIND_NAME, label="Routing run", permission=Perm.HOME_PLAN, run=_run, result_url=_result_url
)
