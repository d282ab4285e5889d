"""Administration pages of the sites capability: the organisation's sites, and each site's set-up (details,
opening hours and nurses on duty, closed dates, chairs).

Each part of a site's set-up is its own form on ``/admin/sites/{id}``. A refused form comes back with every
answer as it was typed and each problem beside its field, in words; the other forms show what is saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import InvalidInput
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.sites import service as sites_service
from igflow.sites.models import Site
from igflow.sites.schemas import (
    WEEKDAY_NAMES,
    WEEKDAYS,
    ChairIn,
    ClosedDatesIn,
    SiteDetailsIn,
    SiteHoursIn,
    iana_time_zones,
)
from igflow.web.forms import FormFailure, form_action, form_values
from igflow.web.render import field_error, number, render

router = APIRouter(include_in_schema=False)

# --- problems in words, beside their field --------------------------------------------------------------


def _said(error: Mapping[str, Any], label: str, blank: str | None) -> str:
    kind, ctx, given = str(error.get("type", "")), error.get("ctx") or {}, error.get("input")
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "missing" or (isinstance(given, str) and not given.strip() and kind != "value_error"):
        return blank or f"{label} is needed"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{label} must be {words} {number(ctx.get(key))}"
    if kind.startswith("int_"):
        return f"{label} must be a whole number"
    if kind.startswith("float_") or kind == "finite_number":
        return f"{label} must be a number"
    if kind.startswith("time_"):
        return f"{label} must be a time like 08:30"
    if kind.startswith("date"):
        return f"{label} must be a date (YYYY-MM-DD)"
    if kind == "string_too_short":
        return blank or f"{label} is needed"
    if kind == "string_too_long":
        return f"{label} must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"{label} must be one of {ctx.get('expected')}"
    if message.startswith("must "):
        return f"{label} {message}"
    return message[:1].upper() + message[1:]


def plain_errors(
    errors: Sequence[Mapping[str, Any]],
    name_of: Callable[[tuple[Any, ...]], str],
    labels: Mapping[str, str],
    blanks: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Pydantic's errors as a page shows them: the form's own field names (``name_of`` maps a location to
    one) and a sentence in words per field (``labels``; ``blanks`` says what to do about an empty one).

    A check across fields names its field first ("lon: give the longitude too"), as the API reads it.
    (Not site-specific: it belongs in ``igflow.web.forms`` beside ``errors_of``.)
    """
    out: dict[str, str] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        named = re.match(r"^([a-z][a-z0-9_]*): (.+)$", message, re.S)
        if not loc and named:
            out.setdefault(named.group(1), named.group(2)[:1].upper() + named.group(2)[1:])
            continue
        name = name_of(loc) if loc else "form"
        out.setdefault(name, _said(error, labels.get(name, name), (blanks or {}).get(name)))
    return out


