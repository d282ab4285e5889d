"""Response evaluation and continuation review (PURE: no I/O, no database, no clock; dates are passed in).

Modules: ``values`` (reading validation and value types), ``measure`` (one measure against
baseline), ``course`` (the per-course summary, the two-cycle rule and ``review_due``) and
``decisions`` (``Decision`` / ``DecisionKind``). Import from this package, not from the modules.

What the outcomes service calls:

- ``validate_value(measure, value)``: a reading checked against the measure's sourced scale; the total.
- ``evaluate(measure, threshold, baseline, current)``: one measure against baseline: improved, stable,
  worse, not improved or cannot judge, with the change, the threshold used and its source.
- ``evaluate_course(outcomes, indication_id, readings, cycles_completed)``: every measure of the
  indication, and the "no meaningful improvement after two cycles" rule on the primary measure.
- ``review_due(last_review_date, interval_days, today)``: whether a review interval has passed.
- ``Decision`` / ``DecisionKind``: the prescriber's decision (continue, change dose or interval,
  switch product, trial off, stop) with its reason, and what it means for the next order.

Every threshold comes from the catalog (``outcomes.yaml``) with its source. Where the catalog holds
no threshold (``kind: unknown``) the answer is ``cannot_judge``: "no sourced threshold; the
prescriber decides" - never a guessed number. Values outside a sourced scale are refused with the
range named (``ResponseInputError``); nothing is clamped.

Statuses. ``stable`` needs a sourced worsening threshold as well as an improvement threshold: only
then is a small change known to be within both. Where the source gives an improvement threshold or
response levels only (MG Composite, TIS, ITP IWG), a value short of it is ``not_improved``: it is
neither called stable nor worse.

A reading's number is in the measure's unit (``Measure.unit``: points, kPa, x10^9/L, g/L ...); one
reading type serves every measure, so the unit travels with the measure and every result names it.
"""

from igflow.clinical.response.course import (
    REVIEW_REASONS,
    CourseOutcome,
    Reading,
    ResponseSummary,
    ReviewDue,
    evaluate_course,
    review_due,
)
from igflow.clinical.response.decisions import (
    NEXT_STEPS,
    Decision,
    DecisionKind,
    NextOrder,
    NextStep,
    Reauthorisation,
)
from igflow.clinical.response.measure import (
    CANNOT_JUDGE_TEXT,
    MeasureResponse,
    ResponseStatus,
    evaluate,
)
from igflow.clinical.response.values import (
    ResponseInputError,
    Score,
    validate_value,
)

__all__ = [
    "CANNOT_JUDGE_TEXT",
    "NEXT_STEPS",
    "REVIEW_REASONS",
    "CourseOutcome",
    "Decision",
    "DecisionKind",
    "MeasureResponse",
    "NextOrder",
    "NextStep",
    "Reading",
    "Reauthorisation",
    "ResponseInputError",
    "ResponseStatus",
    "ResponseSummary",
    "ReviewDue",
    "Score",
    "evaluate",
    "evaluate_course",
    "review_due",
    "validate_value",
]
