"""Site clinical protocols: the values a site decides where the sources leave the choice to local practice.

A protocol document holds, for each setting it decides, the value and the evidence it rests on. It is pure
data: :func:`apply_protocol` returns a copy of the catalog in which those values replace the catalog's
unknowns (each with a source that cites the protocol), so the dose engine and the chair-side rules read
them exactly like label facts. Storage, versions and approval live in ``igflow.protocols``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from igflow.catalog.loader import Catalog
from igflow.catalog.models import AtRiskCap, CapGroup, Fact, VitalLimit, VitalName

T = TypeVar("T")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decision(_Strict, Generic[T]):
    """One value the site decided, with the evidence it rests on."""

    value: T
    basis: str = Field(min_length=3, max_length=2000)
    references: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20
    )

    @field_validator("basis")
    @classmethod
    def _basis_is_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say what the value rests on")
        return value.strip()


class CapRule(_Strict):
    products: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=40)
    risk_groups: list[CapGroup] = Field(min_length=1)
    indications: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = None
    max_rate_mg_per_kg_min: float = Field(gt=0, le=100)


class VitalBand(_Strict):
    """Alert limits for one vital sign; a side left out has no limit."""

    low: float | None = Field(default=None, gt=0, le=1000)
    high: float | None = Field(default=None, gt=0, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> VitalBand:
        if self.low is None and self.high is None:
            raise ValueError("give a low or a high limit")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("the low limit must be below the high limit")
        return self


PositiveFloat = Annotated[float, Field(gt=0, le=1000)]
Minutes = Annotated[int, Field(ge=0, le=24 * 60)]
PositiveMinutes = Annotated[int, Field(gt=0, le=24 * 60)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Percent = Annotated[float, Field(gt=0, le=100)]
Days = Annotated[int, Field(gt=0, le=3650)]
PremedItem = Annotated[str, Field(min_length=2, max_length=200)]


class ProtocolValues(_Strict):
    """Every setting a site protocol may decide. A setting left out keeps the catalog's value (or unknown)."""

    at_risk_max_rate: Decision[list[CapRule]] | None = None
    chair_weight_change_max_percent: Decision[Percent] | None = None
    titration_step_interval_min: Decision[PositiveMinutes] | None = None
    observation_first_infusion_min: Decision[Minutes] | None = None
    observation_later_min: Decision[Minutes] | None = None
    low_iga_max_ug_per_ml: Decision[PositiveFloat] | None = None
    renal_creatinine_max_age_days: Decision[Days] | None = None
    dosing_weight_fallback_warning_percent: Decision[Percent] | None = None
    premedication_after_reaction: Decision[list[PremedItem]] | None = None
    after_reaction_max_rate_fraction: Decision[Fraction] | None = None
    first_dose_at_home: Decision[bool] | None = None
    vital_limits: Decision[dict[VitalName, VitalBand]] | None = None
    reaction_escalate_from_grade: Decision[Annotated[int, Field(ge=1, le=5)]] | None = None

    def decided(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


@dataclasses.dataclass(frozen=True)
class SettingInfo:
    label: str
    unit: str
    explains: str


#: What each setting means, for the protocol page (words, not clinical numbers).
SETTINGS: dict[str, SettingInfo] = {
    "at_risk_max_rate": SettingInfo(
        "At-risk maximum infusion rate",
        "mg/kg/min",
        "For patients at renal or thrombotic risk (diabetes, age over 65, renal impairment, thrombosis "
        "history...) or with heart failure, where the label says only 'minimum practicable rate'. Plans "
        "are slowed to the lower of this and any label cap; never faster than the label maximum.",
    ),
    "chair_weight_change_max_percent": SettingInfo(
        "Weight change at the chair that needs a pharmacist",
        "% of the plan's weight",
        "A weight taken at the chair within this change of the plan's weight lets the infusion go ahead; "
        "beyond it, a pharmacist re-checks the dose.",
    ),
    "titration_step_interval_min": SettingInfo(
        "Step interval for labels without a step schedule",
        "minutes",
        "How long each rate runs before the site doubling protocol steps up, where the label says only "
        "'increase gradually as tolerated'.",
    ),
    "observation_first_infusion_min": SettingInfo(
        "Observation after a first infusion", "minutes", "Time in the chair after the infusion ends."
    ),
    "observation_later_min": SettingInfo(
        "Observation after later infusions", "minutes", "Time in the chair after the infusion ends."
    ),
    "low_iga_max_ug_per_ml": SettingInfo(
        "Low-IgA product threshold",
        "micrograms/mL",
        "Products at or below this IgA content may be given to patients with IgA deficiency and anti-IgA "
        "antibodies (with specialist advice); others are a hard stop.",
    ),
    "renal_creatinine_max_age_days": SettingInfo(
        "Creatinine needed within",
        "days",
        "For patients at renal risk, a serum creatinine older than this (or none) is a warning on the plan.",
    ),
    "dosing_weight_fallback_warning_percent": SettingInfo(
        "Dose change from a dosing-weight fallback that needs the pharmacist",
        "%",
        "When a policy falls back to actual weight (short stature, children...), a dose this much above "
        "what the formula would give is a warning with both doses shown.",
    ),
    "premedication_after_reaction": SettingInfo(
        "Premedication after a prior reaction",
        "list",
        "Proposed on the next plan and pre-filled on the chair checklist after a reaction on the chart.",
    ),
    "after_reaction_max_rate_fraction": SettingInfo(
        "Maximum rate after a prior reaction",
        "fraction of the label maximum",
        "The next plan after a reaction on the chart is capped at this fraction of the label's maximum.",
    ),
    "first_dose_at_home": SettingInfo(
        "First dose of a product at home",
        "yes / no",
        "Whether a patient's first dose of a product may be given at home.",
    ),
    "vital_limits": SettingInfo(
        "Vital-sign alert limits",
        "per vital sign",
        "Readings outside these limits raise an alert at the chair. The catalog's defaults are general "
        "early-warning (NEWS2) bands, not IVIG values; a vital sign named here replaces its default.",
    ),
    "reaction_escalate_from_grade": SettingInfo(
        "Reaction grade that notifies the pharmacist and prescriber",
        "CTCAE grade",
        "From this grade a reaction opens review tasks and flags the next plan (slower rate, premedication, "
        "product review). The grade that stops the infusion stays the reaction protocol's.",
    ),
}


class ProtocolDocument(_Strict):
    """A protocol as a file (``igflow dose --protocol FILE``) or as stored: a title and its values.

    The optional version, approval and effective dates make the plan's citation the same as igflow's
    for the stored version (``GET /api/v1/protocols/{id}/document`` exports exactly this shape).
    """

    title: str = Field(min_length=3, max_length=200)
    version: int | None = Field(default=None, ge=1)
    approved_on: date | None = None
    effective_from: date | None = None
    values: ProtocolValues

    @property
    def citation(self) -> str:
        return citation_text(self.title, self.version, self.approved_on, self.effective_from)


def citation_text(
    title: str, version: int | None, approved_on: date | None, effective_from: date | None
) -> str:
    """How a plan cites a protocol in its sources (the same words for a stored version and its file)."""
    parts = [f"Site protocol '{title}'"]
    if version is not None:
        parts.append(f" v{version}")
    details = []
    details.append(f"approved {approved_on.isoformat()}" if approved_on else "not approved in igflow")
    if effective_from is not None:
        details.append(f"effective {effective_from.isoformat()}")
    return "".join(parts) + f" ({', '.join(details)})"


class ProtocolFileError(ValueError):
    """A protocol file or document is invalid; the message names the field."""


def check_references(values: ProtocolValues, catalog: Catalog) -> list[str]:
    """Problems with catalog ids named in the values (unknown products or indications)."""
    problems: list[str] = []
    if values.at_risk_max_rate is not None:
        for index, rule in enumerate(values.at_risk_max_rate.value):
            for product in rule.products:
                if product != "*" and product not in catalog.products:
                    problems.append(
                        f"at_risk_max_rate rule {index + 1}: unknown product {product!r} "
                        f"(use '*' for every IV product, or one of: {', '.join(catalog.products)})"
                    )
            for indication in rule.indications or []:
                if indication not in catalog.indications:
                    problems.append(f"at_risk_max_rate rule {index + 1}: unknown indication {indication!r}")
    return problems


def parse_values(data: Any) -> ProtocolValues:
    """Validate protocol values from JSON-like data; :class:`ProtocolFileError` names the field."""
    try:
        return ProtocolValues.model_validate(data)
    except ValidationError as exc:
        raise ProtocolFileError(_first_error(exc)) from None


_PART_NAMES = {
    "value": "",
    "basis": "basis",
    "max_rate_mg_per_kg_min": "maximum rate",
    "risk_groups": "risk groups",
    "products": "products",
    "indications": "indications",
}


def _first_error(exc: ValidationError) -> str:
    """The first problem in words: the setting's label, the rule number, the part."""
    err = exc.errors()[0]
    parts: list[str] = []
    for part in err["loc"]:
        if isinstance(part, int):
            parts.append(
                f"rule {part + 1}"
                if parts and parts[-1] == SETTINGS["at_risk_max_rate"].label
                else f"item {part + 1}"
            )
        elif part in SETTINGS:
            parts.append(SETTINGS[part].label)
        elif part in _PART_NAMES:
            if _PART_NAMES[part]:
                parts.append(_PART_NAMES[part])
        elif part != "values":
            parts.append(str(part).replace("_", " "))
    message = str(err["msg"])
    if err["type"] == "extra_forbidden":
        message = "is not a setting a protocol can decide"
    elif err["type"] == "missing":
        message = "is required"
    elif err["type"] in ("float_parsing", "float_type", "int_parsing", "int_type"):
        message = "must be a number"
    elif err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"gt": "above", "ge": "at least", "lt": "below", "le": "at most"}
        bound = ", ".join(f"{words[k]} {v}" for k, v in err.get("ctx", {}).items() if k in words)
        message = f"must be {bound}" if bound else message
    return f"{', '.join(parts) or 'document'}: {message}"


