"""Pydantic models of the reviewed reference catalog (products, indications, policies, administration).

Every model forbids unknown keys. A clinical value that sources did not give is a ``Fact`` whose
``value`` is ``None`` and whose ``note`` says so; the engine refuses to use it.
"""

from __future__ import annotations

import itertools
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")

Phase = Literal["acute", "induction", "maintenance"]
PHASES: tuple[Phase, ...] = ("acute", "induction", "maintenance")
RateUnit = Literal["mg_per_kg_min", "ml_per_kg_h", "ml_per_kg_min"]
StepRule = Literal["explicit", "increment", "site-doubling"]
Rounding = Literal["down", "nearest", "nearest-5g"]
Trigger = Literal["actual-at-least-adjusted", "actual-above-ibw-ratio", "bmi-above"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(_Strict, Generic[T]):
    """A value with its source, or ``None`` with a note saying it was not found."""

    value: T | None
    source: str | None = None
    note: str | None = None
    verified: bool = True

    @model_validator(mode="after")
    def _sourced_or_explained(self) -> Fact[T]:
        if self.value is None and not self.note:
            raise ValueError("an unknown value (null) needs a note saying what was not found")
        if self.value is not None and not self.source:
            raise ValueError("a known value needs a source")
        return self

    @property
    def known(self) -> bool:
        return self.value is not None


class Titration(_Strict):
    """A label's infusion-rate protocol for one or more indications (label units)."""

    indications: list[str] = Field(min_length=1)
    rate_unit: RateUnit
    initial_rate: float = Field(gt=0)
    initial_minutes: int | None = Field(default=None, gt=0)
    step_rule: StepRule
    step_increment: float | None = Field(default=None, gt=0)
    explicit_rates: list[float] | None = None
    step_interval_min: int | None = Field(default=None, gt=0)
    max_rate: float | None = Field(gt=0)
    at_risk_max_rate: float | None = Field(default=None, gt=0)
    at_risk_note: str | None = None
    source: str

    @model_validator(mode="after")
    def _rule_fields(self) -> Titration:
        if self.step_rule == "explicit":
            if not self.explicit_rates:
                raise ValueError("step_rule explicit needs explicit_rates")
            rates = [self.initial_rate, *self.explicit_rates]
            if any(b <= a for a, b in itertools.pairwise(rates)):
                raise ValueError("explicit_rates must increase from initial_rate")
        if self.step_rule == "increment" and self.step_increment is None:
            raise ValueError("step_rule increment needs step_increment")
        if self.max_rate is not None and self.max_rate < self.initial_rate:
            raise ValueError("max_rate is below initial_rate")
        if self.step_rule != "site-doubling" and self.step_interval_min is None:
            raise ValueError("a label step rule needs step_interval_min")
        return self


class RoomTemperatureAllowance(_Strict):
    """How long a vial may be kept out of the fridge, at or below ``max_temp_c``.

    ``months`` is ``None`` when the label's storage condition already is room temperature: the
    label expiry applies unchanged.
    """

    max_temp_c: float
    months: int | None = Field(default=None, gt=0)


class LicensedAge(_Strict):
    """The label's age wording for some of its indications (adults: the catalog's adult age applies)."""

    indications: list[str] = Field(min_length=1)
    min_age_years: float | None = Field(default=None, ge=0)
    adults_only: bool = False
    wording: str
    source: str


class LabelNote(_Strict):
    """A label statement the pharmacist should see with every plan for the product."""

    text: str
    source: str


class Product(_Strict):
    id: str
    name: str
    manufacturer: str
    routes: list[Literal["iv", "sc"]] = Field(min_length=1)
    concentration_g_per_ml: Fact[float]
    vial_sizes_g: Fact[list[float]]
    stabiliser: Fact[str]
    sucrose_free: Fact[bool]
    proline_stabilised: Fact[bool]
    iga_ug_per_ml: Fact[float]
    sodium: Fact[str]
    osmolality_mosm_per_kg: Fact[float]
    storage: Fact[str]
    room_temperature: Fact[RoomTemperatureAllowance]
    approved_indications: Fact[list[str]]
    licensed_ages: list[LicensedAge] = Field(default_factory=list)
    titration: list[Titration]
    default_titration_indication: str | None = None
    label_notes: list[LabelNote] = Field(default_factory=list)

    @property
    def is_iv(self) -> bool:
        return "iv" in self.routes

    def titration_for(self, indication_id: str) -> Titration | None:
        for protocol in self.titration:
            if indication_id in protocol.indications:
                return protocol
        return None

    def fact_fields(self) -> dict[str, Fact[object]]:
        """The product's facts by field name (for coverage reports)."""
        out: dict[str, Fact[object]] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Fact):
                out[name] = value
        return out


