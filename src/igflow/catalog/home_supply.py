"""Models of ``home_supply.yaml``: deliveries to a patient's home, their cold chain, and the patient's own
log of self-infusions (the plain-word reaction answers and the follow-up rules).

Operational figures are facts with their source (an igflow default says so). A patient's plain-word
answer stands for a grade of the chair's reaction scale (``infusion_day.yaml``); :func:`check` cross-checks
that against the rest of the catalog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from igflow.catalog.models import Fact, _Strict

if TYPE_CHECKING:
    from igflow.catalog.loader import Catalog


class SupplyDeliveries(_Strict):
    shipping_lead_days: Fact[int]
    due_horizon_days: Fact[int]


class ColdChain(_Strict):
    freezing_c: Fact[float]


class ReactionAnswer(_Strict):
    """One answer a patient may give about a reaction, in plain words, and the grade it stands for."""

    id: str = Field(min_length=1)
    grade: int = Field(ge=0, le=4)
    words: str = Field(min_length=1)
    source: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> ReactionAnswer:
        if self.grade > 0 and not self.source:
            raise ValueError("an answer standing for a reaction grade needs the source of that grade")
        return self


class SelfSymptom(_Strict):
    """A symptom in the patient's words; ``chart_symptom`` is the chair's symptom id it is, if any."""

    id: str = Field(min_length=1)
    words: str = Field(min_length=1)
    chart_symptom: str | None = None


class SelfInfusionRules(_Strict):
    missed_grace_days: Fact[int]
    short_tolerance_percent: Fact[float]
    follow_up_from_grade: Fact[int]
    reaction_answers: list[ReactionAnswer] = Field(min_length=2)
    symptoms: list[SelfSymptom] = Field(min_length=1)

    @model_validator(mode="after")
    def _answers(self) -> SelfInfusionRules:
        ids = [a.id for a in self.reaction_answers]
        if len(set(ids)) != len(ids):
            raise ValueError("reaction answer ids must be unique")
        if [a.grade for a in self.reaction_answers] != sorted({a.grade for a in self.reaction_answers}):
            raise ValueError("reaction answers must list each grade once, from no reaction upwards")
        if self.reaction_answers[0].grade != 0:
            raise ValueError("the first reaction answer must be 'no reaction' (grade 0)")
        symptom_ids = [s.id for s in self.symptoms]
        if len(set(symptom_ids)) != len(symptom_ids):
            raise ValueError("symptom ids must be unique")
        return self

    def answer(self, answer_id: str) -> ReactionAnswer | None:
        return next((a for a in self.reaction_answers if a.id == answer_id), None)


class HomeSupplyFile(_Strict):
    """Deliveries, cold chain and the self-infusion log: operational defaults and the patient's words."""

    deliveries: SupplyDeliveries
    cold_chain: ColdChain
    self_infusion: SelfInfusionRules

    @model_validator(mode="after")
    def _known(self) -> HomeSupplyFile:
        facts: dict[str, Fact[Any]] = {
            "deliveries.shipping_lead_days": self.deliveries.shipping_lead_days,
            "deliveries.due_horizon_days": self.deliveries.due_horizon_days,
            "cold_chain.freezing_c": self.cold_chain.freezing_c,
            "self_infusion.missed_grace_days": self.self_infusion.missed_grace_days,
            "self_infusion.short_tolerance_percent": self.self_infusion.short_tolerance_percent,
            "self_infusion.follow_up_from_grade": self.self_infusion.follow_up_from_grade,
        }
        unknown = [name for name, fact in facts.items() if fact.value is None]
        if unknown:
            raise ValueError(f"operational settings need a value (a default, said so): {', '.join(unknown)}")
        return self


def check(catalog: Catalog, problems: list[str]) -> None:
    """Cross-file checks: symptoms name the chair's symptoms; grades lie on the chair's reaction scale."""
    supply = catalog.home_supply
    chart = {item.id for item in catalog.infusion_day.symptoms}
    for symptom in supply.self_infusion.symptoms:
        if symptom.chart_symptom is not None and symptom.chart_symptom not in chart:
            problems.append(
                f"home_supply: symptom {symptom.id!r} names {symptom.chart_symptom!r}, not a chair symptom"
            )
    scale = {g.grade for g in catalog.infusion_day.reaction_scale.grades}
    for answer in supply.self_infusion.reaction_answers:
        if answer.grade and answer.grade not in scale:
            problems.append(f"home_supply: answer {answer.id!r} has grade {answer.grade}, not on the scale")
    threshold = supply.self_infusion.follow_up_from_grade.value
    if threshold is not None and threshold not in scale:
        problems.append(f"home_supply: follow_up_from_grade {threshold} is not a grade of the scale")