def load_protocol_file(path: Path, catalog: Catalog) -> ProtocolDocument:
    """Read a protocol document from YAML or JSON and check it against the catalog."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProtocolFileError(
            f"{path.name} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None
    try:
        document = ProtocolDocument.model_validate(data)
    except ValidationError as exc:
        raise ProtocolFileError(_first_error(exc)) from None
    problems = check_references(document.values, catalog)
    if problems:
        raise ProtocolFileError(problems[0])
    return document


def _fact(decision: Decision[Any], citation: str) -> Fact[Any]:
    return Fact(value=decision.value, source=_source(decision, citation), verified=True)


def _source(decision: Decision[Any], citation: str) -> str:
    refs = f" (references: {'; '.join(decision.references)})" if decision.references else ""
    return f"{citation}: {decision.basis}{refs}"


def apply_protocol(catalog: Catalog, values: ProtocolValues, citation: str) -> Catalog:
    """The catalog with the protocol's decided values in place of the catalog's, each citing ``citation``.

    Pure and cheap: pydantic copies of the few sections that change; the rest is shared.
    """
    admin = catalog.administration
    decisions = admin.site_decisions
    titration = admin.site_titration
    chair = admin.chair
    screening = admin.screening
    day = catalog.infusion_day
    update_decisions: dict[str, Any] = {}
    if values.at_risk_max_rate is not None:
        source = _source(values.at_risk_max_rate, citation)
        update_decisions["at_risk_caps"] = [
            AtRiskCap(
                products=rule.products,
                risk_groups=rule.risk_groups,
                indications=rule.indications,
                max_rate_mg_per_kg_min=rule.max_rate_mg_per_kg_min,
                source=source,
            )
            for rule in values.at_risk_max_rate.value
        ]
    for name in (
        "renal_creatinine_max_age_days",
        "dosing_weight_fallback_warning_percent",
        "premedication_after_reaction",
        "after_reaction_max_rate_fraction",
        "first_dose_at_home",
    ):
        decision = getattr(values, name)
        if decision is not None:
            update_decisions[name] = _fact(decision, citation)
    interval = values.titration_step_interval_min
    if interval is not None:
        titration = titration.model_copy(
            update={
                "interval_min": interval.value,
                "source": f"{titration.source} Interval: {_source(interval, citation)}",
            }
        )
    update_chair: dict[str, Any] = {}
    if values.observation_first_infusion_min is not None:
        update_chair["observation_first_infusion_min"] = _fact(
            values.observation_first_infusion_min, citation
        )
    if values.observation_later_min is not None:
        update_chair["observation_later_min"] = _fact(values.observation_later_min, citation)
    if values.low_iga_max_ug_per_ml is not None:
        screening = screening.model_copy(
            update={"low_iga_max_ug_per_ml": _fact(values.low_iga_max_ug_per_ml, citation)}
        )
    if values.vital_limits is not None:
        limits = dict(day.vital_limits.limits)
        for vital, band in values.vital_limits.value.items():
            limits[vital] = VitalLimit(
                low=None
                if band.low is None
                else _fact(values.vital_limits.model_copy(update={"value": band.low}), citation),
                high=None
                if band.high is None
                else _fact(values.vital_limits.model_copy(update={"value": band.high}), citation),
            )
        day = day.model_copy(update={"vital_limits": day.vital_limits.model_copy(update={"limits": limits})})
    if values.reaction_escalate_from_grade is not None:
        day = day.model_copy(
            update={
                "reaction_protocol": day.reaction_protocol.model_copy(
                    update={"escalate_from_grade": _fact(values.reaction_escalate_from_grade, citation)}
                )
            }
        )
    if values.chair_weight_change_max_percent is not None:
        day = day.model_copy(
            update={
                "weight_check": day.weight_check.model_copy(
                    update={"max_change_percent": _fact(values.chair_weight_change_max_percent, citation)}
                )
            }
        )
    admin = admin.model_copy(
        update={
            "site_decisions": decisions.model_copy(update=update_decisions),
            "site_titration": titration,
            "chair": chair.model_copy(update=update_chair),
            "screening": screening,
        }
    )
    return dataclasses.replace(catalog, administration=admin, infusion_day=day)


__all__ = [
    "SETTINGS",
    "CapRule",
    "Decision",
    "ProtocolDocument",
    "ProtocolFileError",
    "ProtocolValues",
    "apply_protocol",
    "check_references",
    "citation_text",
    "load_protocol_file",
    "parse_values",
]
