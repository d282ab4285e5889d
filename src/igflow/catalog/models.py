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


class StorageRange(_Strict):
    """The temperatures the label stores the product at: a cold-chain reading outside them is an excursion.

    ``min_c`` is ``None`` when the sources read give no lower limit (the cold chain's freezing limit in
    ``home_supply.yaml`` still applies). A room-temperature allowance is not part of the range: it is a
    reason a pharmacist may give for releasing a warm delivery, never applied on its own.
    """

    min_c: float | None = None
    max_c: float

    @model_validator(mode="after")
    def _ordered(self) -> StorageRange:
        if self.min_c is not None and self.min_c >= self.max_c:
            raise ValueError("min_c must be below max_c")
        return self


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
    storage_range_c: Fact[StorageRange]
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


# --- outcome measures and response thresholds (outcomes.yaml) --------------------------------------

Direction = Literal["lower_is_better", "higher_is_better"]
ThresholdKind = Literal["points", "percent_of_baseline", "level_on_current", "itp_iwg_2009", "unknown"]
Population = Literal["any", "adult"]


class _SourcedText(_Strict):
    """Base for catalog entries that carry a number: the number is refused without its source."""

    source: str = Field(min_length=1)
    verified: bool = True
    note: str | None = None


class MeasurePart(_Strict):
    """A sub-score of a measure (e.g. the arm and leg grades of the INCAT disability score)."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    scale_min: Fact[float]
    scale_max: Fact[float]


class ExcludedPartChange(_SourcedText):
    """A change of one part between two grades that does not count (adjusted INCAT: arm 0 <-> 1)."""

    part: str = Field(min_length=1)
    between: tuple[float, float]


class SelfReport(Fact[bool]):
    """Whether the patient may complete the measure themselves (portal, issue 13), with its source.

    ``value: true`` needs the words the patient reads, in English and Spanish (``name``/``name_es``,
    ``why_total``/``why_total_es``: why the portal asks for the total, not item by item) and
    ``source_es``. ``value: null`` (with a note) or ``false``: the portal does not offer the measure.
    """

    name: str | None = None
    name_es: str | None = None
    why_total: str | None = None
    why_total_es: str | None = None
    source_es: str | None = None

    @model_validator(mode="after")
    def _patient_words(self) -> SelfReport:
        words = (self.name, self.name_es, self.why_total, self.why_total_es, self.source_es)
        if self.value and not all(words):
            raise ValueError(
                "a self-reported measure needs name, name_es, why_total, why_total_es, source_es"
            )
        return self

    def name_in(self, locale: str) -> str:
        return (self.name_es if locale == "es" else self.name) or ""

    def why_total_in(self, locale: str) -> str:
        return (self.why_total_es if locale == "es" else self.why_total) or ""


class Measure(_Strict):
    """An outcome measure: its scale, which way is better, and the source of each."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    integer: bool
    direction: Fact[Direction]
    scale_min: Fact[float]
    scale_max: Fact[float]
    parts: list[MeasurePart] = Field(default_factory=list)
    excluded_part_changes: list[ExcludedPartChange] = Field(default_factory=list)
    self_report: SelfReport
    source: str = Field(min_length=1)
    note: str | None = None

    @property
    def self_reportable(self) -> bool:
        """The patient may enter it in the portal: self-report sourced and a single total (no parts)."""
        return bool(self.self_report.value) and not self.parts

    @model_validator(mode="after")
    def _scale(self) -> Measure:
        low, high = self.scale_min.value, self.scale_max.value
        if low is not None and high is not None and low >= high:
            raise ValueError("scale_min must be below scale_max")
        if self.excluded_part_changes and not self.parts:
            raise ValueError("excluded_part_changes needs parts")
        part_ids = [part.id for part in self.parts]
        if len(set(part_ids)) != len(part_ids):
            raise ValueError("part ids must be unique")
        for excluded in self.excluded_part_changes:
            if excluded.part not in part_ids:
                raise ValueError(f"excluded_part_changes: {excluded.part!r} is not a part")
        return self

    def part(self, part_id: str) -> MeasurePart:
        for part in self.parts:
            if part.id == part_id:
                return part
        raise LookupError(f"measure {self.id} has no part {part_id!r}")


class ChangeThreshold(_SourcedText):
    """A change from baseline that counts as meaningful: ``value`` points or percent of baseline.

    ``inclusive``: a change equal to ``value`` counts (the source says "at least" / "+-");
    otherwise the change must exceed it (the source says "more than").
    """

    value: float = Field(gt=0)
    inclusive: bool


