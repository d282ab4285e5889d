"""Every status field is a declared state machine: its states are the column's CHECK constraint, every
move outside the table is a 409 naming the current state in words, and docs/state-machines.md is the
table as the code has it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import igflow.app  # noqa: F401  (declares every machine)
from igflow.errors import Conflict
from igflow.infusions.schemas import PAYLOADS
from igflow.infusions.service import KINDS
from igflow.statemachine import MACHINES, StateMachine, describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "state-machines.md"


def _check_states(machine: StateMachine) -> set[str]:
    for constraint in machine.model.__table__.constraints:
        text = str(getattr(constraint, "sqltext", ""))
        if re.match(rf"\s*{machine.column}\s+in\s*\(", text):
            return set(re.findall(r"'([^']+)'", text))
    raise AssertionError(f"{machine.name}: no CHECK constraint lists the {machine.column} values")


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_each_machine_has_exactly_the_states_the_database_allows(name: str) -> None:
    machine = MACHINES[name]
    assert _check_states(machine) == set(machine.states)


def test_the_machines_cover_the_status_fields() -> None:
    assert {"referral", "infusion_record", "work_task"} <= set(MACHINES)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[StateMachine, str, str]:
    machine = MACHINES[draw(st.sampled_from(sorted(MACHINES)))]
    states = sorted(machine.states)
    return machine, draw(st.sampled_from(states)), draw(st.sampled_from(states))


@given(_pairs())
def test_a_move_outside_the_table_is_a_409_that_names_the_state(pair: tuple[StateMachine, str, str]) -> None:
    machine, current, to = pair
    if to in machine.allowed(current):
        machine.check(current, to)
        return
    with pytest.raises(Conflict) as caught:
        machine.check(current, to)
    assert caught.value.status_code == 409
    assert machine.label(current) in caught.value.message
    assert "_" not in caught.value.message.split(": ", 1)[1]  # words, not internal codes


def test_the_state_machine_document_is_the_code() -> None:
    assert DOC.read_text() == describe(), "regenerate: python -m igflow.statemachine > docs/state-machines.md"


def test_every_chart_entry_kind_has_a_handler() -> None:
    assert set(KINDS) == set(PAYLOADS)
