"""The prior-authorisation report: reads requests and their status history within the site scope and hands
them to :mod:`igflow.reports.prior_auth`.

A request's centre is its patient's first centre (their home site); its payer the payer of the coverage it
was made against; its product and indication the order's. The requests, events, coverages and orders are read
here in bulk (one query per table), as the cost report reads courses, because those capabilities have no
bulk reader for a report.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.authorizations.models import PriorAuthEvent, PriorAuthRequest
from igflow.authorizations.states import PRIOR_AUTH
from igflow.catalog import load_catalog
from igflow.directory.models import Payer
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.patients.models import Coverage
from igflow.reports import prior_auth as pa
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.service_b import (
    CHART_WIDTH,
    NO_PAYER,
    ReportView,
    choices,
    day_after,
    percent,
    product_words,
    read_filters,
    short,
    site_names,
    today,
)
from igflow.reports.table import Column, Table
from igflow.security import scope
from igflow.security.principal import Principal

NAME = "prior-auth"
USED = ("centre", "product", "indication", "payer")


def _rows(session: Session, principal: Principal, view: ReportView) -> list[pa.Request]:
    f = view.filters
    query = (
        select(PriorAuthRequest, Coverage.payer_id, Order.product_id, Order.indication_id)
        .join(Coverage, Coverage.id == PriorAuthRequest.coverage_id)
        .join(Order, Order.id == PriorAuthRequest.order_id)
        .where(PriorAuthRequest.created_at < day_after(f.end))
        .order_by(PriorAuthRequest.id)
    )
    if f.product:
        query = query.where(Order.product_id == f.product)
    if f.indication:
        query = query.where(Order.indication_id == f.indication)
    if f.payer:
        query = query.where(Coverage.payer_id == f.payer)
    found = session.execute(scope.rows(query, principal, PriorAuthRequest)).all()
    homes = {
        pid: sites[0] if sites else None
        for pid, sites in patients_service.sites_of(session, {r.patient_id for r, *_ in found}).items()
    }
    if f.centre:
        found = [row for row in found if homes.get(row[0].patient_id) == f.centre]
    payers = {p.id: p for p in session.execute(select(Payer)).scalars()}
    default_lead = load_catalog().payers.reauthorisation.lead_days.value or 0
    continued = set(
        session.execute(
            scope.rows(
                select(PriorAuthRequest.previous_id).where(PriorAuthRequest.previous_id.is_not(None)),
                principal,
                PriorAuthRequest,
            )
        ).scalars()
    )
    centres = site_names(session)
    out = []
    for request, payer_id, product_id, _indication in found:
        payer = payers.get(payer_id)
        out.append(
            pa.Request(
                id=request.id,
                status=request.status,
                created_on=request.created_at.date(),
                payer=payer.name if payer is not None else NO_PAYER,
                end_date=request.end_date,
                lead_days=(
                    payer.reauth_lead_days if payer is not None and payer.reauth_lead_days else default_lead
                ),
                continued=request.id in continued,
                patient_id=request.patient_id,
                product=product_words(product_id),
                centre=centres.get(homes.get(request.patient_id) or 0, ""),
            )
        )
    return out


def _events(session: Session, ids: list[int]) -> list[pa.Event]:
    out: list[pa.Event] = []
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(PriorAuthEvent).where(PriorAuthEvent.request_id.in_(ids[start : start + 500]))
        ).scalars()
        out += [pa.Event(e.request_id, e.to_status, e.at, e.reason) for e in rows]
    return out


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report(session: Session, principal: Principal, params: Mapping[str, str]) -> ReportView:
    found = choices(session, principal)
    filters, error = read_filters(params, found, USED)
    view = ReportView(NAME, "Prior authorisation", filters, found, USED, {}, error=error)
    requests = _rows(session, principal, view)
    events = _events(session, [r.id for r in requests])
    start, end = filters.start, filters.end
    states = pa.by_state(requests, start, end)
    waits = pa.turnaround(requests, events, start, end)
    denials = pa.denials_by_reason(requests, events, start, end)
    appeal = pa.appeals(requests, events, start, end)
    soon = pa.expiring(requests, today())
    names = patients_service.display_names(session, [x.request.patient_id for x in soon])
    view.patient_ids = [x.request.patient_id for x in soon]
    low, high = appeal.interval or (None, None)
    view.tables = {
        "states": Table(
            "Requests by state",
            (Column("state", "State"), Column("requests", "Requests")),
            tuple({"state": PRIOR_AUTH.label(s), "requests": n} for s, n in states.items()),
            ("Requests opened in the period, by the state they are in now.",),
        ),
        "turnaround": Table(
            "Days to decision by payer",
            (
                Column("payer", "Payer"),
                Column("decided", "Decisions"),
                Column("median", "Median", "days"),
                Column("p90", "90th percentile", "days"),
            ),
            tuple(
                {
                    "payer": w.payer or "All payers",
                    "decided": w.decided,
                    "median": _days(w.median_days),
                    "p90": _days(w.p90_days),
                }
                for w in waits
            ),
            (
                "From the first submission to the payer's first decision (approved, partly approved or "
                "denied), for decisions made in the period; a pend and resubmission do not restart it.",
                "Median: the middle value (the mean of the two middle ones for an even count). 90th "
                "percentile: nearest rank, the value at rank ceil(0.9 n) of the sorted waits.",
            ),
        ),
        "denials": Table(
            "Denials by reason",
            (Column("reason", "Payer's reason"), Column("denials", "Denials")),
            tuple({"reason": reason, "denials": n} for reason, n in denials),
            ("Denials decided in the period; the same words in any case count together.",),
        ),
        "appeals": Table(
            "Appeals",
            (
                Column("decided", "Appeals decided"),
                Column("overturned", "Overturned (approved on appeal)"),
                Column("share", "Share overturned", "%"),
                Column("low", "95 % interval, low", "%"),
                Column("high", "95 % interval, high", "%"),
            ),
            (
                {
                    "decided": appeal.decided,
                    "overturned": appeal.overturned,
                    "share": percent(appeal.rate),
                    "low": percent(low),
                    "high": percent(high),
                },
            ),
            ("Appeals decided in the period; the interval is the Wilson score interval.",),
        ),
        "expiring": Table(
            "Authorisations expiring",
            (
                Column("patient", "Patient"),
                Column("product", "Product"),
                Column("payer", "Payer"),
                Column("centre", "Centre"),
                Column("end", "Ends on"),
                Column("days_left", "Days left"),
                Column("reauth_from", "Re-authorise from"),
                Column("requested", "Re-authorisation requested"),
            ),
            tuple(
                {
                    "patient": names.get(x.request.patient_id, ""),
                    "product": x.request.product,
                    "payer": x.request.payer,
                    "centre": x.request.centre,
                    "end": x.request.end_date,
                    "days_left": x.days_left,
                    "reauth_from": x.reauth_from,
                    "requested": x.request.continued,
                }
                for x in soon
            ),
            (
                f"Granted authorisations ending within {max(pa.EXPIRY_WINDOWS_DAYS)} days of today "
                f"({today().isoformat()}), whatever the period. Re-authorise from: the end date minus the "
                "payer's "
                "re-authorisation lead time (the payer's own in the directory, else the catalog's "
                f"{load_catalog().payers.reauthorisation.lead_days.value} days: "
                f"{load_catalog().payers.reauthorisation.lead_days.source}).",
            ),
        ),
    }
    view.extra = {
        "expiring_counts": pa.expiring_counts(soon),
        "expiring": soon,
        "due": sum(1 for x in soon if x.reauth_due),
    }
    view.charts = {
        "states": bar_chart_svg(
            [Bar(short(PRIOR_AUTH.label(s)), n) for s, n in states.items()],
            title="Requests by state",
            unit="requests",
            width=CHART_WIDTH,
        ),
        "turnaround": bar_chart_svg(
            [
                Bar(
                    short(w.payer or "All payers"),
                    w.median_days,
                    low=w.median_days,
                    high=w.p90_days,
                    text=f"{w.median_days:g} · p90 {w.p90_days:g}",
                )
                for w in waits
                if w.median_days is not None and w.p90_days is not None
            ],
            title="Days from submission to decision: median (bar) and 90th percentile (line end)",
            unit="days",
            width=CHART_WIDTH,
        ),
        "denials": bar_chart_svg(
            [Bar(short(reason), n) for reason, n in denials],
            title="Denials by reason",
            unit="denials",
            width=CHART_WIDTH,
        ),
    }
    return view