class ResponseLevel(_SourcedText):
    """A level the current value reaches (e.g. TIS >= 20 minimal improvement)."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    min_value: float


class IwgRule(_Strict):
    """ITP response (International Working Group, Rodeghiero 2009): complete response by a platelet
    level; response by a level and a fold rise over baseline. Counts and fold come from here."""

    complete_response_min: Fact[float]
    response_min: Fact[float]
    response_min_fold_of_baseline: Fact[float]
    caveats: list[str] = Field(default_factory=list)
    source: str = Field(min_length=1)


class ResponseThreshold(_Strict):
    """How a measure's response is judged for one indication, and on what authority."""

    kind: ThresholdKind
    improvement: ChangeThreshold | None = None
    worsening: ChangeThreshold | None = None
    levels: list[ResponseLevel] = Field(default_factory=list)
    iwg: IwgRule | None = None
    population: Population = "any"
    note: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> ResponseThreshold:
        change = self.kind in ("points", "percent_of_baseline")
        if self.kind == "unknown":
            if self.improvement or self.worsening or self.levels or self.iwg:
                raise ValueError("an unknown threshold holds no numbers")
            if not self.note:
                raise ValueError("an unknown threshold needs a note saying what was not found")
        if change:
            if self.improvement is None:
                raise ValueError(f"kind {self.kind} needs an improvement threshold")
            if self.worsening is None and not self.note:
                raise ValueError("a threshold without a worsening value needs a note saying why")
        elif self.improvement is not None or self.worsening is not None:
            raise ValueError(f"kind {self.kind} takes no improvement/worsening change")
        if (self.kind == "level_on_current") != bool(self.levels):
            raise ValueError("levels belong to kind level_on_current, which needs at least one")
        floors = [level.min_value for level in self.levels]
        if any(b <= a for a, b in itertools.pairwise(floors)):
            raise ValueError("levels must rise (min_value ascending)")
        if (self.kind == "itp_iwg_2009") != (self.iwg is not None):
            raise ValueError("iwg belongs to kind itp_iwg_2009, which needs it")
        return self

    @property
    def sourced(self) -> bool:
        """True when the catalog holds a threshold to judge by (``kind`` is not ``unknown``)."""
        return self.kind != "unknown"


class IndicationMeasure(_Strict):
    measure: str = Field(min_length=1)
    threshold: ResponseThreshold


class IndicationOutcomes(_Strict):
    """The measures that apply to one indication, its primary measure and why."""

    indication: str = Field(min_length=1)
    measures: list[IndicationMeasure]
    primary: str | None = None
    primary_reason: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _primary(self) -> IndicationOutcomes:
        ids = [m.measure for m in self.measures]
        if len(set(ids)) != len(ids):
            raise ValueError("a measure is listed twice")
        if self.primary is not None:
            if self.primary not in ids:
                raise ValueError(f"primary {self.primary!r} is not one of the indication's measures")
            if not self.primary_reason:
                raise ValueError("a primary measure needs primary_reason")
        elif not self.note:
            raise ValueError("an indication without a primary measure needs a note saying why")
        return self

    def threshold_for(self, measure_id: str) -> ResponseThreshold:
        for entry in self.measures:
            if entry.measure == measure_id:
                return entry.threshold
        raise LookupError(f"measure {measure_id!r} is not used for {self.indication}")

    @property
    def measure_ids(self) -> list[str]:
        return [m.measure for m in self.measures]


class CourseRules(_Strict):
    """Course-level rules of the response review."""

    no_improvement_review_after_cycles: Fact[int]
    review_interval_days: Fact[int]


