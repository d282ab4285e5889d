"""Use cases of the directory capability."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.directory.models import Payer, Prescriber
from igflow.directory.schemas import PayerAuthSettingsIn, PayerIn, PrescriberIn
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.security import audit
from igflow.security.audit import Actor


def list_prescribers(session: Session) -> list[Prescriber]:
    return list(session.execute(select(Prescriber).order_by(Prescriber.name)).scalars())


def get_prescriber(session: Session, prescriber_id: int) -> Prescriber:
    prescriber = session.get(Prescriber, prescriber_id)
    if prescriber is None:
        raise NotFound(f"prescriber {prescriber_id} not found", "prescriber_id")
    return prescriber


def create_prescriber(session: Session, actor: Actor, data: PrescriberIn) -> Prescriber:
    if data.npi and session.execute(select(Prescriber.id).where(Prescriber.npi == data.npi)).first():
        raise Conflict(f"npi: a prescriber with identifier {data.npi} already exists", "npi")
    prescriber = Prescriber(**data.model_dump())
    session.add(prescriber)
    session.flush()
    audit.record(session, actor, "prescriber.create", "prescriber", prescriber.id)
    session.commit()
    return prescriber


def list_payers(session: Session) -> list[Payer]:
    return list(session.execute(select(Payer).order_by(Payer.name)).scalars())


def get_payer(session: Session, payer_id: int) -> Payer:
    payer = session.get(Payer, payer_id)
    if payer is None:
        raise NotFound(f"payer {payer_id} not found", "payer_id")
    return payer


def create_payer(session: Session, actor: Actor, data: PayerIn) -> Payer:
    if session.execute(select(Payer.id).where(Payer.code == data.code)).first():
        raise Conflict(f"code: a payer with code '{data.code}' already exists", "code")
    _check_policy(data.auth_policy_id)
    payer = Payer(**data.model_dump())
    session.add(payer)
    session.flush()
    audit.record(session, actor, "payer.create", "payer", payer.id)
    session.commit()
    return payer


def _check_policy(policy_id: str) -> None:
    from igflow.catalog import load_catalog

    policies = {p.id: p.name for p in load_catalog().payers.policies}
    if policy_id not in policies:
        raise InvalidInput(
            f"auth_policy_id: choose one of the catalog's payer policies ({'; '.join(policies.values())})",
            "auth_policy_id",
        )


def set_auth_settings(session: Session, actor: Actor, payer_id: int, data: PayerAuthSettingsIn) -> Payer:
    """The payer's prior-authorisation settings: its catalog policy, CMS-0057-F, overrun rule, lead time."""
    payer = get_payer(session, payer_id)
    _check_policy(data.auth_policy_id)
    before = {k: getattr(payer, k) for k in data.model_dump()}
    for key, value in data.model_dump().items():
        setattr(payer, key, value)
    audit.record(
        session,
        actor,
        "payer.auth_settings",
        "payer",
        payer.id,
        detail={"before": before, "after": data.model_dump()},
    )
    session.commit()
    return payer