class Regimen(_Strict):
    usual_g_per_kg: float = Field(gt=0)
    min_g_per_kg: float = Field(gt=0)
    max_g_per_kg: float = Field(gt=0)
    usual_days: int = Field(ge=1)
    min_days: int = Field(ge=1)
    max_days: int = Field(ge=1)
    interval_weeks: tuple[float, float] | None
    interval_note: str | None = None
    review_interval_weeks: float | None = None
    review: str
    priority: Literal[1, 2, 3]
    source: str

    @model_validator(mode="after")
    def _ranges(self) -> Regimen:
        if not self.min_g_per_kg <= self.usual_g_per_kg <= self.max_g_per_kg:
            raise ValueError("usual_g_per_kg must lie within [min_g_per_kg, max_g_per_kg]")
        if not self.min_days <= self.usual_days <= self.max_days:
            raise ValueError("usual_days must lie within [min_days, max_days]")
        if self.interval_weeks is not None and self.interval_weeks[0] > self.interval_weeks[1]:
            raise ValueError("interval_weeks must be [low, high]")
        return self


class Outcome(_Strict):
    measure: str
    threshold: str | None
    note: str | None = None
    source: str


class Indication(_Strict):
    id: str
    name: str
    icd10: list[str] = Field(min_length=1)
    recommendation: Literal["recommended", "conditional", "not-recommended"]
    recommendation_source: str
    urgency: Literal[1, 2, 3]
    regimens: dict[Phase, Regimen]
    regimen_note: str | None = None
    outcomes: list[Outcome]

    @model_validator(mode="after")
    def _explain_missing(self) -> Indication:
        if not self.regimens and not self.regimen_note:
            raise ValueError("an indication without regimens needs regimen_note")
        return self


class IbwFormula(_Strict):
    source: str
    male_base_kg: float
    female_base_kg: float
    kg_per_unit: float | None = None
    male_kg_per_unit: float | None = None
    female_kg_per_unit: float | None = None
    unit_cm: float = Field(gt=0)
    base_height_cm: float = Field(gt=0)
    cm_per_inch_note: str | None = None

    def slope_kg_per_unit(self, sex: str) -> float:
        specific = self.male_kg_per_unit if sex == "male" else self.female_kg_per_unit
        slope = specific if specific is not None else self.kg_per_unit
        if slope is None:
            raise ValueError("IBW formula has no slope for this sex")
        return slope


class Policy(_Strict):
    id: str
    name: str
    ibw_formula: Literal["devine", "robinson"] | None
    adjustment_factor: float | None = Field(default=None, gt=0, lt=1)
    adult_min_age_years: float | None = None
    min_height_cm: float | None = None
    min_weight_kg_male: float | None = None
    min_weight_kg_female: float | None = None
    trigger: Trigger | None = None
    ibw_ratio_threshold: float | None = None
    bmi_threshold: float | None = None
    bmi_inclusive: bool = False
    excludes_pregnant: bool = False
    # "pre-pregnancy": a pregnant patient is dosed on her pre-pregnancy weight (asked for if missing)
    pregnancy_weight: Literal["actual", "pre-pregnancy"] = "actual"
    rounding: Rounding
    rounding_children: Rounding
    rounding_step_g: float | None = None
    source: str
    note: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        if self.ibw_formula is None:
            return self
        if self.adjustment_factor is None or self.trigger is None:
            raise ValueError("an IBW policy needs adjustment_factor and trigger")
        if self.trigger == "bmi-above" and self.bmi_threshold is None:
            raise ValueError("trigger bmi-above needs bmi_threshold")
        if self.trigger == "actual-above-ibw-ratio" and self.ibw_ratio_threshold is None:
            raise ValueError("trigger actual-above-ibw-ratio needs ibw_ratio_threshold")
        if "nearest-5g" in (self.rounding, self.rounding_children) and self.rounding_step_g is None:
            raise ValueError("rounding nearest-5g needs rounding_step_g")
        return self


