"""The letter-of-medical-necessity job: a PDF of the packet, kept with the prior-authorisation request."""

from __future__ import annotations

from igflow.jobs.kinds import JobKind
from igflow.jobs.models import Job
from igflow.jobs.runner import JobContext
from igflow.security.permissions import Perm

KIND_NAME = "prior_auth_letter"


def _run(ctx: JobContext) -> None:
    from igflow.authorizations.service.exchange import render_letter

    render_letter(ctx.db, ctx.principal, int(ctx.params["request_id"]), ctx.job_id, ctx)


def _result_url(job: Job) -> str | None:
    request_id = (job.params or {}).get("request_id")
    return f"/prior-auth/{request_id}" if request_id else None


KIND = JobKind(
    name=KIND_NAME,
    label="Letter of medical necessity",
    permission=Perm.PRIOR_AUTH_WRITE,
    run=_run,
    result_url=_result_url,
)