def validated(
    model: type[BaseModel],
    data: dict[str, Any],
    name_of: Callable[[tuple[Any, ...]], str],
    labels: Mapping[str, str],
    blanks: Mapping[str, str] | None = None,
) -> tuple[Any, dict[str, str]]:
    """``(model instance, {})``, or ``(None, field -> problem in words)``."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, plain_errors(exc.errors(), name_of, labels, blanks)


def _first(loc: tuple[Any, ...]) -> str:
    return str(loc[0])


# --- the forms of a site's set-up -----------------------------------------------------------------------

LABELS: dict[str, str] = {
    "name": "Name",
    "address": "Address",
    "lat": "Latitude",
    "lon": "Longitude",
    "timezone": "Time zone",
    "patients_per_nurse": "Patients per nurse",
    "starts_per_nurse_per_slot": "Starts per nurse per slot",
    "date": "First day",
    "end_date": "Last day",
    "reason": "Reason",
    "label": "Chair label",
    "kind": "Kind",
}
_DAYS = list(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True))
LABELS |= {f"open_{code}": f"Open time on {name}" for code, name in _DAYS}
LABELS |= {f"close_{code}": f"Close time on {name}" for code, name in _DAYS}
LABELS |= {f"nurses_{code}": f"Nurses on {name}" for code, name in _DAYS}
BLANKS: dict[str, str] = {
    f"{part}_{code}": f"Give the {words} on {name}, or tick Closed"
    for code, name in _DAYS
    for part, words in (("open", "open time"), ("close", "close time"), ("nurses", "nurses on duty"))
}

FIELDS: dict[str, tuple[str, ...]] = {
    "details": ("name", "address", "lat", "lon", "timezone"),
    "hours": (
        *(f"{part}_{code}" for code in WEEKDAYS for part in ("open", "close", "nurses")),
        "patients_per_nurse",
        "starts_per_nurse_per_slot",
    ),
    "closed": ("date", "end_date", "reason"),
    "chair": ("label", "kind"),
}
SAVED = {
    "details": "Site details saved.",
    "hours": "Opening hours and nurses saved.",
    "closed": "Closed dates added.",
    "reopened": "Closed date removed.",
    "chair": "Chair saved.",
}
CHAIR_KINDS = {"recliner": "Recliner", "bed": "Bed"}


def _saved_values(site: Site) -> dict[str, dict[str, str]]:
    """Each form's inputs as saved (a ticked box is a key with "1"; an unticked one is absent)."""
    hours: dict[str, str] = {
        "patients_per_nurse": str(site.patients_per_nurse),
        "starts_per_nurse_per_slot": str(site.starts_per_nurse_per_slot),
    }
    by_day = {h.weekday: h for h in site.hours}
    for i, code in enumerate(WEEKDAYS):
        h = by_day.get(i)
        if h is None:
            hours |= {f"closed_{code}": "1", f"nurses_{code}": "0"}
        else:
            hours |= {
                f"open_{code}": h.open_time.strftime("%H:%M"),
                f"close_{code}": h.close_time.strftime("%H:%M"),
                f"nurses_{code}": str(h.nurses),
            }
    forms = {
        "details": {
            "name": site.name,
            "address": site.address,
            "lat": number(site.lat, 6),
            "lon": number(site.lon, 6),
            "timezone": site.timezone,
        },
        "hours": hours,
        "closed": {},
        "new_chair": {"kind": "recliner"},
    }
    for c in site.chairs:
        forms[f"chair_{c.id}"] = {"label": c.label, "kind": c.kind, **({"active": "1"} if c.active else {})}
    return forms


def placed_errors(errors: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """Problems of known fields stay beside them, as a sentence without the field's code in front (a service
    says "label: chair 'C1' already exists"); any other goes to the form's own line ("form")."""
    out = {}
    for k, v in errors.items():
        if k in fields:
            said = field_error(k, v)
            out[k] = said[:1].upper() + said[1:]
    rest = [v if k in ("form", "request", "") else f"{k}: {v}" for k, v in errors.items() if k not in fields]
    if rest:
        out["form"] = "; ".join(rest)
    return out


def _edit_page(
    request: Request,
    session: Session,
    principal: Principal,
    site_id: int,
    *,
    failed: str | None = None,
    submitted: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    status_code: int = 200,
) -> Response:
    site = sites_service.get_site(session, site_id)
    forms = _saved_values(site)
    if failed is not None and submitted is not None:
        forms[failed] = submitted
    can_edit = sites_service.may_edit(principal, site)
    context = {
        "site": site,
        "forms": forms,
        "errors": {failed: errors or {}} if failed else {},
        "can_edit": can_edit,
        "misfits": sites_service.misfits(session, site) if can_edit else [],
        "closures": sites_service.closures_by_date(session, site),
        "saved": SAVED.get(saved or ""),
        "weekdays": _DAYS,
        "zones": sorted(iana_time_zones()),
        "chair_kinds": CHAIR_KINDS,
    }
    return render(request, "admin/site.html", context, status_code=status_code)


def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    site_id: int,
    failed: str,
    values: dict[str, Any],
) -> Callable[[FormFailure], Response]:
    """Show the site page again with the refused form's answers and the service's reason: beside the field
    it names, else on the form's own line."""
    fields = FIELDS["chair" if failed.startswith(("chair_", "new_chair")) else failed]

    def show(failure: FormFailure) -> Response:
        return _edit_page(
            request,
            session,
            principal,
            site_id,
            failed=failed,
            submitted=values,
            errors=placed_errors(failure.errors, fields),
            status_code=failure.status_code,
        )

    return show


