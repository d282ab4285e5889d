"""The routing run's status as a state machine (:mod:`igflow.statemachine`): a draft until a scheduler
publishes it (its routes become the nurses' visits) or discards it."""

from __future__ import annotations

from igflow.home.models import RoutingRun
from igflow.statemachine import StateMachine

ROUTING_RUN = StateMachine(
    "routing_run",
    RoutingRun,
    {
        "draft": frozenset({"published", "discarded"}),
        "published": frozenset(),
        "discarded": frozenset(),
    },
    labels={"draft": "a draft"},
)
