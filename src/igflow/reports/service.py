"""The managers' reports of chairs, timeliness and outcomes: their filters, the helpers their services share,
and :func:`build`, which builds one (``utilisation_service``, ``on_time_service``, ``outcomes_service`` read
the rows through the site scope and call the pure figures ``utilisation``, ``on_time``, ``outcomes``) and
audits every view and download.

Site limits. A site-limited user sees only their centres: the centre choice offers only theirs; chair use,
capacity and chart times are read for those centres only; a course or an order counts at the centre where
it was given (or booked, or the patient's first centre) and is left out when that centre is not theirs,
even if the patient is shared with another of their centres.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.db import utcnow
from igflow.orders.models import Order
from igflow.patients.models import PatientSite
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.models import Site

DEFAULT_DAYS = 90
MAX_DAYS = 366
IN_CHAIR = ("booked", "completed")


def today() -> dt.date:
    return utcnow().date()


# --- filters ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    site: Site | None = None  # one centre, or every centre the user sees
    indication_id: str | None = None
    product_id: str | None = None

    def detail(self) -> dict[str, Any]:
        """The filters as the audit row records them (no patient data)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "centre": self.site.code if self.site else None,
            "indication": self.indication_id,
            "product": self.product_id,
        }

    def query(self) -> str:
        """The filters as a query string (for the download links)."""
        from urllib.parse import urlencode

        pairs = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "centre": self.site.code if self.site else "",
            "indication": self.indication_id or "",
            "product": self.product_id or "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


@dataclass
class Parsed:
    filters: Filters | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def visible_centres(session: Session, principal: Principal) -> list[Site]:
    return sites_service.centres(session, only=principal.site_ids)


def options(session: Session, principal: Principal) -> dict[str, list[tuple[str, str]]]:
    """The filter form's choices: (value, words), the user's centres only."""
    catalog = load_catalog()
    return {
        "centre": [(s.code, s.name) for s in visible_centres(session, principal)],
        "indication": sorted(((k, v.name) for k, v in catalog.indications.items()), key=lambda kv: kv[1]),
        "product": sorted(((k, v.name) for k, v in catalog.products.items()), key=lambda kv: kv[1]),
    }


def _date(values: dict[str, str], name: str, errors: dict[str, str]) -> dt.date | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = f"'{text}' is not a date such as 2026-03-31"
        return None


def parse_filters(
    session: Session, principal: Principal, params: Mapping[str, str], on: dt.date | None = None
) -> Parsed:
    """The filters of a report's query string. Default: the last 90 days to today, every centre the user
    sees. Each problem is kept beside its field (``errors``); ``filters`` is None when there is one."""
    values = {
        k: str(params.get(k, "") or "").strip() for k in ("start", "end", "centre", "indication", "product")
    }
    errors: dict[str, str] = {}
    end = _date(values, "end", errors) or (on or today())
    try:
        start = _date(values, "start", errors) or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:  # an end in the first 90 days of year 1
        start, errors["end"] = end, "choose an end from the year 1900 on"
    if not errors:
        if start > end:
            errors["start"] = (
                f"the start ({start}) is after the end ({end}): choose a start on or before the end"
            )
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = (
                f"a report covers at most {MAX_DAYS} days; choose an end within a year of the start"
            )
    site = None
    if values["centre"]:
        site = next((s for s in visible_centres(session, principal) if s.code == values["centre"]), None)
        if site is None:
            errors["centre"] = "not one of the centres you can see; choose one from the list"
    catalog = load_catalog()
    if values["indication"] and values["indication"] not in catalog.indications:
        errors["indication"] = "not an indication in the catalog; choose one from the list"
    if values["product"] and values["product"] not in catalog.products:
        errors["product"] = "not a product in the catalog; choose one from the list"
    values.setdefault("start", "")
    shown = {**values, "start": values["start"] or start.isoformat(), "end": values["end"] or end.isoformat()}
    if errors:
        return Parsed(None, shown, errors)
    return Parsed(
        Filters(start, end, site, values["indication"] or None, values["product"] or None), shown, errors
    )


def site_ids(session: Session, principal: Principal, filters: Filters) -> list[int]:
    if filters.site is not None:
        return [filters.site.id]
    return [s.id for s in visible_centres(session, principal)]


def order_filters(query: Select[Any], filters: Filters) -> Select[Any]:
    if filters.indication_id:
        query = query.where(Order.indication_id == filters.indication_id)
    if filters.product_id:
        query = query.where(Order.product_id == filters.product_id)
    return query


def visible(principal: Principal, site_id: int | None, allowed: list[int]) -> bool:
    return site_id is not None and site_id in allowed and scope.sees_site(principal, site_id)


def first_centres(session: Session, patient_ids: set[int]) -> dict[int, int]:
    """Each patient's first centre (by rank)."""
    out: dict[int, int] = {}
    if not patient_ids:
        return out
    for patient_id, site_id in session.execute(
        select(PatientSite.patient_id, PatientSite.site_id)
        .join(Site, Site.id == PatientSite.site_id)
        .where(PatientSite.patient_id.in_(patient_ids), Site.kind == "centre")
        .order_by(PatientSite.patient_id, PatientSite.rank)
    ):
        out.setdefault(patient_id, site_id)
    return out


def chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# --- audit --------------------------------------------------------------------------------------------------


def _record(session: Session, principal: Principal, name: str, filters: Filters, fmt: str | None) -> None:
    """One audit row per view (``report.view``) or download (``report.download``, with its format): the
    report's name and its filters, never patient data."""
    detail: dict[str, Any] = {"filters": filters.detail()}
    if fmt is not None:
        detail["format"] = fmt
    action = "report.download" if fmt is not None else "report.view"
    audit.record(session, principal.actor, action, "report", name, detail=detail)
    session.commit()


def build(session: Session, principal: Principal, name: str, filters: Filters, fmt: str | None = None) -> Any:
    """The report ``name`` (``utilisation``, ``on-time``, ``outcomes``) for the filters, audited as a view,
    or as a download in ``fmt``."""
    from igflow.reports import on_time_service, outcomes_service, utilisation_service

    builders = {
        "utilisation": utilisation_service.utilisation_report,
        "on-time": on_time_service.on_time_report,
        "outcomes": outcomes_service.outcomes_report,
    }
    report = builders[name](session, principal, filters)
    _record(session, principal, name, filters, fmt)
    return report