async def _editable(session: Session, principal: Principal, site_id: int) -> None:
    """Refuse before reading the form: another site's settings (403), a site that does not exist (404)."""
    await run_in_threadpool(sites_service.editable_site, session, principal, site_id)


# --- the list of sites ----------------------------------------------------------------------------------


def _sites_page(
    request: Request, session: Session, principal: Principal, error: str | None, status_code: int = 200
) -> Response:
    sites = sites_service.list_sites(session)
    editable = {s.id for s in sites if sites_service.may_edit(principal, s)}
    context = {"sites": sites, "error": error, "editable": editable}
    return render(request, "admin/sites.html", context, status_code=status_code)


@router.get("/admin/sites", response_class=HTMLResponse)
def sites_page(
    request: Request, principal: Principal = require(Perm.SITE_READ), session: Session = Depends(get_session)
) -> Response:
    return _sites_page(request, session, principal, None)


@router.post("/admin/sites/{site_id}/chairs", response_class=HTMLResponse)
async def sites_add_chair(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Add a chair (from the list of sites, or from the site's page when the form says ``back=site``)."""
    await _editable(session, principal, site_id)
    form = await request.form()
    values = form_values(form)
    fields = {"label": values.get("label", ""), "kind": values.get("kind", "recliner")}
    from_site = values.get("back") == "site"
    data, problems = validated(ChairIn, fields, _first, LABELS)
    if problems:
        if not from_site:
            return _sites_page(request, session, principal, "; ".join(problems.values()), 422)
        errors = placed_errors(problems, FIELDS["chair"])
        return _edit_page(
            request,
            session,
            principal,
            site_id,
            failed="new_chair",
            submitted=values,
            errors=errors,
            status_code=422,
        )
    refused = (
        _refused(request, session, principal, site_id, "new_chair", values)
        if from_site
        else lambda failure: _sites_page(request, session, principal, failure.message, failure.status_code)
    )
    return await form_action(
        session,
        lambda: sites_service.add_chair(session, principal, site_id, data),
        f"/admin/sites/{site_id}?saved=chair" if from_site else "/admin/sites",
        refused,
    )


@router.post("/admin/sites/{site_id}/chairs/{chair_id}/active")
async def sites_toggle_chair(
    request: Request,
    site_id: int,
    chair_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    await _editable(session, principal, site_id)
    form = await request.form()
    site = sites_service.get_site(session, site_id)
    chair = next((c for c in site.chairs if c.id == chair_id), None)
    if chair is None:
        raise InvalidInput(f"chair {chair_id} is not at this site", "chair_id")
    data = ChairIn.model_validate(
        {"label": chair.label, "kind": chair.kind, "active": form.get("active") == "true"}
    )
    await run_in_threadpool(sites_service.update_chair, session, principal, site_id, chair_id, data)
    return RedirectResponse("/admin/sites", status_code=303)


# --- one site's set-up ----------------------------------------------------------------------------------


@router.get("/admin/sites/{site_id}", response_class=HTMLResponse)
def site_page(
    request: Request,
    site_id: int,
    saved: str | None = Query(default=None, max_length=20),
    principal: Principal = require(Perm.SITE_READ),
    session: Session = Depends(get_session),
) -> Response:
    """A site's set-up: editable by a site manager who works there, read-only (the directory) otherwise."""
    return _edit_page(request, session, principal, site_id, saved=saved)


async def _save(
    request: Request,
    session: Session,
    principal: Principal,
    site_id: int,
    failed: str,
    values: dict[str, Any],
    parsed: tuple[Any, dict[str, str]],
    action: Callable[[Any], Any],
    saved: str,
) -> Response:
    """Show the form's problems, or run the service and go back to the site's page saying what was saved."""
    data, problems = parsed
    if problems:
        errors = placed_errors(problems, FIELDS["chair" if failed.startswith("chair_") else failed])
        return _edit_page(
            request,
            session,
            principal,
            site_id,
            failed=failed,
            submitted=values,
            errors=errors,
            status_code=422,
        )
    return await form_action(
        session,
        lambda: action(data),
        f"/admin/sites/{site_id}?saved={saved}",
        _refused(request, session, principal, site_id, failed, values),
    )


@router.post("/admin/sites/{site_id}", response_class=HTMLResponse)
async def site_save_details(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Name, address, coordinates and time zone."""
    await _editable(session, principal, site_id)
    values = form_values(await request.form())
    data = {
        "name": values.get("name", ""),
        "address": values.get("address", ""),
        "lat": values.get("lat") or None,
        "lon": values.get("lon") or None,
        "timezone": values.get("timezone", ""),
    }
    return await _save(
        request,
        session,
        principal,
        site_id,
        "details",
        values,
        validated(SiteDetailsIn, data, _first, LABELS),
        lambda d: sites_service.update_details(session, principal, site_id, d),
        "details",
    )


def _hours_input(values: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    open_days = [code for code in WEEKDAYS if not values.get(f"closed_{code}")]
    data = {
        "hours": [
            {
                "weekday": code,
                "open": values.get(f"open_{code}", ""),
                "close": values.get(f"close_{code}", ""),
                "nurses": values.get(f"nurses_{code}", ""),
            }
            for code in open_days
        ],
        "patients_per_nurse": values.get("patients_per_nurse", ""),
        "starts_per_nurse_per_slot": values.get("starts_per_nurse_per_slot", ""),
    }

    def name_of(loc: tuple[Any, ...]) -> str:
        if loc[0] == "hours" and len(loc) >= 2 and isinstance(loc[1], int):
            part = {"open": "open", "nurses": "nurses"}.get(str(loc[2]) if len(loc) > 2 else "", "close")
            return f"{part}_{open_days[loc[1]]}"  # the day's own check (close after open) sits by Close
        return str(loc[0])

    return validated(SiteHoursIn, data, name_of, LABELS, BLANKS)


@router.post("/admin/sites/{site_id}/hours", response_class=HTMLResponse)
async def site_save_hours(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Opening hours and nurses per weekday, patients per nurse, starts per nurse per slot. Saved even when
    booked appointments no longer fit; the page then names them (dates, how many, why)."""
    await _editable(session, principal, site_id)
    values = form_values(await request.form())
    return await _save(
        request,
        session,
        principal,
        site_id,
        "hours",
        values,
        _hours_input(values),
        lambda d: sites_service.update_hours(session, principal, site_id, d),
        "hours",
    )


@router.post("/admin/sites/{site_id}/closed-dates", response_class=HTMLResponse)
async def site_add_closed_dates(
    request: Request,
    site_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Close the site on a day or a range; refused (409) while appointments are booked on any of them."""
    await _editable(session, principal, site_id)
    values = form_values(await request.form())
    data = {
        "date": values.get("date", ""),
        "end_date": values.get("end_date") or None,
        "reason": values.get("reason", ""),
    }
    return await _save(
        request,
        session,
        principal,
        site_id,
        "closed",
        values,
        validated(ClosedDatesIn, data, _first, LABELS),
        lambda d: sites_service.add_closed_dates(session, principal, site_id, d),
        "closed",
    )


@router.post("/admin/sites/{site_id}/closed-dates/{closed_id}/delete", response_class=HTMLResponse)
async def site_remove_closed_date(
    request: Request,
    site_id: int,
    closed_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    await _editable(session, principal, site_id)
    return await form_action(
        session,
        lambda: sites_service.remove_closed_date(session, principal, site_id, closed_id),
        f"/admin/sites/{site_id}?saved=reopened",
        _refused(request, session, principal, site_id, "closed", {}),
    )


@router.post("/admin/sites/{site_id}/chairs/{chair_id}", response_class=HTMLResponse)
async def site_save_chair(
    request: Request,
    site_id: int,
    chair_id: int,
    principal: Principal = require(Perm.SITE_MANAGE),
    session: Session = Depends(get_session),
) -> Response:
    """Rename a chair, change its kind, take it out of use or bring it back."""
    await _editable(session, principal, site_id)
    values = form_values(await request.form())
    data = {
        "label": values.get("label", ""),
        "kind": values.get("kind", ""),
        "active": bool(values.get("active")),
    }
    return await _save(
        request,
        session,
        principal,
        site_id,
        f"chair_{chair_id}",
        values,
        validated(ChairIn, data, _first, LABELS),
        lambda d: sites_service.update_chair(session, principal, site_id, chair_id, d),
        "chair",
    )
