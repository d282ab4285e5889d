"""The status of an inventory lot as a state machine (:mod:`igflow.statemachine`).

A lot is received available. The pharmacy quarantines it (a fridge alarm, a query to the manufacturer)
and releases it back to use, or recalls it (from available or quarantined); a recall is final. Quarantine
and recall drop every allocation of the lot at every site. Every status change goes through ``LOT.move``
(``service.lots.change_status``): a move the table does not list is a 409 naming the lot's state, and the
move is a compare-and-set, so of two concurrent changes of the same lot one wins and the other gets a 409.

Expired is not a status: a lot's last usable date is derived from its label expiry and its time out of
the fridge (``service.effective_expiry_of``), so an available lot past that date is refused at use.
"""

from __future__ import annotations

from igflow.inventory.models import InventoryLot
from igflow.inventory.schemas import StatusAction
from igflow.statemachine import StateMachine

LOT = StateMachine(
    "inventory_lot",
    InventoryLot,
    {
        "available": frozenset({"quarantined", "recalled"}),
        "quarantined": frozenset({"available", "recalled"}),
        "recalled": frozenset(),
    },
    labels={"available": "available for use", "quarantined": "quarantined", "recalled": "recalled"},
    noun="the lot",
)

#: The status each action of ``change_status`` moves a lot to, and the states it starts from (None: any
#: the table allows); a release only lifts a quarantine.
ACTIONS: dict[StatusAction, tuple[str, str | None]] = {
    "quarantine": ("quarantined", None),
    "release": ("available", "quarantined"),
    "recall": ("recalled", None),
}


def action_allowed(current: str, action: StatusAction) -> bool:
    """Whether ``action`` may be taken on a lot that is ``current`` (pure: a page can ask which buttons)."""
    to, start = ACTIONS[action]
    return (start is None or current == start) and to in LOT.allowed(current)
