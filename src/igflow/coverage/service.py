"""Coverage use cases: list a patient's coverages, add one, end one. Audited reads and writes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.coverage.schemas import CoverageEndIn, CoverageIn, CoverageOut
from igflow.db import utcnow
from igflow.directory.models import Payer
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage
from igflow.security import audit, scope
from igflow.security.principal import Principal


def coverage_out(coverage: Coverage, payer: Payer | None) -> CoverageOut:
    out = CoverageOut.model_validate(coverage)
    out.payer_name = payer.name if payer else ""
    return out


def _payers(session: Session, ids: set[int]) -> dict[int, Payer]:
    if not ids:
        return {}
    return {p.id: p for p in session.execute(select(Payer).where(Payer.id.in_(ids))).scalars()}


def rows_for(session: Session, patient_id: int, active_only: bool = False) -> list[Coverage]:
    query = select(Coverage).where(Coverage.patient_id == patient_id)
    if active_only:
        query = query.where(Coverage.active.is_(True))
    return list(session.execute(query.order_by(Coverage.active.desc(), Coverage.rank, Coverage.id)).scalars())


def in_force(coverage: Coverage, day: dt.date) -> bool:
    return (
        coverage.active
        and (coverage.effective_from is None or coverage.effective_from <= day)
        and (coverage.effective_to is None or day <= coverage.effective_to)
    )


def list_coverages(session: Session, principal: Principal, patient_id: int) -> list[CoverageOut]:
    patient = patients_service.check_access(session, principal, patient_id)
    rows = rows_for(session, patient.id)
    payers = _payers(session, {c.payer_id for c in rows})
    audit.record(
        session,
        principal.actor,
        "coverage.read",
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={"coverages": len(rows)},
    )
    session.commit()
    return [coverage_out(c, payers.get(c.payer_id)) for c in rows]


def add_coverage(session: Session, principal: Principal, patient_id: int, data: CoverageIn) -> CoverageOut:
    patient = patients_service.check_access(session, principal, patient_id)
    payer = session.get(Payer, data.payer_id)
    if payer is None or not payer.active:
        raise InvalidInput("payer_id: choose an active payer from the directory", "payer_id")
    today = utcnow().date()
    same_rank = [
        c
        for c in rows_for(session, patient.id, active_only=True)
        if c.rank == data.rank
        and (c.effective_to is None or c.effective_to >= (data.effective_from or today))
    ]
    if same_rank:
        other = same_rank[0]
        other_payer = session.get(Payer, other.payer_id)
        which = "primary" if data.rank == 1 else "secondary" if data.rank == 2 else f"rank {data.rank}"
        payer_name = other_payer.name if other_payer else "another payer"
        raise Conflict(
            f"rank: the patient already has an active {which} coverage ({payer_name}, "
            f"member {other.member_id}); end it first or add this one as another rank",
            "rank",
        )
    coverage = Coverage(patient_id=patient.id, active=True, **data.model_dump())
    session.add(coverage)
    session.flush()
    audit.record(
        session,
        principal.actor,
        "coverage.add",
        "coverage",
        coverage.id,
        patient_id=patient.id,
        detail={"payer_id": payer.id, "rank": data.rank},
    )
    session.commit()
    return coverage_out(coverage, payer)


def end_coverage(
    session: Session, principal: Principal, coverage_id: int, data: CoverageEndIn
) -> CoverageOut:
    coverage = scope.get(session, principal, Coverage, coverage_id, "coverage")
    patients_service.check_access(session, principal, coverage.patient_id)
    if not coverage.active:
        raise Conflict("coverage: this coverage has already ended", "coverage")
    if coverage.effective_from and data.effective_to < coverage.effective_from:
        raise InvalidInput(
            f"effective_to: the coverage started on {coverage.effective_from}; it cannot end before",
            "effective_to",
        )
    coverage.effective_to = data.effective_to
    coverage.active = data.effective_to >= utcnow().date()
    audit.record(
        session,
        principal.actor,
        "coverage.end",
        "coverage",
        coverage.id,
        patient_id=coverage.patient_id,
        detail={"effective_to": data.effective_to.isoformat(), "reason": data.reason},
    )
    session.commit()
    return coverage_out(coverage, session.get(Payer, coverage.payer_id))


def get_visible(session: Session, principal: Principal, coverage_id: int) -> Coverage:
    try:
        coverage = scope.get(session, principal, Coverage, coverage_id, "coverage")
        patients_service.check_access(session, principal, coverage.patient_id)
    except NotFound:
        raise NotFound(f"coverage {coverage_id} not found") from None
    return coverage
