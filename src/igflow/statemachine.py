"""Every status field is a state machine: the allowed moves are a table, and a move is a compare-and-set.

A capability declares its machine once::

    REFERRAL = StateMachine("referral", Referral, {"new": {"in_review", "declined"}, ...}, labels={...})

and changes a status only through :meth:`StateMachine.move`, which

* refuses a move the table does not allow with a 409 that names the current state in words
  ("the referral is accepted and cannot become declined"), and
* writes ``UPDATE … SET status = :to WHERE id = :id AND status = :from`` in the caller's transaction, so of
  two concurrent requests that read the same state only one changes the row; the other gets a 409 ("the
  referral changed meanwhile: it is accepted now") and its transaction is rolled back by the caller.

Pure parts (:meth:`allowed`, :meth:`check`) take no session, so a page can ask which buttons to show.
``MACHINES`` lists every machine; ``tests/unit/test_state_machines.py`` checks each against its table's
CHECK constraint and walks every disallowed pair, and ``docs/state-machines.md`` is generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from igflow.errors import Conflict

MACHINES: dict[str, StateMachine] = {}


@dataclass(frozen=True)
class StateMachine:
    """The allowed moves of one status column (``column``) of one mapped class (``model``)."""

    name: str
    model: Any
    transitions: Mapping[str, frozenset[str]]
    labels: Mapping[str, str] = field(default_factory=dict)
    column: str = "status"
    #: what the row is called in messages ("the referral", "lot" …); defaults to "the <name>"
    noun: str = ""

    def __post_init__(self) -> None:
        table = {state: frozenset(nexts) for state, nexts in self.transitions.items()}
        unknown = {to for nexts in table.values() for to in nexts} - set(table)
        if unknown:
            raise ValueError(f"{self.name}: moves to states with no row of their own: {sorted(unknown)}")
        object.__setattr__(self, "transitions", table)
        object.__setattr__(self, "noun", self.noun or f"the {self.name.replace('_', ' ')}")
        if self.name in MACHINES and MACHINES[self.name] is not self:
            raise ValueError(f"two state machines are called {self.name!r}")
        MACHINES[self.name] = self

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self.transitions)

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset(s for s, nexts in self.transitions.items() if not nexts)

    def label(self, state: str) -> str:
        return self.labels.get(state, state.replace("_", " "))

    def allowed(self, current: str) -> frozenset[str]:
        return self.transitions.get(current, frozenset())

    def check(self, current: str, to: str, field_name: str | None = None) -> None:
        """409 unless ``current -> to`` is in the table."""
        if to in self.allowed(current):
            return
        if to == current:
            message = f"{self.noun} is already {self.label(current)}"
        elif not self.allowed(current):
            message = (
                f"{self.noun} is {self.label(current)}, which is final: it cannot become {self.label(to)}"
            )
        else:
            options = ", ".join(self.label(s) for s in sorted(self.allowed(current)))
            message = (
                f"{self.noun} is {self.label(current)} and cannot become {self.label(to)}; "
                f"from {self.label(current)} it can become {options}"
            )
        raise Conflict(f"{field_name or self.column}: {message}", field_name or self.column)

    def move(
        self,
        session: Session,
        obj: Any,
        to: str,
        *,
        expected: str | Iterable[str] | None = None,
        field_name: str | None = None,
        guards: Iterable[Any] = (),
        **values: Any,
    ) -> str:
        """Move ``obj`` to ``to`` (with any other column ``values``) by compare-and-set; returns the state
        it came from. ``expected`` narrows the states this use case starts from (a "release" only from
        quarantined), on top of the table; ``guards`` are further conditions the row must still meet
        (``Referral.version == 3``), and a row that no longer meets them is a concurrent change too."""
        current = getattr(obj, self.column)
        if expected is not None:
            starts = {expected} if isinstance(expected, str) else set(expected)
            if current not in starts:
                if to == current:
                    self.check(current, to, field_name)
                allowed_from = " or ".join(self.label(s) for s in sorted(starts))
                name = field_name or self.column
                raise Conflict(f"{name}: {self.noun} is {self.label(current)}, not {allowed_from}", name)
        self.check(current, to, field_name)
        session.flush()  # the object's other pending changes go first: the refresh below reloads it
        column = getattr(self.model, self.column)
        result = session.execute(
            update(self.model)
            .where(self.model.id == obj.id, column == current, *guards)
            .values({self.column: to, **values})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.refresh(obj)
            name = field_name or self.column
            raise Conflict(
                f"{name}: {self.noun} changed meanwhile: it is {self.label(getattr(obj, self.column))} "
                "now; reload and try again",
                name,
            )
        session.refresh(obj)
        return str(current)


def describe() -> str:
    """Markdown listing every machine's states and moves (``docs/state-machines.md``)."""
    import igflow.app  # noqa: F401  (imports every capability, and so declares every machine)

    lines = [
        "# State machines",
        "",
        "Generated from `igflow.statemachine.MACHINES` (`python -m igflow.statemachine`); a test keeps",
        "this file equal to the code. A move not listed is refused with 409 and a message naming the current",
        "state; a move is a compare-and-set, so of two concurrent requests from the same state one wins and",
        "the other gets 409.",
        "",
    ]
    for name in sorted(MACHINES):
        machine = MACHINES[name]
        lines += [f"## {name}", "", "| from | may become |", "|---|---|"]
        for state in machine.transitions:
            nexts = ", ".join(machine.label(s) for s in sorted(machine.allowed(state))) or "— (final)"
            lines.append(f"| {machine.label(state)} | {nexts} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # run as a script this file is ``__main__``; the capabilities register in ``igflow.statemachine``
    from igflow.statemachine import describe as _describe

    print(_describe(), end="")
