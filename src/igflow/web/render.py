"""Template rendering with the signed-in principal, CSRF token and navigation in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from igflow.catalog import load_catalog
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web.charts import rate_plan_svg

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["rate_svg"] = rate_plan_svg
# ``ids|map('extract', names)``: the name for each id (the id itself where none is known)
TEMPLATES.env.filters["extract"] = lambda key, mapping: mapping.get(key, key)


def number(value: Any, places: int = 2) -> str:
    """A number as a chart shows it: no trailing '.0', no float noise (72.30000001 -> 72.3)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    rounded = round(float(value), places)
    return f"{rounded:.{places}f}".rstrip("0").rstrip(".") if rounded != int(rounded) else str(int(rounded))


def catalog_name(kind: str, catalog_id: str | None) -> str:
    """The name a person reads for a catalog id (product, indication, policy); the id if unknown."""
    if not catalog_id:
        return ""
    catalog = load_catalog()
    table: dict[str, Any] = {
        "product": catalog.products,
        "indication": catalog.indications,
        "policy": catalog.policies,
    }[kind]
    item = table.get(catalog_id)
    return item.name if item is not None else catalog_id


SEVERITY_WORDS = {"hard_stop": "Hard stop", "warning": "Warning", "info": "Information"}
TEMPLATES.env.filters["num"] = number
TEMPLATES.env.globals["catalog_name"] = catalog_name
TEMPLATES.env.globals["severity_words"] = SEVERITY_WORDS

# (label, url, permission needed to see the link)
NAV: list[tuple[str, str, Perm]] = [
    ("Patients", "/patients", Perm.PATIENT_LIST),
    ("Referrals", "/referrals", Perm.REFERRAL_READ),
    ("Verify", "/verification-queue", Perm.PLAN_VERIFY),
    ("Dose calculator", "/dose", Perm.DOSE_CALCULATE),
    ("Scheduling", "/schedule", Perm.SCHEDULE_READ),
    ("Chair side", "/chair", Perm.INFUSION_CHART),
    ("Work queue", "/tasks", Perm.INFUSION_READ),
    ("Reactions", "/reports/reactions", Perm.INFUSION_READ),
    ("Pharmacy", "/inventory", Perm.INVENTORY_READ),
    ("Protocols", "/protocols", Perm.PROTOCOL_READ),
    ("My record", "/my", Perm.PATIENT_SELF),
    ("Sites", "/admin/sites", Perm.SITE_READ),
    ("Users", "/admin/users", Perm.USER_MANAGE),
    ("Audit", "/audit", Perm.AUDIT_READ),
    ("API", "/docs", Perm.API_DOCS),
]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    csrf = (
        principal.csrf_token
        if principal and principal.csrf_token
        else getattr(request.state, "prelogin_csrf", "")
    )
    nav = [(label, url) for label, url, perm in NAV if principal is not None and principal.can(perm)]
    ctx = {
        "principal": principal,
        "csrf_token": csrf,
        "nav": nav,
        "Perm": Perm,
        "path": request.url.path,
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)