class OutcomesFile(_Strict):
    course_rules: CourseRules
    measures: list[Measure]
    indications: list[IndicationOutcomes]

    def measure(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise LookupError(f"no outcome measure {measure_id!r}")

    def for_indication(self, indication_id: str) -> IndicationOutcomes:
        for entry in self.indications:
            if entry.indication == indication_id:
                return entry
        raise LookupError(f"no outcome entry for indication {indication_id!r}")


# --- payer policies for prior authorisation (payers.yaml) ------------------------------------------

RequirementKind = Literal[
    "diagnosis_code",
    "verified_plan",
    "prescriber_npi",
    "specialist_prescriber",
    "outcome_measure",
    "document",
    "prior_therapy",
    "attestation",
]
SiteOfCareRule = Literal["facility", "home", "either", "non_hospital_after_start"]


class Requirement(_Strict):
    """One item a payer needs in a prior-authorisation packet, and how igflow checks it on the chart."""

    id: str = Field(min_length=1)
    kind: RequirementKind
    label: str = Field(min_length=1)
    codes: list[str] = Field(default_factory=list)  # diagnosis_code: one of these ICD-10 prefixes
    specialties: list[str] = Field(default_factory=list)  # specialist_prescriber
    measure: str | None = None  # outcome_measure: a catalog measure id
    within_days: int | None = Field(default=None, ge=1)  # outcome_measure: how recent
    document: str | None = None  # document: a document category id
    therapies: list[str] = Field(default_factory=list)  # prior_therapy: any of these (empty: any)

    @model_validator(mode="after")
    def _complete(self) -> Requirement:
        if self.kind == "outcome_measure" and not self.measure:
            raise ValueError(f"requirement {self.id}: an outcome_measure requirement names its measure")
        if self.kind == "document" and not self.document:
            raise ValueError(f"requirement {self.id}: a document requirement names its category")
        if self.kind == "specialist_prescriber" and not self.specialties:
            raise ValueError(f"requirement {self.id}: a specialist requirement names the specialties")
        return self


class PolicyIndication(_SourcedText):
    """What a payer policy needs for one indication."""

    indication: str = Field(min_length=1)
    requirements: list[Requirement] = Field(min_length=1)


class NotCovered(_SourcedText):
    indication: str = Field(min_length=1)


class PayerPolicy(_Strict):
    """A payer's medical policy for immunoglobulin, as far as the sources say."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    verified: bool = True
    note: str | None = None
    precertification_required: Fact[bool]
    initial_period_days: Fact[int]
    continuation_period_days: Fact[int]
    site_of_care: Fact[SiteOfCareRule]
    preferred_products: Fact[list[str]]
    continuation_requires_response: Fact[bool]
    not_covered_indications: list[NotCovered] = Field(default_factory=list)
    default_requirements: list[Requirement] = Field(min_length=1)
    indications: list[PolicyIndication] = Field(default_factory=list)

    def requirements_for(self, indication_id: str) -> list[Requirement]:
        for entry in self.indications:
            if entry.indication == indication_id:
                return list(entry.requirements)
        return list(self.default_requirements)

    def not_covered(self, indication_id: str) -> NotCovered | None:
        return next((n for n in self.not_covered_indications if n.indication == indication_id), None)


class TimeFrames(_Strict):
    standard_days: Fact[int]
    expedited_hours: Fact[int]
    covers: str = Field(min_length=1)
    uncovered_payers: str = Field(min_length=1)


class Reauthorisation(_Strict):
    lead_days: Fact[int]


class DocumentCategory(_Strict):
    id: str = Field(min_length=1)
    label: str = Field(min_length=1)


class PayersFile(_Strict):
    time_frames: TimeFrames
    reauthorisation: Reauthorisation
    document_categories: list[DocumentCategory] = Field(min_length=1)
    policies: list[PayerPolicy] = Field(min_length=1)

    def policy(self, policy_id: str) -> PayerPolicy:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise LookupError(f"no payer policy {policy_id!r}")

    def category_label(self, category_id: str) -> str:
        return next((c.label for c in self.document_categories if c.id == category_id), category_id)


# --- subcutaneous immunoglobulin (scig.yaml) --------------------------------------------------------


class SiteLimits(_Strict):
    volume_per_site_ml: float = Field(gt=0)
    rate_per_site_ml_per_h: float = Field(gt=0)


class ScigBand(_SourcedText):
    """Per-site limits from ``min_weight_kg`` and ``min_age_years`` (the planner takes the first fit)."""

    min_weight_kg: float = Field(ge=0)
    min_age_years: float = Field(ge=0)
    first: SiteLimits
    later: SiteLimits
    total_rate_ml_per_h: float | None = Field(default=None, gt=0)


class TroughWindow(_Strict):
    """A time from the label, in the label's own unit (``low`` to ``high``; equal for one figure)."""

    low: float = Field(gt=0)
    high: float = Field(gt=0)
    unit: Literal["weeks", "months"]

    @model_validator(mode="after")
    def _ordered(self) -> TroughWindow:
        if self.low > self.high:
            raise ValueError("low must not be above high")
        return self


class TroughTarget(_Strict):
    """An IgG trough target (g/L): the minimum, and the aim where the source gives a second figure.
    ``applies_to`` names the label the figures are from (which may not be the product's US label)."""

    minimum_g_per_l: float = Field(gt=0)
    aim_g_per_l: float | None = Field(default=None, gt=0)
    applies_to: str = Field(min_length=1)


class TroughAdjustmentRow(_SourcedText):
    """One cell of a label's trough-gap table: at this gap below target and this body weight, change the
    dose by ``change_ml`` (per week, or ``per`` None where the source does not say per what)."""

    gap_mg_per_dl: float = Field(gt=0)
    weight_kg: float = Field(gt=0)
    change_ml: float
    per: Literal["week"] | None = None


class ScigTrough(_Strict):
    """Trough monitoring from the label: when to measure, the target, the dose-adjustment table's rows
    (only the rows the sources give; igflow never interpolates between them)."""

    first_measure: Fact[TroughWindow]
    repeat_every: Fact[TroughWindow]
    target: Fact[TroughTarget]
    adjustment_rows: Fact[list[TroughAdjustmentRow]]
    no_change_below_gap_mg_per_dl: Fact[float]


class ScigProduct(_Strict):
    product: str = Field(min_length=1)
    indication_scope: str = Field(min_length=1)
    #: The indications the label's IV-to-SC switch is given for (another indication is not planned).
    conversion_indications: Fact[list[str]]
    conversion_factor: Fact[float]
    interval_days: Fact[tuple[int, int]]
    max_sites: Fact[int]
    total_rate_ml_per_h: Fact[float]
    first_infusions: Fact[int]
    bands: list[ScigBand] = Field(min_length=1)
    trough: ScigTrough


class HyqviaBand(_SourcedText):
    min_weight_kg: float = Field(ge=0)
    min_age_years: float = Field(ge=0)
    volume_per_site_ml: float = Field(gt=0)
    volume_per_site_3_sites_ml: float = Field(gt=0)
    max_volume_per_day_ml: float = Field(gt=0)


class Hyqvia(_Strict):
    """HyQvia: the same dose and interval as IVIG after a ramp-up of 1-week, 2-week, ... doses."""

    product: str = Field(min_length=1)
    conversion_indications: Fact[list[str]]
    conversion_factor: Fact[float]
    interval_weeks: Fact[tuple[int, int]]
    ramp_up: Fact[list[int]]  # the week of each step: the k-week dose is given in week ramp_up[k-1]
    max_sites: Fact[int]
    bands: list[HyqviaBand] = Field(min_length=1)
    rate: Fact[float]
    trough: ScigTrough


class ScigTrainingVisit(_Strict):
    """The nurse's SCIG training visit: the minutes teaching adds to set-up, infusion and observation."""

    teaching_min: Fact[int]


class ScigFile(_Strict):
    products: list[ScigProduct] = Field(min_length=1)
    hyqvia: Hyqvia
    training_visit: ScigTrainingVisit

    def for_product(self, product_id: str) -> ScigProduct:
        for entry in self.products:
            if entry.product == product_id:
                return entry
        raise LookupError(f"no SCIG entry for product {product_id!r}")

    def trough_for(self, product_id: str) -> ScigTrough:
        """The product's trough monitoring (HyQvia's included); LookupError for a product without one."""
        if product_id == self.hyqvia.product:
            return self.hyqvia.trough
        return self.for_product(product_id).trough


# --- home therapy (home.yaml) ------------------------------------------------------------------------


class FirstDoseAtHome(_Strict):
    allowed: Fact[bool]
    nurse_skill: str


class ReactionAtHome(_Strict):
    centre_from_grade: Fact[int]


class ScigTraining(_Strict):
    supervised_infusions: Fact[int]
    check_visit_every_weeks: Fact[int]


class HomeVisits(_Strict):
    start_window_min: Fact[tuple[int, int]]


class HomeTravel(_Strict):
    speed_km_per_h: Fact[float]
    detour_factor: Fact[float]
    fixed_min_per_leg: Fact[int]


class HomeCandidates(_Strict):
    stable_after_cycles: Fact[int]


class HomeFile(_Strict):
    """Home therapy: the first-dose and reaction rules (with sources), and operational defaults."""

    first_dose_at_home: FirstDoseAtHome
    reaction_at_home: ReactionAtHome
    scig_training: ScigTraining
    visits: HomeVisits
    travel: HomeTravel
    candidates: HomeCandidates
