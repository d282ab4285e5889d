"""Use cases of the inventory capability, one module each:

* ``lots`` — receive lots, list and read them, storage place and state, quarantine / release / recall;
* ``moves`` — transfer between sites, waste, return of unopened vials, par levels;
* ``chairside`` — scan a vial against the verified plan, dispense;
* ``recall`` — trace a lot to the patients who received it (rows and CSV);
* ``allocation`` — FEFO allocation, pick lists, shortfalls, shortage proposals, reorder suggestions,
  over the demand and supply read in ``demand``;
* ``needs`` — what the booked appointments need per site, day and product against what is on hand, and
  the lots FEFO would pick (the allocation's computation, ``plan_allocation``, without its writes);
* ``overview`` — stock by site, expiring lots, the ledger check;
* ``dispensed`` — the vials dispensed for appointments net of returns (priced by ``igflow.costs``).

``ledger`` is the one writer of stock moves: every stock change is one appended ``stock_move`` plus relative
updates of ``stock_balance`` (and of the appointment's ``stock_allocation``) in the same transaction; the
CHECK constraints of those rows are what refuses a move that would take a lot below zero, also under
concurrent requests. The rules that need the catalog (effective expiry, equivalent products) come from the
pure core in ``igflow.inventory.core``. Callers use this package: ``from igflow.inventory import service``.
"""

from __future__ import annotations

from igflow.inventory.service._common import (
    effective_expiry_of,
    gtin_check_digit,
    gtin_valid,
    lot_out,
    move_out,
)
from igflow.inventory.service.allocation import pick_list, reorder, run_allocation, shortage, shortfalls
from igflow.inventory.service.chairside import dispense, scan_check
from igflow.inventory.service.demand import _demand_rows as _demand_rows  # the demo loader's forecast
from igflow.inventory.service.dispensed import DispensedVials, dispensed_for_appointments
from igflow.inventory.service.lots import change_status, list_lots, read_lot, receive, set_storage
from igflow.inventory.service.moves import return_vials, set_par_level, transfer, waste
from igflow.inventory.service.needs import needs
from igflow.inventory.service.overview import EXPIRY_BANDS, expiring, ledger_check, stock_by_site
from igflow.inventory.service.recall import trace_csv, trace_lot, trace_lot_as
from igflow.inventory.service.scan_fill import ScanFill, from_scan
from igflow.inventory.states import LOT, action_allowed

__all__ = [
    "EXPIRY_BANDS",
    "LOT",
    "DispensedVials",
    "ScanFill",
    "action_allowed",
    "change_status",
    "dispense",
    "dispensed_for_appointments",
    "effective_expiry_of",
    "expiring",
    "from_scan",
    "gtin_check_digit",
    "gtin_valid",
    "ledger_check",
    "list_lots",
    "lot_out",
    "move_out",
    "needs",
    "pick_list",
    "read_lot",
    "receive",
    "reorder",
    "return_vials",
    "run_allocation",
    "scan_check",
    "set_par_level",
    "set_storage",
    "shortage",
    "shortfalls",
    "stock_by_site",
    "trace_csv",
    "trace_lot",
    "trace_lot_as",
    "transfer",
    "waste",
]
