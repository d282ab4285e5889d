"""Triage of a patient's symptom diary after an infusion: answers -> what to do now. Pure.

The rules, levels and words are catalog data (``catalog/data/triage.yaml``) with their sources; this module
only reads them: a rule matches when every question it names has one of its answers; the most urgent
matching level wins (the levels are listed most urgent first). An answer the catalog does not list, or a
question it does not know, is an error, never a silent "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _in(locale: str, english: str, spanish: str) -> str:
    """The text in the reader's language: Spanish for "es", English otherwise."""
    return spanish if locale == "es" else english


class Sourced(_Strict):
    value: int
    source: str = Field(min_length=10)


class Level(_Strict):
    id: str
    words: str
    patient_text: str
    # Spanish (issue 13): required, so a level without its Spanish fails the catalog check
    words_es: str = Field(min_length=1)
    patient_text_es: str = Field(min_length=1)
    source_es: str = Field(min_length=10)
    nurse_task: Literal["urgent", "within_a_day", "none"]
    source: str = Field(min_length=10)

    def words_in(self, locale: str) -> str:
        return _in(locale, self.words, self.words_es)

    def patient_text_in(self, locale: str) -> str:
        return _in(locale, self.patient_text, self.patient_text_es)


class Question(_Strict):
    id: str
    text: str
    text_es: str = Field(min_length=1)
    answers: list[str] = Field(min_length=2)
    source_es: str = Field(min_length=10)

    def text_in(self, locale: str) -> str:
        return _in(locale, self.text, self.text_es)


class Rule(_Strict):
    id: str
    when: dict[str, list[str]] = Field(min_length=1)
    level: str
    meaning: str
    meaning_es: str = Field(min_length=1)
    source_es: str = Field(min_length=10)
    source: str = Field(min_length=10)

    def meaning_in(self, locale: str) -> str:
        return _in(locale, self.meaning, self.meaning_es)


class TriageCatalog(_Strict):
    verified: bool
    translation_source: str = Field(min_length=10)  # where the Spanish texts come from (igflow's own)
    label_source: str
    window_hours: Sourced
    levels: list[Level] = Field(min_length=2)
    questions: list[Question] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TriageCatalog:
        levels = {lv.id for lv in self.levels}
        if self.levels[-1].nurse_task != "none":
            raise ValueError("the last (least urgent) level must open no nurse task")
        questions = {q.id: q for q in self.questions}
        for rule in self.rules:
            if rule.level not in levels:
                raise ValueError(f"rule {rule.id}: unknown level {rule.level}")
            for qid, answers in rule.when.items():
                if qid not in questions:
                    raise ValueError(f"rule {rule.id}: unknown question {qid}")
                unknown = set(answers) - set(questions[qid].answers)
                if unknown:
                    raise ValueError(f"rule {rule.id}: {qid} has no answer {sorted(unknown)}")
        return self

    def level(self, level_id: str) -> Level:
        return next(lv for lv in self.levels if lv.id == level_id)


@lru_cache(maxsize=1)
def triage_catalog() -> TriageCatalog:
    text = resources.files("igflow.catalog").joinpath("data/triage.yaml").read_text(encoding="utf-8")
    return TriageCatalog.model_validate(yaml.safe_load(text))


class TriageInputError(ValueError):
    def __init__(self, question: str, message: str) -> None:
        super().__init__(message)
        self.question = question


@dataclass(frozen=True)
class Triage:
    level: Level
    matched: tuple[Rule, ...]  # most urgent first

    @property
    def red_flag(self) -> bool:
        return self.level.nurse_task == "urgent"


def evaluate(answers: dict[str, str], catalog: TriageCatalog | None = None) -> Triage:
    """The level for these answers; a question left out counts as its first answer ("no", "none")."""
    catalog = catalog or triage_catalog()
    questions = {q.id: q for q in catalog.questions}
    for qid, answer in answers.items():
        if qid not in questions:
            raise TriageInputError(qid, f"{qid}: not a question of the symptom diary")
        if answer not in questions[qid].answers:
            raise TriageInputError(qid, f"{qid}: answer one of {', '.join(questions[qid].answers)}")
    given = {qid: answers.get(qid, q.answers[0]) for qid, q in questions.items()}
    order = {lv.id: i for i, lv in enumerate(catalog.levels)}
    matched = sorted(
        (r for r in catalog.rules if all(given[q] in allowed for q, allowed in r.when.items())),
        key=lambda r: order[r.level],
    )
    level = catalog.level(matched[0].level) if matched else catalog.levels[-1]
    return Triage(level=level, matched=tuple(matched))
