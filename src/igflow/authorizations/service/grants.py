"""Authorisations in use: which one covers a booking or a dispense, and what a booking would exceed.

Scheduling and dispensing call :func:`check_days` with the days they would add and the days already
booked or given under the order; the findings are a warning the scheduler acknowledges, or a hard stop
when the payer is configured so (``payer.overrun_rule``). The appointments capability owns its tables,
so it passes its days in; this module reads only prior-authorisation data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.core import Finding, Grant, Use, check_use, covering
from igflow.authorizations.models import GRANTED, PriorAuthRequest
from igflow.authorizations.service._common import grant_of, payer_of
from igflow.directory.models import Payer
from igflow.patients.models import Coverage


def grants_for_order(session: Session, order_id: int) -> list[tuple[PriorAuthRequest, Grant]]:
    rows = session.execute(
        select(PriorAuthRequest)
        .where(PriorAuthRequest.order_id == order_id, PriorAuthRequest.status.in_(GRANTED))
        .order_by(PriorAuthRequest.start_date, PriorAuthRequest.id)
    ).scalars()
    found = []
    for request in rows:
        grant = grant_of(request)
        if grant is not None:
            found.append((request, grant))
    return found


def needs_authorisation(session: Session, patient_id: int) -> bool:
    """True when the patient has an active coverage: igflow then expects an authorisation for bookings.
    A patient with no coverage on record (self-pay, or coverage not yet entered) is not checked."""
    return (
        session.execute(
            select(Coverage.id).where(Coverage.patient_id == patient_id, Coverage.active.is_(True)).limit(1)
        ).first()
        is not None
    )


@dataclass(frozen=True)
class Check:
    request: PriorAuthRequest | None
    grant: Grant | None
    findings: list[Finding]
    hard_stop: bool

    @property
    def summary(self) -> str:
        g = self.grant
        if g is None:
            return "No prior authorisation covers these dates."
        limits = []
        if g.infusions is not None:
            limits.append(f"{g.infusions} infusions")
        if g.grams is not None:
            limits.append(f"{g.grams:g} g")
        limit = ", ".join(limits) or "no quantity limit recorded"
        return f"Authorisation {g.payer_reference or g.request_id}: {limit}, {g.start_date} to {g.end_date}"

    @property
    def messages(self) -> list[str]:
        return [f.message for f in self.findings]


def check_days(
    session: Session, order_id: int, patient_id: int, used: Sequence[Use], new: Sequence[Use]
) -> Check | None:
    """The authorisation covering ``new`` and what adding it would exceed; None when the patient has no
    coverage on record (nothing to check)."""
    if not new or not needs_authorisation(session, patient_id):
        return None
    grants = grants_for_order(session, order_id)
    grant = covering([g for _r, g in grants], new[0].date)
    if grant is None:  # none in force: measure against the latest one before, so the words say it ended
        earlier = [g for _r, g in grants if g.start_date <= new[0].date]
        grant = max(earlier, key=lambda g: (g.end_date, g.request_id)) if earlier else None
    request = next((r for r, g in grants if grant is not None and g.request_id == grant.request_id), None)
    findings = check_use(grant, used, new)
    hard = False
    if findings:
        payer = _payer(session, request, patient_id)
        hard = payer is not None and payer.overrun_rule == "hard_stop"
    return Check(request, grant, findings, hard)


def _payer(session: Session, request: PriorAuthRequest | None, patient_id: int) -> Payer | None:
    if request is not None:
        return payer_of(session, request)
    coverage = session.execute(
        select(Coverage)
        .where(Coverage.patient_id == patient_id, Coverage.active.is_(True))
        .order_by(Coverage.rank)
        .limit(1)
    ).scalar_one_or_none()
    return session.get(Payer, coverage.payer_id) if coverage else None


def covering_on(session: Session, order_id: int, day: dt.date) -> Check | None:
    """For screens that show it: the authorisation covering ``day`` for the order (no findings)."""
    grants = grants_for_order(session, order_id)
    grant = covering([g for _r, g in grants], day)
    request = next((r for r, g in grants if grant is not None and g.request_id == grant.request_id), None)
    return Check(request, grant, [], False)
