"""Use cases of the cost capability, one module each:

* ``prices``   add a price per gram (PRICE_MANAGE, audited; refusals name the field), list them per product
* ``doses``    the cost of an order's plan (per day and per cycle), of a course, of an infusion (vials
               dispensed against the dose given: the partial-vial waste), of authorised grams
               (:func:`authorisation_cost`, for the authorisations service)
* ``patients`` a patient's cost per cycle and per year
* ``report``   monthly totals per site and payer, and per patient, over what the principal may see

Arithmetic is the pure core's (``igflow.costs.core``): integer milligrams times integer cents per gram,
rounded half-up to the cent. A date with no price in force gives no cost (never a made-up one): the cost is
"unknown, no price on <date>" and the pages say who sets prices. Reads of patient costs are audited and
site-scoped. Callers import the package: ``from igflow.costs import service``.
"""

from __future__ import annotations

from igflow.costs.service._common import WHO_SETS_PRICES, DayCost, no_price_text
from igflow.costs.service.doses import (
    AuthorisationCost,
    authorisation_cost,
    cost_out,
    course_cost,
    infusion_cost,
    order_cost,
    total_out,
)
from igflow.costs.service.patients import patient_cost
from igflow.costs.service.prices import add_price, list_prices, price_out
from igflow.costs.service.report import months_of, report

__all__ = [
    "WHO_SETS_PRICES",
    "AuthorisationCost",
    "DayCost",
    "add_price",
    "authorisation_cost",
    "cost_out",
    "course_cost",
    "infusion_cost",
    "list_prices",
    "months_of",
    "no_price_text",
    "order_cost",
    "patient_cost",
    "price_out",
    "report",
    "total_out",
]
