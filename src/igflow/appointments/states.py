"""The status fields of the appointments capability as state machines (:mod:`igflow.statemachine`).

Every status change in the appointments service goes through one of these: a move the table does not list
is a 409 naming the current state, and a move is a compare-and-set, so of two concurrent requests from
the same state one wins and the other gets a 409 (and releases no capacity).

The moves, as the code makes them:

* a course is booked from waiting once every one of its days has a place (a booking or a published
  planning run), and goes back to waiting when one of its days is cancelled or missed, or when a planning
  run moves it. Waiting means "a day still needs a place": after one day of a multi-day course is
  cancelled, its other days stay booked (unless the cancelled day cannot move without them) and only the
  free days are placed again (:mod:`igflow.scheduling.replan`);
* an appointment is booked when made and is then cancelled (by a scheduler, or because another day of its
  course was cancelled or a planning run moved it) or marked a no-show;
* a planning run is a draft until it is published or discarded.

Signing an infusion completes its appointment, and the course once none of its days is still booked
(:func:`igflow.appointments.service.complete_day`). ``cancelled`` (of a course) is a state the database
allows, but nothing cancels a course yet, so no move leads there.
"""

from __future__ import annotations

from igflow.appointments.models import Appointment, Course, PlanningRun
from igflow.statemachine import StateMachine

COURSE = StateMachine(
    "course",
    Course,
    {
        "waiting": frozenset({"booked"}),
        "booked": frozenset({"waiting", "completed"}),
        "completed": frozenset(),
        "cancelled": frozenset(),
    },
    labels={"waiting": "waiting to be booked"},
)

APPOINTMENT = StateMachine(
    "appointment",
    Appointment,
    {
        "booked": frozenset({"cancelled", "no_show", "completed"}),
        "cancelled": frozenset(),
        "no_show": frozenset(),
        "completed": frozenset(),
    },
    labels={"no_show": "marked a no-show"},
)

PLANNING_RUN = StateMachine(
    "planning_run",
    PlanningRun,
    {
        "draft": frozenset({"published", "discarded"}),
        "published": frozenset(),
        "discarded": frozenset(),
    },
    labels={"draft": "a draft"},
)