class PoliciesFile(_Strict):
    default_policy: str
    formulas: dict[Literal["devine", "robinson"], IbwFormula]
    policies: list[Policy]


class Chair(_Strict):
    setup_min: Fact[int]
    observation_first_infusion_min: Fact[int]
    observation_later_min: Fact[int]


class SiteTitration(_Strict):
    rule: Literal["doubling"]
    interval_min: int = Field(gt=0)
    source: str


CapGroup = Literal["renal", "thrombosis", "cardiac"]


class AtRiskCap(_Strict):
    """A site's at-risk maximum rate: for these products ("*" = every IV product) and risk groups."""

    products: list[str] = Field(min_length=1)
    risk_groups: list[CapGroup] = Field(min_length=1)
    indications: list[str] | None = None
    max_rate_mg_per_kg_min: float = Field(gt=0)
    source: str

    def applies(self, product_id: str, indication_id: str, groups: list[str]) -> bool:
        return (
            ("*" in self.products or product_id in self.products)
            and (self.indications is None or indication_id in self.indications)
            and any(group in self.risk_groups for group in groups)
        )


class SiteDecisions(_Strict):
    """Values the sources leave to local practice. Unknown in the shipped catalog; an approved site
    protocol (the Site protocols page) sets them, and plans cite that protocol."""

    note: str
    at_risk_caps: list[AtRiskCap] = Field(default_factory=list)
    at_risk_caps_note: str
    renal_creatinine_max_age_days: Fact[int]
    dosing_weight_fallback_warning_percent: Fact[float]
    premedication_after_reaction: Fact[list[str]]
    after_reaction_max_rate_fraction: Fact[float]
    first_dose_at_home: Fact[bool]


class Risk(_Strict):
    id: str
    label: str
    groups: list[Literal["renal", "thrombosis", "cardiac", "proline", "severe-reaction"]]
    source: str


class Screening(_Strict):
    renal_risk_age_over_years: Fact[float]
    adult_age_years: Fact[float]
    low_iga_max_ug_per_ml: Fact[float]
    risks: list[Risk]


class PlausibilityBand(_Strict):
    age_from: float
    age_to: float
    weight_kg: tuple[float, float]
    height_cm: tuple[float, float]


class Plausibility(_Strict):
    source: str
    verified: bool
    age_years: tuple[float, float]
    max_days: int
    max_dose_g_per_kg: float
    bands: list[PlausibilityBand]

    def band_for(self, age_years: float) -> PlausibilityBand:
        for band in self.bands:
            if band.age_from <= age_years < band.age_to:
                return band
        raise LookupError(f"no plausibility band covers age {age_years}")


class Administration(_Strict):
    chair: Chair
    site_titration: SiteTitration
    site_decisions: SiteDecisions
    screening: Screening
    plausibility: Plausibility


class ProductsFile(_Strict):
    products: list[Product]


class IndicationsFile(_Strict):
    indications: list[Indication]


# --- infusion day (infusion_day.yaml) and storage ------------------------------------------------

ReactionAction = Literal["continue", "slow_to_previous_step", "pause_then_resume_lower", "stop_and_escalate"]
REACTION_ACTIONS: tuple[ReactionAction, ...] = (
    "continue",
    "slow_to_previous_step",
    "pause_then_resume_lower",
    "stop_and_escalate",
)
NotifyQueue = Literal["pharmacist", "prescriber"]
NextPlanFlag = Literal["slower_titration", "premedication", "product_review"]
VitalName = Literal[
    "systolic_bp_mmhg", "heart_rate_bpm", "resp_rate_per_min", "spo2_percent", "temperature_c"
]
CTCAE_GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)


