"""Pharmacy pages of the inventory capability (stock, expiry, pick lists, shortage, recall).

Thin: parse the form, call the service, render. Each route declares one permission.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.catalog import load_catalog
from igflow.costs import panels as _cost_panels  # noqa: F401 - registers the ``money`` filter (cents as dollars)
from igflow.costs.core import parse_dollars
from igflow.errors import IgflowError, InvalidInput
from igflow.inventory import gs1, service
from igflow.inventory.schemas import ReceiptIn, StatusIn
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.web.forms import form_action, validate_form
from igflow.web.render import render

router = APIRouter(include_in_schema=False)


def _form(form: Any) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k != "csrf_token" and not hasattr(v, "read") and v != ""}


def stock_svg(rows: list[Any], width: int = 640, site_names: dict[str, str] | None = None) -> Markup:
    """Grams per site and product: allocated (dark) and free (light) on hand, as horizontal bars.

    Server-rendered SVG without scripts or style attributes (content security policy), in the house style
    of ``igflow.web.charts``.
    """
    totals: dict[tuple[str, str], tuple[float, float]] = {}
    for r in rows:
        key = ((site_names or {}).get(r.site_code, r.site_code), r.product_name)
        allocated, free = totals.get(key, (0.0, 0.0))
        totals[key] = (allocated + r.allocated * r.vial_size_g, free + r.available * r.vial_size_g)
    if not totals:
        return Markup("")
    bar, gap, label_w, pad = 14, 6, 230, 8
    top = max(a + f for a, f in totals.values()) or 1.0
    height = len(totals) * (bar + gap) + 2 * pad
    scale = (width - label_w - 70) / top
    parts = []
    for k, ((site, product), (allocated, free)) in enumerate(sorted(totals.items())):
        y = pad + k * (bar + gap)
        w_alloc, w_free = round(allocated * scale, 1), round(free * scale, 1)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 3}" font-size="11" text-anchor="end" fill="#334155">'
            f"{escape(site)} · {escape(product)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w_alloc}" height="{bar}" fill="#1d4ed8"/>'
            f'<rect x="{label_w + w_alloc}" y="{y}" width="{w_free}" height="{bar}" fill="#93c5fd"/>'
            f'<text x="{label_w + w_alloc + w_free + 4}" y="{y + bar - 3}" font-size="11" fill="#334155">'
            f"{allocated + free:g} g</text>"
        )
    label = "Grams on hand per site and product; dark: allocated to appointments, light: free"
    return Markup(  # noqa: S704 - numbers, and labels escaped above
        f'<svg class="stock-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


TABS = (
    ("/inventory", "Stock"),
    ("/inventory/expiring", "Expiring"),
    ("/inventory/picks", "Pick lists"),
    ("/inventory/receive", "Receive"),
    ("/inventory/recall", "Recall"),
)
RECEIVE_LABELS = {
    "scan": "Scan the carton's GS1 code",
    "product_id": "Product",
    "site_id": "Site",
    "lot_number": "Lot number",
    "gtin": "GTIN (14 digits)",
    "label_expiry": "Label expiry",
    "vial_size_g": "Vial size (g)",
    "count": "Vials",
    "storage_place": "Storage place",
    "acquisition_cost": "Cost per vial ($)",
    "acquisition_cost_cents": "Cost per vial ($)",
    "supplier": "Supplier",
}
EXPIRY_WINDOWS_DAYS = (30, 60, 90, 180)


def _page(
    request: Request, template: str, tab: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return render(request, template, {**context, "tabs": TABS, "tab": tab}, status_code=status_code)


def _centres(session: Session, principal: Principal) -> list[Any]:
    return [
        s
        for s in sites_service.list_sites(session, only=principal.site_ids, active_only=True)
        if s.kind == "centre"
    ]


@router.get("/inventory", response_class=HTMLResponse)
def inventory_home(
    request: Request,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    """Stock: on hand per site and product, with its value, and what to order."""
    if {"site", "date", "days"} & set(request.query_params):  # the one-page pharmacy's pick-list links
        return RedirectResponse(f"/inventory/picks?{request.url.query}", status_code=303)
    stock = service.stock_by_site(session, principal)
    names = {s.code: s.name for s in sites_service.list_sites(session)}
    context = {
        "stock": stock,
        "stock_svg": stock_svg(stock, site_names=names),
        "reorder": service.reorder(session, principal, dt.date.today(), 14),
    }
    return _page(request, "inventory/stock.html", "/inventory", context)


@router.get("/inventory/expiring", response_class=HTMLResponse)
def inventory_expiring(
    request: Request,
    within: int = Query(default=90, ge=1, le=max(EXPIRY_WINDOWS_DAYS)),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    """Lots whose effective expiry falls within the chosen window, soonest first (the order FEFO uses)."""
    items = sorted(
        service.expiring(session, principal, dt.date.today(), within),
        key=lambda e: (e.lot.effective_expiry, e.lot.lot_number),
    )
    context = {"items": items, "within": within, "windows": EXPIRY_WINDOWS_DAYS}
    return _page(request, "inventory/expiring.html", "/inventory/expiring", context)


def _picks_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    site_id: int | None,
    day: dt.date | None,
    days: int,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    sites = _centres(session, principal)
    day = day or dt.date.today()
    site_id = site_id or (sites[0].id if sites else None)
    context = {
        "sites": sites,
        "site_id": site_id,
        "day": day,
        "days": days,
        "needs": service.needs(session, principal, day, days, site_id) if site_id else [],
        "picks": service.pick_list(session, principal, site_id, day) if site_id else [],
        "shortfalls": service.shortfalls(session, principal, day, days),
        "shortage": service.shortage(session, principal, day, max(days, 14)),
        "message": message,
        "error": error,
    }
    return _page(request, "inventory/picks.html", "/inventory/picks", context, status_code)


@router.get("/inventory/picks", response_class=HTMLResponse)
def inventory_picks(
    request: Request,
    site: int | None = None,
    date: dt.date | None = None,
    days: int = Query(default=7, ge=1, le=28),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    """What the centre's booked appointments need over the horizon against what is on hand and which lots
    first-expiry-first-out would pick; the vials to pick per appointment on the day (allocated); what is
    short; the shortage plan."""
    return _picks_page(request, session, principal, site_id=site, day=date, days=days)


def _receive_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    message: str | None = None,
    product_note: str | None = None,
    filled: bool = False,
    status_code: int = 200,
) -> Response:
    context = {
        "sites": _centres(session, principal),
        "products": sorted((p.id, p.name) for p in load_catalog().products.values()),
        "values": values,
        "errors": errors,
        "labels": RECEIVE_LABELS,
        "message": message,
        "product_note": product_note,
        "filled": filled,
    }
    return _page(request, "inventory/receive.html", "/inventory/receive", context, status_code)


def _fill_from_scan(
    request: Request, session: Session, principal: Principal, values: dict[str, Any]
) -> Response:
    """The receiving form again with product, lot and expiry from the scan, keeping what was typed."""
    try:
        filled = service.from_scan(session, str(values.get("scan", "")))
    except gs1.ScanError as exc:
        return _receive_page(request, session, principal, values, {"scan": exc.message}, status_code=422)
    values = {k: v for k, v in values.items() if k != "scan"} | {
        k: v for k, v in filled.values.items() if v not in (None, "")
    }
    return _receive_page(
        request,
        session,
        principal,
        values,
        {},
        message=filled.note,
        product_note=None if filled.product_known else filled.product_note,
        filled=True,
    )


@router.get("/inventory/receive", response_class=HTMLResponse)
def inventory_receive_form(
    request: Request,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    return _receive_page(request, session, principal, {}, {})


@router.post("/inventory/receive/scan", response_class=HTMLResponse)
async def inventory_receive_scan(
    request: Request,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    """Fill product, lot and expiry from a scanned GS1 code, keeping what was typed; nothing is saved."""
    return _fill_from_scan(request, session, principal, _form(await request.form()))


@router.post("/inventory/lots", response_class=HTMLResponse)
async def inventory_receive(
    request: Request,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = _form(await request.form())
    if str(values.get("scan", "")).strip():
        # A scan not yet filled in (the scanner's Enter submits the form): fill the form from it and let the
        # pharmacist check it; nothing is saved from a scan that has not been seen on screen.
        return _fill_from_scan(request, session, principal, values)

    def act() -> Any:
        data = {k: v for k, v in values.items() if k not in ("scan", "acquisition_cost")}
        if "acquisition_cost" in values:
            try:
                data["acquisition_cost_cents"] = parse_dollars(str(values["acquisition_cost"]))
            except ValueError as exc:
                raise InvalidInput(f"acquisition_cost: {exc}", "acquisition_cost") from None
        return service.receive(session, principal, validate_form(ReceiptIn, data))

    def refused(failure: Any) -> Response:
        errors = dict(failure.errors)
        if "acquisition_cost_cents" in errors:  # the form asks in dollars
            errors["acquisition_cost"] = errors.pop("acquisition_cost_cents")
        return _receive_page(request, session, principal, values, errors, status_code=422)

    return await form_action(session, act, lambda lot: f"/inventory/lots/{lot.id}", refused)


@router.post("/inventory/allocate", response_class=HTMLResponse)
async def inventory_allocate(
    request: Request,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    form = await request.form()
    try:
        start = dt.date.fromisoformat(str(form.get("start") or dt.date.today().isoformat()))
        days = int(str(form.get("days") or 7))
    except ValueError:
        return _picks_page(
            request,
            session,
            principal,
            site_id=None,
            day=None,
            days=7,
            error="Give a date and a number of days.",
            status_code=422,
        )
    if not 1 <= days <= 28:
        return _picks_page(
            request,
            session,
            principal,
            site_id=None,
            day=start,
            days=7,
            error=f"Allocate for 1 to 28 days at a time (you asked for {days}).",
            status_code=422,
        )
    run = await run_in_threadpool(service.run_allocation, session, principal, start, days)
    message = (
        f"Allocated {run.allocated_vials} vial(s) first-expiry-first-out for {days} day(s) from {start}; "
        f"{len(run.shortfalls)} shortfall(s); {len(run.released)} allocation(s) of appointments no longer "
        "booked released."
    )
    return _picks_page(request, session, principal, site_id=None, day=start, days=days, message=message)


def _lot_page(
    request: Request,
    session: Session,
    principal: Principal,
    lot_id: int,
    *,
    message: str | None = None,
    released: list[Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lot = service.read_lot(session, principal, lot_id)
    return render(
        request,
        "inventory/lot.html",
        {
            "lot": lot,
            "message": message,
            "released": released or [],
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/inventory/lots/{lot_id}", response_class=HTMLResponse)
def inventory_lot(
    request: Request,
    lot_id: int,
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    return _lot_page(request, session, principal, lot_id)


@router.post("/inventory/lots/{lot_id}/status", response_class=HTMLResponse)
async def inventory_lot_status(
    request: Request,
    lot_id: int,
    principal: Principal = require(Perm.INVENTORY_WRITE),
    session: Session = Depends(get_session),
) -> Response:
    values = _form(await request.form())
    return await form_action(
        session,
        lambda: service.change_status(session, principal, lot_id, StatusIn.model_validate(values)),
        lambda result: _lot_page(
            request,
            session,
            principal,
            lot_id,
            message=f"Lot {result.lot.lot_number} is now {result.lot.status}.",
            released=result.released,
        ),
        lambda failure: _lot_page(
            request, session, principal, lot_id, error=failure.message, status_code=failure.status_code
        ),
    )


@router.get("/inventory/recall", response_class=HTMLResponse)
def inventory_recall(
    request: Request,
    lot: str = Query(default="", max_length=64),
    principal: Principal = require(Perm.INVENTORY_READ),
    session: Session = Depends(get_session),
) -> Response:
    rows: list[Any] = []
    error = None
    lots: list[Any] = []
    if lot:
        try:
            rows = service.trace_lot(session, principal, lot)
            lots = service.list_lots(session, principal, lot_number=lot)
        except IgflowError as exc:
            error = exc.message
    return _page(
        request,
        "inventory/recall.html",
        "/inventory/recall",
        {"lot_number": lot, "rows": rows, "lots": lots, "error": error},
        status_code=404 if error else 200,
    )
