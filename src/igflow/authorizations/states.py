"""The prior-authorisation request's status as a state machine (:mod:`igflow.statemachine`).

* A request is a **draft** while its packet is assembled; it becomes **ready** when the packet is complete
  against the payer policy (and falls back to draft if the chart changes so that an item is missing).
* **submitted** starts the payer's clock (CMS-0057-F due date where it applies). The payer may **pend** it
  for information; sending the information submits it again.
* The payer **approves**, **partially approves** (fewer infusions, grams or a shorter period than asked) or
  **denies** it. A denial or a partial approval may be **appealed**; the appeal is **approved** or
  **denied**.
* A request not yet decided may be **withdrawn** (the order stopped, the wrong payer).

An approved authorisation expires on its end date: that is a date, not a move, so no job has to run for an
authorisation to stop covering bookings; re-authorisation is a new request that names this one.
"""

from __future__ import annotations

from igflow.authorizations.models import PriorAuthRequest
from igflow.statemachine import StateMachine

PRIOR_AUTH = StateMachine(
    "prior_auth_request",
    PriorAuthRequest,
    {
        "draft": frozenset({"ready", "withdrawn"}),
        "ready": frozenset({"draft", "submitted", "withdrawn"}),
        "submitted": frozenset({"pended", "approved", "partially_approved", "denied", "withdrawn"}),
        "pended": frozenset({"submitted", "approved", "partially_approved", "denied", "withdrawn"}),
        "approved": frozenset(),
        "partially_approved": frozenset({"appeal_submitted"}),
        "denied": frozenset({"appeal_submitted"}),
        "appeal_submitted": frozenset({"appeal_approved", "appeal_denied"}),
        "appeal_approved": frozenset(),
        "appeal_denied": frozenset(),
        "withdrawn": frozenset(),
    },
    labels={
        "ready": "ready to submit",
        "pended": "pended for information",
        "appeal_submitted": "under appeal",
        "appeal_approved": "approved on appeal",
        "appeal_denied": "denied on appeal",
    },
    noun="the prior-authorisation request",
)
