"""Template rendering with the signed-in principal, CSRF token and navigation in every page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from igflow.catalog import load_catalog
from igflow.security.permissions import Perm
from igflow.security.principal import Principal
from igflow.web import i18n
from igflow.web.charts import rate_plan_svg

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.add_extension("jinja2.ext.i18n")
# ``{% trans %}`` and ``_()`` read the language of the page being rendered (a context variable that
# render() sets for one render only: see igflow.web.i18n), so one shared Environment serves every language.
TEMPLATES.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
TEMPLATES.env.filters["local_date"] = i18n.local_date
# ``labels|translated``: a page's field labels (marked with ``N_`` in Python) in the page's language
TEMPLATES.env.filters["translated"] = lambda words: {k: i18n.gettext(v) for k, v in words.items()}
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
    if i18n.current() != i18n.DEFAULT:
        from babel.numbers import format_decimal

        return format_decimal(rounded, format="#,##0." + "#" * places, locale=i18n.current())
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


def product_name(product_id: str | None) -> str:
    """``gammagard-liquid`` -> "Gammagard Liquid 10 %" (the catalog's name; the id where none is known)."""
    return catalog_name("product", product_id)


def indication_name(indication_id: str | None) -> str:
    """``cidp`` -> "CIDP" (the catalog's name; the id where none is known)."""
    return catalog_name("indication", indication_id)


class _PeopleAndPlaces:
    """Names of sites and users for one page, read once when a template first asks (the page's own
    request: nothing is cached across requests, so a renamed site reads right on the next page)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._sites: dict[Any, str] | None = None
        self._users: dict[int, str] = {}

    def site(self, key: Any) -> str:
        if key is None or key == "":
            return ""
        if self._sites is None:
            from igflow.sites import service as sites_service  # the pages import this module

            with self.db.read_session() as session:
                sites = sites_service.list_sites(session)
                self._sites = {**{s.code: s.name for s in sites}, **{s.id: s.name for s in sites}}
        return self._sites.get(key, str(key))

    def user(self, user_id: Any) -> str:
        if user_id is None or user_id == "":
            return ""
        if not str(user_id).isdigit():
            return str(user_id)
        wanted = int(user_id)
        if wanted not in self._users:
            from igflow.security import service as security_service

            with self.db.read_session() as session:
                self._users[wanted] = security_service.display_names(session, {wanted}).get(wanted, "")
        return self._users[wanted] or "a user no longer on record"


def _lookup(context: Any) -> _PeopleAndPlaces:
    request = context.get("request")
    state = request.state
    found = getattr(state, "people_and_places", None)
    if found is None:
        found = _PeopleAndPlaces(request.app.state.db)
        state.people_and_places = found
    return found


@pass_context
def site_name(context: Any, key: Any) -> str:
    """A site's name for its code (``harbor``) or id; the key itself where no site has it."""
    return _lookup(context).site(key)


@pass_context
def user_name(context: Any, user_id: Any) -> str:
    """A user's display name for their id (never "user 2")."""
    return _lookup(context).user(user_id)


TEMPLATES.env.globals["product_name"] = product_name
TEMPLATES.env.globals["indication_name"] = indication_name
TEMPLATES.env.globals["site_name"] = site_name
TEMPLATES.env.globals["user_name"] = user_name
TEMPLATES.env.filters["product_name"] = product_name
TEMPLATES.env.filters["indication_name"] = indication_name
TEMPLATES.env.filters["site_name"] = site_name
TEMPLATES.env.filters["user_name"] = user_name


def fact_value(value: Any, fact: str = "") -> str:
    """A fact of a plan's inputs as a person reads it: a dosing policy by its name, risks and lists in
    words, yes or no for a flag, "none" for nothing."""
    if value is None or value == [] or value == "":
        return "none"
    if fact == "policy":
        return catalog_name("policy", str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, float | int):
        return number(value)
    return str(value).replace("_", " ") if fact == "risks" else str(value)


TEMPLATES.env.filters["fact_value"] = fact_value


#: error-list keys that name no field of the form (the refusal is about the whole submission)
NO_FIELD = frozenset({"", "form", "request", "kind"})
_NO_FIELD = NO_FIELD


_CODE_PREFIX = re.compile(r"(^|; )([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")


# unit suffixes of field names, as a label writes them ("weight_kg" -> "Weight (kg)")
_UNITS = (
    ("_ml_per_h_per_site", "mL/h per site"),
    ("_ml_per_h", "mL/h"),
    ("_mg_per_kg_min", "mg/kg/min"),
    ("_g_per_kg", "g/kg"),
    ("_umol_per_l", "µmol/L"),
    ("_mmhg", "mmHg"),
    ("_bpm", "beats/min"),
    ("_per_min", "/min"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_ml", "mL"),
    ("_min", "min"),
    ("_g", "g"),
    ("_c", "°C"),
    ("_cents", "cents"),
    ("_percent", "%"),
)


#: fields whose words are not their name's (abbreviations a person reads in capitals, ids by what they name)
_FIELD_WORDS = {
    "previous_iv_dose_g": "Previous IV dose (g)",
    "iv_interval_weeks": "Weeks between IV doses",
    "sc_interval_days": "SC infusion every (days)",
    "interval_days": "SC infusion every (days)",
    "mrn": "MRN",
    "icd10_code": "ICD-10 code",
    "gtin": "GTIN",
    "scan": "Scanned code",
    "scan_text": "Scanned code",
    "iga_deficiency_anti_iga": "IgA deficiency with anti-IgA antibodies",
    "iv_access": "IV access",
    "spo2_percent": "SpO2 (%)",
    "egfr_ml_per_min_1_73m2": "eGFR (mL/min/1.73 m²)",
    "site_ids": "Sites",
    "email": "Email",
    "dose_g_per_kg": "Dose (g/kg)",
    "at_risk_max_rate_mg_per_kg_min": "Maximum rate for a patient at risk (mg/kg/min)",
}


def _words(field: str) -> str:
    if field in _FIELD_WORDS:
        return _FIELD_WORDS[field]
    parts = [p for p in field.split(".") if not p.isdigit() and p != "payload"]
    if parts and parts[-1] in _FIELD_WORDS:
        return _FIELD_WORDS[parts[-1]]
    name, unit = (parts[-1] if parts else field), ""
    if name.endswith("_ids"):
        name = name[:-4] + "s"
    elif name.endswith("_id"):
        name = name[:-3]
    for suffix, label in _UNITS:
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], f" ({label})"
            break
    words = " ".join([*parts[:-1], name]).replace("_", " ") + unit
    return words[:1].upper() + words[1:]


def field_words(field: str, labels: Any = None) -> str:
    """A field as a person reads it: the form's own label where the page gives one, else its name in words."""
    if labels and field in labels:
        return str(labels[field])
    return _words(field)


def sentence(text: Any, capital: bool = True) -> str:
    """Text as a sentence: a capital first (unless ``capital`` is False), a full stop at the end."""
    said = str(text).strip()
    if not said:
        return ""
    if capital:
        said = said[:1].upper() + said[1:]
    return said if said[-1] in ".!?" else said + "."


def readable(message: Any) -> str:
    """A refusal as a person reads it: a leading field code ("site_ids: ", "payload.weight_kg: ") in
    words ("Sites: "), or dropped where it names no field ("kind: ", "form: ")."""

    def say(match: re.Match[str]) -> str:
        field = match.group(2)
        return match.group(1) + ("" if field in _NO_FIELD else _words(field) + ": ")

    return _CODE_PREFIX.sub(say, str(message))


def _codes_of(field: str) -> list[str]:
    parts = [p for p in field.split(".") if p]
    bare = [p for p in parts if p != "payload" and not p.isdigit()]
    return [c for c in dict.fromkeys([field, ".".join(bare), parts[0] if parts else "", *bare[-1:]]) if c]


def _bare(field: str, message: Any) -> str:
    """The message without the field's code in front of it (and without Pydantic's "Value error, ")."""
    text = str(message).removeprefix("Value error, ")
    for prefix in ("payload." + field, *_codes_of(field)):
        if text.startswith(prefix + ": "):
            text = text[len(prefix) + 2 :]
            break
    return readable(text)


def field_error(field: str, message: str) -> str:
    """The message without the field's code in front of it ("date_of_birth: cannot be in the future" ->
    "cannot be in the future")."""
    return _bare(field, message)


def field_problem(field: str, message: str) -> str:
    """The problem shown beside an input: the message without the field's code, starting with a capital."""
    text = _bare(field, message)
    return text[:1].upper() + text[1:]


def error_line(field: str, message: str, labels: Any = None) -> str:
    """One line of a form's error list, as a person reads it: the field by its label or in words, said once.

    Service messages already start with the field ("site_ids: unknown site id(s) [9999]") and
    Pydantic's do not ("String should have at least 3 characters"); both read "Sites: …". A refusal
    naming no field ("form") is a sentence of its own.
    """
    if field in _NO_FIELD:
        return sentence(_bare(field, message))
    return f"{field_words(field, labels)}: {sentence(_bare(field, message), capital=False)}"


def chosen(values: Any, name: str, value: Any) -> bool:
    """Whether ``value`` is among the answers given for ``name`` (one answer, or a list of them)."""
    given = values.get(name) if values else None
    if isinstance(given, list | tuple | set | frozenset):
        return str(value) in {str(v) for v in given}
    if isinstance(given, bool):
        return given
    return given is not None and str(given) == str(value)


SEVERITY_WORDS = {"hard_stop": "Hard stop", "warning": "Warning", "info": "Information"}
TEMPLATES.env.filters["num"] = number
TEMPLATES.env.globals["error_line"] = error_line
TEMPLATES.env.globals["field_error"] = field_error
TEMPLATES.env.globals["field_problem"] = field_problem
TEMPLATES.env.filters["readable"] = readable
TEMPLATES.env.globals["catalog_name"] = catalog_name
TEMPLATES.env.globals["chosen"] = chosen
TEMPLATES.env.globals["field_words"] = field_words


def role_words(roles: Any) -> str:
    """The signed-in user's roles as people say them ("prior-authorisation specialist", not a code)."""
    from igflow.security.permissions import ROLE_LABELS, Role

    roles = list(roles)  # it may be a generator: read it once
    # the patient's pages are in the patient's language
    if roles and set(roles) <= {Role.PATIENT, Role.CAREGIVER}:
        return ", ".join(sorted(i18n.gettext(PATIENT_ROLE_WORDS[Role(r)]) for r in roles))
    return ", ".join(sorted(ROLE_LABELS.get(r, str(r)) for r in roles))


#: how the patient's pages name the signed-in person's role (translated; the staff labels stay English)
PATIENT_ROLE_WORDS = {"patient": i18n.N_("patient"), "caregiver": i18n.N_("caregiver")}


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
    ("Imports", "/imports", Perm.PATIENT_WRITE),
    ("Reports", "/reports", Perm.SITE_READ),
    ("Prices", "/prices", Perm.PRICE_MANAGE),
    (i18n.N_("My record"), "/my", Perm.PATIENT_SELF),
    (i18n.N_("My infusion log"), "/my/self-infusions", Perm.PATIENT_SELF),
    (i18n.N_("How I feel"), "/my/diary", Perm.PATIENT_SELF),
    (i18n.N_("My requests"), "/my/requests", Perm.PATIENT_SELF),
    (i18n.N_("My messages"), "/my/messages", Perm.PATIENT_SELF),
    (i18n.N_("My questionnaires"), "/my/measures", Perm.PATIENT_SELF),
    (i18n.N_("Costs and help"), "/my/costs", Perm.PATIENT_SELF),
    (i18n.N_("My caregivers"), "/my/caregivers", Perm.PATIENT_SELF),
    ("Sites", "/admin/sites", Perm.SITE_READ),
    ("Users", "/admin/users", Perm.USER_MANAGE),
    ("Audit", "/audit", Perm.AUDIT_READ),
    ("API", "/docs", Perm.API_DOCS),
]


