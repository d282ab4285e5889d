"""Prior-authorisation use cases (one module each): the packet assembled from the chart, the request's
life through the state machine, authorisations used by bookings, the work queue, re-authorisation."""

from igflow.authorizations.service.grants import (
    Check,
    check_days,
    covering_on,
    grants_for_order,
    needs_authorisation,
)
from igflow.authorizations.service.lifecycle import (
    appeal,
    attest,
    back_to_draft,
    decide,
    decide_appeal,
    mark_ready,
    open_request,
    set_requested,
    submit,
    withdraw,
)
from igflow.authorizations.service.packet import Packet, assemble, view_of
from igflow.authorizations.service.reauth import sweep
from igflow.authorizations.service.views import (
    expiring,
    read_request,
    request_out,
    requests_for_patient,
    work_queue,
)

__all__ = [
    "Check",
    "Packet",
    "appeal",
    "assemble",
    "attest",
    "back_to_draft",
    "check_days",
    "covering_on",
    "decide",
    "decide_appeal",
    "expiring",
    "grants_for_order",
    "mark_ready",
    "needs_authorisation",
    "open_request",
    "read_request",
    "request_out",
    "requests_for_patient",
    "set_requested",
    "submit",
    "sweep",
    "view_of",
    "withdraw",
    "work_queue",
]
