"""JSON API of the sites capability."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service
from igflow.sites.schemas import (
    ChairIn,
    ChairOut,
    ClosedDateOut,
    ClosedDatesIn,
    HoursSavedOut,
    SiteDetailsIn,
    SiteHoursIn,
    SiteIn,
    SiteOut,
)

router = APIRouter(tags=["sites"])


@router.get("/sites", response_model=list[SiteOut])
def list_sites(
    principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> list[SiteOut]:
    return [service.to_out(s) for s in service.list_sites(session)]


@router.post("/sites", response_model=SiteOut, status_code=201)
def create_site(
    data: SiteIn, principal: Principal = require(Perm.SITE_MANAGE), session: Session = Depends(get_session)
) -> SiteOut:
    return service.to_out(service.create_site(session, principal, data))


@router.get("/sites/{site_id}", response_model=SiteOut)
def read_site(
    site_id: int, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> SiteOut:
    return service.to_out(service.get_site(session, site_id))


@router.put("/sites/{site_id}", response_model=SiteOut)
def update_site(
    site_id: int,
    data: SiteIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> SiteOut:
    """Replace the whole site (hours and closed dates too); a new closed date with bookings is refused."""
    return service.to_out(service.update_site(session, principal, site_id, data))


@router.put("/sites/{site_id}/details", response_model=SiteOut)
def update_details(
    site_id: int,
    data: SiteDetailsIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> SiteOut:
    """Name, address, coordinates (both or neither) and time zone."""
    return service.to_out(service.update_details(session, principal, site_id, data))


@router.put("/sites/{site_id}/hours", response_model=HoursSavedOut)
def update_hours(
    site_id: int,
    data: SiteHoursIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> HoursSavedOut:
    """Opening hours and nurses per weekday (a weekday left out is closed) and what one nurse takes on.
    Saved even when booked appointments no longer fit: the answer counts them, per date, with why."""
    site, stranded = service.update_hours(session, principal, site_id, data)
    return HoursSavedOut(
        site=service.to_out(site),
        booked_not_fitting=sum(m.appointments for m in stranded),
        misfits=[m.out() for m in stranded],
    )


@router.post("/sites/{site_id}/closed-dates", response_model=list[ClosedDateOut], status_code=201)
def add_closed_dates(
    site_id: int,
    data: ClosedDatesIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> list[ClosedDateOut]:
    """Close the site on a date or a range (``end_date`` inclusive); 409 while appointments are booked on
    any of those days (the answer says how many on which dates)."""
    rows = service.add_closed_dates(session, principal, site_id, data)
    return [ClosedDateOut.model_validate(r) for r in rows]


@router.delete("/sites/{site_id}/closed-dates/{closed_id}", response_model=ClosedDateOut)
def remove_closed_date(
    site_id: int,
    closed_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> ClosedDateOut:
    return service.remove_closed_date(session, principal, site_id, closed_id)


@router.post("/sites/{site_id}/chairs", response_model=ChairOut, status_code=201)
def add_chair(
    site_id: int,
    data: ChairIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> ChairOut:
    return ChairOut.model_validate(service.add_chair(session, principal, site_id, data))


@router.put("/sites/{site_id}/chairs/{chair_id}", response_model=ChairOut)
def update_chair(
    site_id: int,
    chair_id: int,
    data: ChairIn,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> ChairOut:
    """Rename a chair, change its kind, or take it out of use (``active``: false) and back."""
    return ChairOut.model_validate(service.update_chair(session, principal, site_id, chair_id, data))
