"""Use cases of the sites capability."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.security import audit
from igflow.security.audit import Actor
from igflow.sites.models import Chair, ClosedDate, Organisation, Site, SiteHours
from igflow.sites.schemas import WEEKDAYS, ChairIn, ChairOut, ClosedDateIn, HoursOut, SiteIn, SiteOut


def get_organisation(session: Session) -> Organisation | None:
    return session.execute(select(Organisation).limit(1)).scalar_one_or_none()


def list_sites(
    session: Session, *, only: frozenset[int] | None = None, active_only: bool = False
) -> list[Site]:
    query = select(Site).order_by(Site.kind, Site.name)
    if only is not None:
        query = query.where(Site.id.in_(only))
    if active_only:
        query = query.where(Site.active.is_(True))
    return list(session.execute(query).scalars())


def centres(session: Session, *, only: frozenset[int] | None = None) -> list[Site]:
    """Active infusion centres (no home service), limited to ``only`` when given."""
    return [s for s in list_sites(session, only=only, active_only=True) if s.kind == "centre"]


def get_site(session: Session, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


def site_ids_exist(session: Session, site_ids: list[int], field: str) -> None:
    if not site_ids:
        return
    found = set(session.execute(select(Site.id).where(Site.id.in_(site_ids))).scalars())
    missing = sorted(set(site_ids) - found)
    if missing:
        raise InvalidInput(f"{field}: unknown site id(s) {missing}", field)


def _apply(site: Site, data: SiteIn) -> None:
    site.code = data.code
    site.name = data.name
    site.kind = data.kind
    site.address = data.address
    site.timezone = data.timezone
    site.patients_per_nurse = data.patients_per_nurse
    site.starts_per_nurse_per_slot = data.starts_per_nurse_per_slot
    site.hours = [
        SiteHours(weekday=WEEKDAYS.index(h.weekday), open_time=h.open, close_time=h.close, nurses=h.nurses)
        for h in sorted(data.hours, key=lambda h: WEEKDAYS.index(h.weekday))
    ]
    site.closed_dates = [
        ClosedDate(date=c.date, reason=c.reason) for c in sorted(data.closed_dates, key=lambda c: c.date)
    ]


def create_site(session: Session, actor: Actor, data: SiteIn, chairs: int = 0) -> Site:
    if session.execute(select(Site.id).where(Site.code == data.code)).first():
        raise Conflict(f"code: a site with code '{data.code}' already exists", "code")
    site = Site()
    _apply(site, data)
    site.chairs = [Chair(label=f"{i:02d}", kind="recliner", position=i) for i in range(1, chairs + 1)]
    session.add(site)
    session.flush()
    audit.record(session, actor, "site.create", "site", site.id, detail={"code": data.code})
    session.commit()
    return site


def update_site(session: Session, actor: Actor, site_id: int, data: SiteIn) -> Site:
    site = get_site(session, site_id)
    clash = session.execute(select(Site.id).where(Site.code == data.code, Site.id != site_id)).first()
    if clash:
        raise Conflict(f"code: a site with code '{data.code}' already exists", "code")
    session.execute(SiteHours.__table__.delete().where(SiteHours.site_id == site_id))
    session.execute(ClosedDate.__table__.delete().where(ClosedDate.site_id == site_id))
    session.expire(site, ["hours", "closed_dates"])
    _apply(site, data)
    audit.record(session, actor, "site.update", "site", site.id)
    session.commit()
    return site


def add_chair(session: Session, actor: Actor, site_id: int, data: ChairIn) -> Chair:
    site = get_site(session, site_id)
    if any(c.label == data.label for c in site.chairs):
        raise Conflict(f"label: chair '{data.label}' already exists at {site.name}", "label")
    chair = Chair(label=data.label, kind=data.kind, active=data.active, position=len(site.chairs) + 1)
    site.chairs.append(chair)
    session.flush()
    audit.record(session, actor, "chair.create", "chair", chair.id, detail={"site_id": site_id})
    session.commit()
    return chair


def update_chair(session: Session, actor: Actor, site_id: int, chair_id: int, data: ChairIn) -> Chair:
    chair = session.get(Chair, chair_id)
    if chair is None or chair.site_id != site_id:
        raise NotFound(f"chair {chair_id} not found at site {site_id}")
    clash = session.execute(
        select(Chair.id).where(Chair.site_id == site_id, Chair.label == data.label, Chair.id != chair_id)
    ).first()
    if clash:
        raise Conflict(f"label: chair '{data.label}' already exists at this site", "label")
    chair.label, chair.kind, chair.active = data.label, data.kind, data.active
    audit.record(
        session, actor, "chair.update", "chair", chair.id, detail={"site_id": site_id, "active": data.active}
    )
    session.commit()
    return chair


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def to_out(site: Site) -> SiteOut:
    return SiteOut(
        id=site.id,
        code=site.code,
        name=site.name,
        kind=site.kind,
        address=site.address,
        timezone=site.timezone,
        patients_per_nurse=site.patients_per_nurse,
        starts_per_nurse_per_slot=site.starts_per_nurse_per_slot,
        active=site.active,
        hours=[
            HoursOut(
                weekday=WEEKDAYS[h.weekday],
                open=_hhmm(h.open_time),
                close=_hhmm(h.close_time),
                nurses=h.nurses,
            )
            for h in site.hours
        ],
        closed_dates=[ClosedDateIn(date=c.date, reason=c.reason) for c in site.closed_dates],
        chairs=[ChairOut.model_validate(c) for c in site.chairs],
    )
