"""Use cases of the outcomes capability: readings, an order's response, review tasks, decisions.

Readings are entered by the nurse at the chair (before the infusion), the prescriber at a review, or on the
patient's word (patient-reported); each is validated against the catalog's scale by the pure core
(``igflow.clinical.response.validate_value``) and is append-only: a correction is a new reading that names
the one it amends and says why.

An order's response (``response``) is the pure core's ``evaluate_course`` over the order's cycles:

- A cycle is one course of the order. It is completed when every day (session) of the course has a signed
  infusion record; it started on the first of those days and completed on the last.
- A reading belongs to the cycles completed before its date: a reading dated on an infusion day counts as
  taken before that day's infusion (the nurse records it at the chair first). The baseline (cycle 0) is the
  latest reading on or before the order's first signed infusion; a reading taken while the first cycle was
  under way is neither baseline nor after a cycle and is left out. Of several readings for one cycle the
  latest counts. Readings of another order are left out; readings of no order count for every order.

Reading never writes (beyond its audit row). A review is raised by an explicit step, :func:`raise_reviews`,
called when a reading is added and when an infusion record is signed (``infusions.service``): when the
two-cycle rule says a review is due, one ``response_review`` work task opens in the prescriber queue per
order and reason (a unique key makes it idempotent); a review interval set by the prescriber's last
decision that has passed raises one too. A decision (``decide``) is recorded with its reason and closes the
order's open response-review tasks.

An IgG trough below the target of a patient's subcutaneous product opens a pharmacist's ``trough_review``
task with the label table's suggested change where the catalog has the row (``trough.review_trough``).
"""

from igflow.outcomes.service._common import (
    effective,
    indication_entry,
    measure,
    patient_indications,
    patient_measure_ids,
    rows_of,
)
from igflow.outcomes.service.decisions import decide
from igflow.outcomes.service.history import MeasureHistory, infusion_dates, patient_outcomes
from igflow.outcomes.service.readings import add_reading, list_readings, reading_outs
from igflow.outcomes.service.response import (
    Cycle,
    OrderResponse,
    completed_cycles,
    cycle_of,
    evaluate,
    first_infusion_date,
    response,
)
from igflow.outcomes.service.reviews import TASK_KIND, raise_reviews, review_after_signing
from igflow.outcomes.service.trough import TASK_KIND as TROUGH_TASK_KIND
from igflow.outcomes.service.trough import review_trough

__all__ = [
    "TASK_KIND",
    "TROUGH_TASK_KIND",
    "Cycle",
    "MeasureHistory",
    "OrderResponse",
    "add_reading",
    "completed_cycles",
    "cycle_of",
    "decide",
    "effective",
    "evaluate",
    "first_infusion_date",
    "indication_entry",
    "infusion_dates",
    "list_readings",
    "measure",
    "patient_indications",
    "patient_measure_ids",
    "patient_outcomes",
    "raise_reviews",
    "reading_outs",
    "response",
    "review_after_signing",
    "review_trough",
    "rows_of",
]