class ReactionGrade(_Strict):
    grade: int = Field(ge=1, le=5)
    label: str
    definition: str


class ReactionScale(_Strict):
    name: str
    source: str
    verified: bool = True
    grades: list[ReactionGrade]

    @model_validator(mode="after")
    def _all_grades(self) -> ReactionScale:
        if tuple(g.grade for g in self.grades) != CTCAE_GRADES:
            raise ValueError("reaction scale must list grades 1..5 once, in order")
        return self


class ChecklistItem(_Strict):
    id: str
    label: str
    source: str
    verified: bool = True


class ProtocolRule(_Strict):
    grade: int = Field(ge=1, le=5)
    recommended_action: ReactionAction
    allowed_actions: list[ReactionAction] = Field(min_length=1)
    source: str
    verified: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _recommended_allowed(self) -> ProtocolRule:
        if self.recommended_action not in self.allowed_actions:
            raise ValueError("recommended_action must be one of allowed_actions")
        return self


class ReactionProtocol(_Strict):
    source: str
    needs_pt_signoff: bool
    note: str | None = None
    stop_infusion_from_grade: Fact[int]
    escalate_from_grade: Fact[int]
    notify_queues: list[NotifyQueue]
    next_plan_flags: list[NextPlanFlag]
    next_plan_flags_source: str
    rules: list[ProtocolRule]

    @model_validator(mode="after")
    def _one_rule_per_grade(self) -> ReactionProtocol:
        if tuple(rule.grade for rule in self.rules) != CTCAE_GRADES:
            raise ValueError("reaction protocol needs one rule per grade 1..5, in order")
        stop = self.stop_infusion_from_grade.value
        for rule in self.rules:
            stops = "stop_and_escalate" in rule.allowed_actions
            if stop is not None and rule.grade >= stop and rule.allowed_actions != ["stop_and_escalate"]:
                raise ValueError(f"grade {rule.grade} stops the infusion: only stop_and_escalate is allowed")
            if stop is not None and rule.grade < stop and stops:
                raise ValueError(f"grade {rule.grade} is below stop_infusion_from_grade but allows a stop")
        return self

    def rule_for(self, grade: int) -> ProtocolRule:
        for rule in self.rules:
            if rule.grade == grade:
                return rule
        raise LookupError(f"no protocol rule for grade {grade}")


class VitalsSchedule(_Strict):
    site_configurable: bool
    baseline: Fact[bool]
    after_start_min: Fact[float]
    before_each_rate_change: Fact[bool]
    at_max_rate_every_min: Fact[float]
    at_end: Fact[bool]
    after_observation: Fact[bool]


class VitalLimit(_Strict):
    """Alert limits for one vital sign. An absent side (``None``) means no limit applies on that side;
    a present side with an unknown value is a limit the site must still set (the engine says so)."""

    low: Fact[float] | None = None
    high: Fact[float] | None = None


class VitalLimits(_Strict):
    site_configurable: bool
    note: str | None = None
    limits: dict[VitalName, VitalLimit]
    temperature_rise_from_baseline_c: Fact[float]


class WeightCheck(_Strict):
    max_change_percent: Fact[float]


class Charting(_Strict):
    """Data-entry checks at the chair (engineering bounds against typing slips, not clinical values)."""

    source: str
    volume_margin_percent: float = Field(ge=0, le=100)
    back_time_max_h: float = Field(gt=0, le=48)


class FollowUp(_Strict):
    window_start_h: Fact[float]
    window_end_h: Fact[float]
    checklist: list[ChecklistItem] = Field(min_length=1)


class BaselineRate(_Strict):
    id: str
    label: str
    low_percent: float | None = Field(default=None, ge=0, le=100)
    high_percent: float = Field(ge=0, le=100)
    source: str
    verified: bool = True


class InfusionDay(_Strict):
    reaction_scale: ReactionScale
    symptoms: list[ChecklistItem] = Field(min_length=1)
    reaction_protocol: ReactionProtocol
    vitals_schedule: VitalsSchedule
    vital_limits: VitalLimits
    weight_check: WeightCheck
    charting: Charting
    follow_up: FollowUp
    baseline_rates: list[BaselineRate]
