"""The symptom diary's triage rules (issue 13), each tested on its own, from the catalog's data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igflow.clinical.triage import TriageCatalog, TriageInputError, evaluate, triage_catalog

CATALOG = triage_catalog()
ORDER = [lv.id for lv in CATALOG.levels]


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_each_rule_on_its_own_gives_its_level(rule) -> None:  # type: ignore[no-untyped-def]
    answers = {q: allowed[0] for q, allowed in rule.when.items()}
    triage = evaluate(answers)
    assert triage.level.id == rule.level
    assert [r.id for r in triage.matched] == [rule.id]
    assert rule.source and triage.level.source


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({}, "none"),
        ({"headache": "mild"}, "none"),
        ({"headache": "moderate"}, "tell_team"),
        ({"headache": "severe", "stiff_neck": "yes"}, "call_now"),
        ({"rash": "yes", "breathless": "yes"}, "emergency"),
        ({"dark_urine": "yes", "rash": "yes"}, "call_now"),
        ({"chest_pain": "yes"}, "emergency"),
    ],
)
def test_the_most_urgent_matching_level_wins(answers: dict[str, str], level: str) -> None:
    assert evaluate(answers).level.id == level


def test_red_flags_open_an_urgent_task_and_the_rest_do_not() -> None:
    assert evaluate({"fever": "yes"}).red_flag
    assert not evaluate({"rash": "yes"}).red_flag
    assert not evaluate({}).red_flag


def test_an_unknown_question_or_answer_is_an_error_never_a_silent_no() -> None:
    with pytest.raises(TriageInputError, match="not a question"):
        evaluate({"dizzy": "yes"})
    with pytest.raises(TriageInputError, match="answer one of"):
        evaluate({"chest_pain": "maybe"})


answer_sets = st.fixed_dictionaries({q.id: st.sampled_from(q.answers) for q in CATALOG.questions})


@given(answer_sets, st.sampled_from(CATALOG.questions))
def test_a_worse_answer_never_makes_it_less_urgent(answers: dict[str, str], question) -> None:  # type: ignore[no-untyped-def]
    before = ORDER.index(evaluate(answers).level.id)
    worse = {**answers, question.id: question.answers[-1]}
    assert ORDER.index(evaluate(worse).level.id) <= before


def test_the_catalog_refuses_a_rule_on_an_unknown_question() -> None:
    data = CATALOG.model_dump()
    data["rules"][0]["when"] = {"no_such_question": ["yes"]}
    with pytest.raises(ValueError, match="unknown question"):
        TriageCatalog.model_validate(data)


def test_the_diary_window_has_a_source() -> None:
    assert CATALOG.window_hours.value == 72 and "issue 13" in CATALOG.window_hours.source
