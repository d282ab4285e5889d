"""Use cases of the appointments capability.

Courses come from verified plans; the scheduling core (``igflow.scheduling``, pure) decides where they go;
this package turns the database into a contract *instance*, books results under database guards, and
offers suggestions, cancellations with repair, planning runs and the views the pages draw. One module per
use case:

* ``_common``   the policy, the site's today and small shared loaders
* ``courses``   make, read and list courses (and the course/appointment shapes the API returns)
* ``instance``  the scheduling instance from the database (:class:`InstanceMap`, :func:`build_instance`)
* ``booking``   booking under database guards, suggestions, book, cancel / no-show with repair
* ``planning``  planning runs: solve, save, run, list, publish, discard
* ``views``     chair board, week load, orders ready to schedule, a patient's upcoming appointments
* ``calendar``  iCalendar export

Callers import the package (``from igflow.appointments import service``) and call its attributes; the
planning job calls ``service.solve_planning`` through the package, so a test may replace it there.
"""

from __future__ import annotations

from igflow.appointments.service._common import Policy, course_row, policy, site_today
from igflow.appointments.service.booking import (
    appointment_course,
    authorisation_check,
    authorisation_uses,
    book,
    change_status,
    move_session,
    preview_status_change,
    suggest,
    suggest_move,
)
from igflow.appointments.service.calendar import ics_for_patient
from igflow.appointments.service.courses import (
    appointment_out,
    complete_day,
    course_out,
    create_course,
    read_course,
    waiting_courses,
)
from igflow.appointments.service.instance import InstanceMap, build_instance
from igflow.appointments.service.planning import (
    check_free_appointments,
    discard,
    get_run,
    list_runs,
    publish,
    run_moves,
    run_planning,
    save_planning_run,
    solve_planning,
    waiting_outside,
)
from igflow.appointments.service.views import chair_board, ready_to_schedule, upcoming_for_patient, week_load

__all__ = [
    "InstanceMap",
    "Policy",
    "appointment_course",
    "appointment_out",
    "authorisation_check",
    "authorisation_uses",
    "book",
    "build_instance",
    "chair_board",
    "change_status",
    "check_free_appointments",
    "complete_day",
    "course_out",
    "course_row",
    "create_course",
    "discard",
    "get_run",
    "ics_for_patient",
    "list_runs",
    "move_session",
    "policy",
    "preview_status_change",
    "publish",
    "read_course",
    "ready_to_schedule",
    "run_moves",
    "run_planning",
    "save_planning_run",
    "site_today",
    "solve_planning",
    "suggest",
    "suggest_move",
    "upcoming_for_patient",
    "waiting_courses",
    "waiting_outside",
    "week_load",
]
