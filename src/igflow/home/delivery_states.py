"""A delivery's status as a state machine (:mod:`igflow.statemachine`).

* **planned**: a pharmacist chose the lots (first-expiry-first-out) for a home visit or a self-infusion
  day; no stock has moved.
* **packed**: the vials left the pharmacy's stock for the patient's home (the ledger's transfer pair).
* **shipped** with a carrier and its reference; **delivered** when the courier says so; **received** when
  the nurse or the patient confirms it arrived.
* **cancelled** from planned or packed (a packed delivery's vials return to the pharmacy: reverse moves).
* **excursion** from shipped, delivered or received: a logger reading outside the products' storage range
  or the courier's flag. The delivered vials are held at the patient's home and a pharmacist task opened;
  releasing the hold takes the delivery back to where it was (shipped, delivered or received); wasting the
  vials leaves it an excursion for the record (a replacement is a new delivery).

Every move goes through ``DELIVERY.move`` (compare-and-set on the status and the version the caller read):
a move the table does not list, or a delivery changed meanwhile, is a 409.
"""

from __future__ import annotations

from igflow.home.models import HomeDelivery
from igflow.statemachine import StateMachine

DELIVERY = StateMachine(
    "home_delivery",
    HomeDelivery,
    {
        "planned": frozenset({"packed", "cancelled"}),
        "packed": frozenset({"shipped", "cancelled"}),
        "shipped": frozenset({"delivered", "excursion"}),
        "delivered": frozenset({"received", "excursion"}),
        "received": frozenset({"excursion"}),
        "excursion": frozenset({"shipped", "delivered", "received"}),
        "cancelled": frozenset(),
    },
    labels={
        "planned": "planned",
        "packed": "packed",
        "shipped": "shipped",
        "delivered": "delivered",
        "received": "received at home",
        "excursion": "held after a temperature excursion",
        "cancelled": "cancelled",
    },
    noun="the delivery",
)

#: Deliveries still on their way (the late and due lists read these).
OPEN = frozenset({"planned", "packed", "shipped", "delivered"})
