"""Shared by the prior-authorisation, drug and safety report services: the filter choices a principal may
pick from, reading the filters, the report as a page shows it (:class:`ReportView`) and the audit rows.

Each report's own service (``prior_auth_service``, ``drug_service``, ``safety_service``) reads its rows
through :mod:`igflow.security.scope` and hands them to its pure module (``prior_auth``, ``drug``,
``safety``). Reads are audited as ``report.read`` (the filters, and the ids of the patients a page names
when it names any); downloads as ``report.download`` with the filters only, never patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from igflow.catalog import load_catalog
from igflow.directory import service as directory_service
from igflow.errors import InvalidInput
from igflow.reports import filters_b
from igflow.reports.filters_b import Choices, Filters
from igflow.reports.service import today
from igflow.reports.table import Table
from igflow.security import audit, scope
from igflow.security.principal import Principal
from igflow.sites import service as sites_service

NO_PAYER = "No coverage on record"


@dataclass
class ReportView:
    """A report as its page and its downloads need it."""

    name: str  # "prior-auth", "drug", "safety": the path under /reports
    title: str
    filters: Filters
    choices: Choices
    used: tuple[str, ...]  # which of centre, product, indication, payer this report filters on
    tables: dict[str, Table]  # key -> table (the CSV download picks one by key; XLSX has them all)
    charts: dict[str, Markup] = field(default_factory=dict)  # table key -> its chart
    error: InvalidInput | None = None  # the filters were refused: the default period is shown
    extra: dict[str, Any] = field(default_factory=dict)  # what a report's own template needs
    patient_ids: list[int] = field(default_factory=list)  # patients the page names (for the read audit)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day`` (timestamps are stored in UTC; the period is in UTC days)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def day_after(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def dollars(cents: int | None) -> Decimal | None:
    """Integer cents as dollars for a download cell (exact: Decimal, shown as 2 places)."""
    return None if cents is None else (Decimal(cents) / 100).quantize(Decimal("0.01"))


def percent(share: float | None, places: int = 1) -> float | None:
    return None if share is None else round(100 * share, places)


def choices(session: Session, principal: Principal) -> Choices:
    """Centres the principal may see; products and indications of the catalog; payers of the directory."""
    catalog = load_catalog()
    sites = sites_service.list_sites(session, only=principal.site_ids)
    return Choices(
        centres={str(s.id): s.name for s in sites if scope.sees_site(principal, s.id)},
        products={p.id: p.name for p in sorted(catalog.products.values(), key=lambda p: p.name)},
        indications={i.id: i.name for i in sorted(catalog.indications.values(), key=lambda i: i.name)},
        payers={
            str(p.id): p.name for p in sorted(directory_service.list_payers(session), key=lambda p: p.name)
        },
    )


def read_filters(
    params: Mapping[str, str], found: Choices, used: tuple[str, ...]
) -> tuple[Filters, InvalidInput | None]:
    """The filters in ``params``; refused ones give the default period and the problem to show."""
    try:
        return filters_b.parse(params, found, today(), used), None
    except InvalidInput as exc:
        start, end = filters_b.default_period(today())
        return Filters(start=start, end=end), exc


def audit_read(session: Session, principal: Principal, view: ReportView) -> None:
    detail: dict[str, Any] = {"filters": view.filters.as_detail()}
    if view.patient_ids:
        detail["returned_ids"] = sorted(set(view.patient_ids))
    audit.record(session, principal.actor, "report.read", "report", view.name, detail=detail)
    session.commit()


def audit_download(session: Session, principal: Principal, view: ReportView, fmt: str, table: str) -> None:
    audit.record(
        session,
        principal.actor,
        "report.download",
        "report",
        view.name,
        detail={"filters": view.filters.as_detail(), "format": fmt, "table": table},
    )
    session.commit()


CHART_WIDTH = 960  # the SVG's own width: drawn at the page's width, its text stays a readable size


def short(label: str, most: int = 24) -> str:
    """A chart's bar label short enough for its label column (the table below has it in full)."""
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def site_names(session: Session) -> dict[int, str]:
    return {s.id: s.name for s in sites_service.list_sites(session)}


def payer_names(session: Session) -> dict[int, str]:
    return {p.id: p.name for p in directory_service.list_payers(session)}


def product_words(product_id: str) -> str:
    product = load_catalog().products.get(product_id)
    return product.name if product is not None else product_id


def indication_words(indication_id: str | None) -> str:
    if not indication_id:
        return "not recorded"
    indication = load_catalog().indications.get(indication_id)
    return indication.name if indication is not None else indication_id
