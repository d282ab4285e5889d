"""Template rendering with the signed-in principal, CSRF token and navigation in every page."""

from __future__ import annotations

import re
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


#: error-list keys that name no field of the form (the refusal is about the whole submission)
_NO_FIELD = {"", "form", "request", "kind"}


_CODE_PREFIX = re.compile(r"(^|; )([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")


# unit suffixes of field names, as a label writes them ("weight_kg" -> "Weight (kg)")
_UNITS = (
    ("_ml_per_h", "mL/h"),
    ("_mg_per_kg_min", "mg/kg/min"),
    ("_kg", "kg"),
    ("_ml", "mL"),
    ("_min", "min"),
    ("_g", "g"),
    ("_cents", "cents"),
    ("_percent", "%"),
)


#: fields whose words are not their name's (abbreviations a person reads in capitals)
_FIELD_WORDS = {
    "previous_iv_dose_g": "Previous IV dose (g)",
    "iv_interval_weeks": "Weeks between IV doses",
    "sc_interval_days": "SC infusion every (days)",
    "interval_days": "SC infusion every (days)",
}


def _words(field: str) -> str:
    if field in _FIELD_WORDS:
        return _FIELD_WORDS[field]
    parts = [p for p in field.split(".") if not p.isdigit() and p != "payload"]
    name, unit = (parts[-1] if parts else field), ""
    for suffix, label in _UNITS:
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], f" ({label})"
            break
    words = " ".join([*parts[:-1], name]).replace("_", " ") + unit
    return words[:1].upper() + words[1:]


def readable(message: Any) -> str:
    """A refusal as a person reads it: a leading field code ("site_ids: ", "payload.weight_kg: ") in
    words ("Site ids: "), or dropped where it names no field ("kind: ", "form: ")."""

    def say(match: re.Match[str]) -> str:
        field = match.group(2)
        return match.group(1) + ("" if field in _NO_FIELD else _words(field) + ": ")

    return _CODE_PREFIX.sub(say, str(message))


def field_error(field: str, message: str) -> str:
    """The problem shown beside an input: the message without the field's code in front of it."""
    text = str(message)
    for prefix in (field, field.split(".")[0]):
        if prefix and text.startswith(prefix + ": "):
            return text[len(prefix) + 2 :]
    return text


def error_line(field: str, message: str) -> str:
    """One line of a form's error list, as a person reads it: the field in words, said once.

    Service messages already start with the field ("site_ids: unknown site id(s) [9999]") and
    Pydantic's do not ("String should have at least 3 characters"); both read "Site ids: …".
    """
    text = readable(field_error(field, message))
    return text if field in _NO_FIELD else f"{_words(field)}: {text}"


SEVERITY_WORDS = {"hard_stop": "Hard stop", "warning": "Warning", "info": "Information"}
TEMPLATES.env.filters["num"] = number
TEMPLATES.env.globals["error_line"] = error_line
TEMPLATES.env.globals["field_error"] = field_error
TEMPLATES.env.filters["readable"] = readable
TEMPLATES.env.globals["catalog_name"] = catalog_name


def role_words(roles: Any) -> str:
    """The signed-in user's roles as people say them ("prior-authorisation specialist", not a code)."""
    from igflow.security.permissions import ROLE_LABELS

    return ", ".join(sorted(ROLE_LABELS.get(r, str(r)) for r in roles))


TEMPLATES.env.globals["role_words"] = role_words
TEMPLATES.env.globals["severity_words"] = SEVERITY_WORDS

# (label, url, permission needed to see the link)
NAV: list[tuple[str, str, Perm]] = [
    ("Patients", "/patients", Perm.PATIENT_LIST),
    ("Referrals", "/referrals", Perm.REFERRAL_READ),
    ("Verify", "/verification-queue", Perm.PLAN_VERIFY),
    ("Dose calculator", "/dose", Perm.DOSE_CALCULATE),
    ("Scheduling", "/schedule", Perm.SCHEDULE_READ),
    ("Chair side", "/chair", Perm.INFUSION_CHART),
    ("Home visits", "/home", Perm.HOME_READ),
    ("Work queue", "/tasks", Perm.INFUSION_READ),
    ("Reactions", "/reports/reactions", Perm.INFUSION_READ),
    ("Prior auth", "/prior-auth", Perm.PRIOR_AUTH_READ),
    ("Pharmacy", "/inventory", Perm.INVENTORY_READ),
    ("Deliveries", "/deliveries", Perm.HOME_READ),
    ("Protocols", "/protocols", Perm.PROTOCOL_READ),
    ("Costs", "/reports/cost", Perm.COST_READ),
    ("Prices", "/prices", Perm.PRICE_MANAGE),
    ("My record", "/my", Perm.PATIENT_SELF),
    ("My infusion log", "/my/self-infusions", Perm.PATIENT_SELF),
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
