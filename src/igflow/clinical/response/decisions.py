"""Decisions: the prescriber's ``Decision`` after a review and what each ``DecisionKind`` means next.

A decision (continue, change dose or interval, switch product, trial off, stop) needs a reason and,
for a change, exactly its new value; ``NEXT_STEPS`` (a ``NextStep`` per kind) says what it means for
the next order (``NextOrder``) and the next (re-)authorisation request (``Reauthorisation``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from igflow.clinical.response.course import REVIEW_REASONS
from igflow.clinical.response.values import ResponseInputError, _plain_date


class DecisionKind(StrEnum):
    CONTINUE = "continue"
    CHANGE_DOSE = "change_dose"
    CHANGE_INTERVAL = "change_interval"
    SWITCH_PRODUCT = "switch_product"
    TRIAL_OFF = "trial_off"
    STOP = "stop"


NextOrder = Literal["same_plan", "new_plan_version", "none"]
Reauthorisation = Literal["continuing_request", "change_request", "not_requested"]


@dataclass(frozen=True)
class NextStep:
    """What a decision means downstream: the next order and the next (re-)authorisation request."""

    continues_therapy: bool
    next_order: NextOrder
    reauthorisation: Reauthorisation
    text: str


NEXT_STEPS: dict[DecisionKind, NextStep] = {
    DecisionKind.CONTINUE: NextStep(
        True, "same_plan", "continuing_request", "Continue: next order on the same plan; continuing request."
    ),
    DecisionKind.CHANGE_DOSE: NextStep(
        True, "new_plan_version", "change_request", "Change dose: new plan version; dose change request."
    ),
    DecisionKind.CHANGE_INTERVAL: NextStep(
        True, "new_plan_version", "change_request", "Change interval: new plan version; change request."
    ),
    DecisionKind.SWITCH_PRODUCT: NextStep(
        True,
        "new_plan_version",
        "change_request",
        "Switch product: new plan version; product change request.",
    ),
    DecisionKind.TRIAL_OFF: NextStep(
        False, "none", "not_requested", "Trial off: no next order; watch for relapse and record readings."
    ),
    DecisionKind.STOP: NextStep(False, "none", "not_requested", "Stop: no next order; no re-authorisation."),
}

#: The decision field each kind needs; the other change fields must stay empty (one change per decision).
_CHANGE_FIELD: dict[DecisionKind, str] = {
    DecisionKind.CHANGE_DOSE: "new_dose_g_per_kg",
    DecisionKind.CHANGE_INTERVAL: "new_interval_days",
    DecisionKind.SWITCH_PRODUCT: "new_product_id",
}
_CHANGE_FIELDS = ("new_dose_g_per_kg", "new_interval_days", "new_product_id")


@dataclass(frozen=True)
class Decision:
    """The prescriber's decision after a review, with a required reason.

    A change of dose, interval or product carries the new value (``new_dose_g_per_kg``,
    ``new_interval_days``, ``new_product_id``); the dose engine checks a new dose against the
    indication's regimen when the next plan is made, so no clinical range is checked here.
    """

    kind: DecisionKind
    reason: str
    decided_on: date
    new_dose_g_per_kg: float | None = None
    new_interval_days: int | None = None
    new_product_id: str | None = None
    review_reason: str | None = field(default=None)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DecisionKind(self.kind))
        except ValueError as exc:
            kinds = ", ".join(k.value for k in DecisionKind)
            raise ResponseInputError("kind", f"{self.kind!r} is not one of {kinds}") from exc
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ResponseInputError("reason", "a decision needs a reason")
        _plain_date("decided_on", self.decided_on)
        if self.review_reason is not None and self.review_reason not in REVIEW_REASONS:
            raise ResponseInputError("review_reason", f"{self.review_reason!r} is not a review reason code")
        needed = _CHANGE_FIELD.get(self.kind)
        for name in _CHANGE_FIELDS:
            value = getattr(self, name)
            if name == needed and value is None:
                raise ResponseInputError(name, f"{self.kind.value} needs {name}")
            if name != needed and value is not None:
                raise ResponseInputError(name, f"{self.kind.value} takes no {name} (one change per decision)")
        self._check_change_value()

    def _check_change_value(self) -> None:
        dose, interval, product = self.new_dose_g_per_kg, self.new_interval_days, self.new_product_id
        if dose is not None and (
            isinstance(dose, bool)
            or not isinstance(dose, int | float)
            or not math.isfinite(dose)
            or dose <= 0
        ):
            raise ResponseInputError("new_dose_g_per_kg", f"must be a positive number of g/kg, got {dose!r}")
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int) or interval < 1
        ):
            raise ResponseInputError(
                "new_interval_days", f"must be a whole number of days >= 1, got {interval!r}"
            )
        if product is not None and (not isinstance(product, str) or not product.strip()):
            raise ResponseInputError("new_product_id", "must name the product")

    @property
    def next_step(self) -> NextStep:
        return NEXT_STEPS[self.kind]