#: the patient's own pages: their nav labels are translated (staff labels stay English)
PATIENT_NAV = frozenset({label for label, _url, perm in NAV if perm is Perm.PATIENT_SELF})


def page_locale(request: Request, principal: Principal | None) -> str:
    """The language of this request's page: staff read English; a patient reads their stored choice,
    else their browser's; a visitor not yet signed in reads their browser's (read once per request)."""
    found: str | None = getattr(request.state, "locale", None)
    if found is not None:
        return found
    accept = request.headers.get("accept-language")
    if principal is None:
        found = i18n.choose(None, accept)
    elif principal.can(Perm.PATIENT_SELF) and principal.patient_id is not None:
        from igflow.messages import preferences  # the pages import this module

        try:
            with request.app.state.db.read_session() as session:
                stored = preferences.language_of(session, principal.patient_id)
        except Exception:  # an error page while the database is down still renders, in the browser's language
            stored = None
        found = i18n.choose(stored, accept)
    else:
        found = i18n.DEFAULT
    request.state.locale = found
    return found


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    locale = page_locale(request, principal)
    with i18n.using(locale):
        return _render(request, principal, locale, template, context, status_code)


def _render(
    request: Request,
    principal: Principal | None,
    locale: str,
    template: str,
    context: dict[str, Any] | None,
    status_code: int,
) -> HTMLResponse:
    csrf = (
        principal.csrf_token
        if principal and principal.csrf_token
        else getattr(request.state, "prelogin_csrf", "")
    )
    nav = [
        (i18n.gettext(label) if label in PATIENT_NAV else label, url)
        for label, url, perm in NAV
        if principal is not None and principal.can(perm)
    ]
    ctx = {
        "locale": locale,
        "principal": principal,
        "csrf_token": csrf,
        "nav": nav,
        "Perm": Perm,
        "path": request.url.path,
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)
