"""Typed inputs and outputs of the dose engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from igflow.clinical.alerts import Alert

Sex = Literal["female", "male"]


@dataclass(frozen=True)
class DoseRequest:
    """One dose question: an order (indication, phase, product) and the patient facts it needs.

    ``policy``, ``dose_g_per_kg`` and ``days`` default to the catalog's default policy and the
    regimen's usual dose and split. ``risks`` are catalog risk ids (see ``Catalog.risk_ids()``).
    """

    indication: str
    phase: str
    product: str
    weight_kg: float
    height_cm: float
    sex: str
    age_years: float
    policy: str | None = None
    dose_g_per_kg: float | None = None
    days: int | None = None
    first_infusion: bool = False
    risks: tuple[str, ...] = ()
    iga_deficient_with_antibodies: bool = False
    pregnant: bool = False
    override_reason: str | None = None
    #: Highest CTCAE grade of an infusion reaction on the patient's chart (None: none recorded).
    prior_reaction_grade: int | None = None
    #: Days since the latest serum creatinine (None: none on record or not given).
    creatinine_age_days: int | None = None
    #: At-risk maximum rate entered by the verifying pharmacist for this patient, with the reason.
    pharmacist_max_rate_mg_per_kg_min: float | None = None
    pharmacist_reason: str | None = None
    #: For policies that dose a pregnant patient on her weight before pregnancy.
    pre_pregnancy_weight_kg: float | None = None


@dataclass(frozen=True)
class WeightResult:
    bmi: float
    ideal_weight_kg: float | None
    dosing_weight_kg: float
    weight_basis: Literal["actual", "adjusted"]
    reasoning: tuple[str, ...]
    fell_back_to_actual: bool = False
    #: What the policy's formula would give where it fell back to actual weight (None: not computable).
    formula_weight_kg: float | None = None


@dataclass(frozen=True)
class VialCount:
    size_g: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"size_g": _num(self.size_g), "count": self.count}


@dataclass(frozen=True)
class Step:
    start_min: float
    minutes: float
    rate_mg_per_kg_min: float
    rate_ml_per_h: float
    volume_ml: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_min": _num(self.start_min),
            "minutes": _num(self.minutes),
            "rate_mg_per_kg_min": self.rate_mg_per_kg_min,
            "rate_ml_per_h": self.rate_ml_per_h,
            "volume_ml": self.volume_ml,
        }


@dataclass(frozen=True)
class DayPlan:
    day: int
    prescribed_g: float
    dispensed_g: float
    vials: tuple[VialCount, ...]
    volume_ml: float
    steps: tuple[Step, ...] = ()
    infusion_min: float | None = None
    chair_min: float | None = None
    setup_min: int | None = None
    observation_min: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "prescribed_g": self.prescribed_g,
            "dispensed_g": self.dispensed_g,
            "vials": [vial.to_dict() for vial in self.vials],
            "volume_ml": self.volume_ml,
            "infusion_min": None if self.infusion_min is None else _num(self.infusion_min),
            "chair_min": None if self.chair_min is None else _num(self.chair_min),
            "setup_min": self.setup_min,
            "observation_min": self.observation_min,
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class DosePlan:
    """The engine's answer. ``to_contract_dict()`` gives the JSON of shared/contracts/dose.md."""

    indication: str
    phase: str
    product: str
    policy: str
    weight_kg: float
    height_cm: float
    bmi: float
    ideal_weight_kg: float | None
    dosing_weight_kg: float
    weight_basis: str
    weight_reasoning: tuple[str, ...]
    dose_g_per_kg: float | None
    prescribed_g: float | None
    dispensed_g: float | None
    concentration_g_per_ml: float | None
    rate_weight_kg: float
    days: tuple[DayPlan, ...]
    alerts: tuple[Alert, ...]
    sources: tuple[str, ...]
    max_course_g: float | None = None
    priority: int | None = None
    first_infusion: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hard_stopped(self) -> bool:
        return any(alert.severity == "hard_stop" for alert in self.alerts)

    @property
    def alert_codes(self) -> list[str]:
        return [alert.code for alert in self.alerts]

    @property
    def total_volume_ml(self) -> float:
        return round(sum(day.volume_ml for day in self.days), 1)

    def to_contract_dict(self) -> dict[str, Any]:
        difference = (
            None
            if self.dispensed_g is None or self.prescribed_g is None
            else round(self.dispensed_g - self.prescribed_g, 2)
        )
        return {
            "indication": self.indication,
            "phase": self.phase,
            "product": self.product,
            "policy": self.policy,
            "status": "hard_stop" if self.hard_stopped else "ok",
            "weight_kg": self.weight_kg,
            "height_cm": self.height_cm,
            "bmi": self.bmi,
            "ideal_weight_kg": self.ideal_weight_kg,
            "dosing_weight_kg": self.dosing_weight_kg,
            "weight_basis": self.weight_basis,
            "weight_reasoning": list(self.weight_reasoning),
            "dose_g_per_kg": self.dose_g_per_kg,
            "prescribed_g": self.prescribed_g,
            "dispensed_g": self.dispensed_g,
            "difference_g": difference,
            "max_course_g": self.max_course_g,
            "concentration_g_per_ml": self.concentration_g_per_ml,
            "rate_weight_kg": self.rate_weight_kg,
            "total_volume_ml": self.total_volume_ml,
            "priority": self.priority,
            "first_infusion": self.first_infusion,
            "days": [day.to_dict() for day in self.days],
            "alerts": [alert.to_dict() for alert in self.alerts],
            "sources": list(self.sources),
            **self.extra,
        }


def _num(value: float) -> float | int:
    """Whole numbers print as integers (20 rather than 20.0), others as given."""
    return int(value) if float(value).is_integer() else value
