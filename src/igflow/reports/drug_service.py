"""The drug report: infusion days with vials dispensed (priced by the cost capability) and the stock ledger,
within the site scope, handed to :mod:`igflow.reports.drug`.

The days and their drug cost come from the cost capability's own reader (``course_days``: the vials dispensed
for each appointment net of returns, the mass given from the chart, the price per gram in force on the day);
the payer of a day is the patient's primary coverage on that day (``costs.core.payer_on``), as on the cost
report (/reports/cost), which this report links to rather than repeats. The ledger's moves are read at the
principal's centres; a lot's effective expiry is the inventory capability's.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment, Course, CourseSession
from igflow.costs import core
from igflow.costs.service._common import DayCost, course_days, prices
from igflow.errors import InvalidInput
from igflow.inventory import service as inventory_service
from igflow.inventory.models import InventoryLot, StockMove
from igflow.orders.models import Order
from igflow.patients import service as patients_service
from igflow.reports import drug
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.service_b import (
    CHART_WIDTH,
    NO_PAYER,
    ReportView,
    choices,
    day_after,
    dollars,
    indication_words,
    payer_names,
    percent,
    product_words,
    read_filters,
    short,
    site_names,
)
from igflow.reports.table import Column, Table
from igflow.security import scope
from igflow.security.principal import Principal

NAME = "drug"
USED = ("centre", "product", "indication", "payer")
DIMENSION_WORDS = {"product": "product", "indication": "indication", "payer": "payer", "centre": "centre"}
WASTE_WORDS = {
    "broken": "broken vial",
    "temperature_excursion": "temperature excursion",
    "not given": "no reason given",
}


def _days(session: Session, principal: Principal, view: ReportView) -> list[drug.DrugDay]:
    f = view.filters
    query = (
        select(Course)
        .join(CourseSession, CourseSession.course_id == Course.id)
        .join(Appointment, Appointment.course_session_id == CourseSession.id)
        .where(Appointment.date >= f.start, Appointment.date <= f.end)
        .distinct()
    )
    if f.centre:
        query = query.where(Appointment.site_id == f.centre)
    query = scope.by_patient(scope.rows(query, principal, Appointment), principal, Course.patient_id)
    courses = list(session.execute(query).scalars())
    days: list[DayCost] = [
        d
        for d in course_days(session, courses, prices(session))
        if d.dispensed
        and f.start <= d.on <= f.end
        and scope.sees_site(principal, d.site_id)
        and (f.centre is None or d.site_id == f.centre)
        and (f.product is None or d.cost.product_id == f.product)
    ]
    order_ids = sorted({d.order_id for d in days})
    indications: dict[int, str] = {}
    for start in range(0, len(order_ids), 500):
        found = session.execute(
            select(Order.id, Order.indication_id).where(Order.id.in_(order_ids[start : start + 500]))
        ).all()
        indications.update((order_id, indication) for order_id, indication in found)
    coverages = {
        pid: [core.CoveragePeriod(*c) for c in rows]
        for pid, rows in patients_service.coverage_periods(session, {d.patient_id for d in days}).items()
    }
    payers, centres = payer_names(session), site_names(session)
    out = []
    for d in days:
        payer_id = core.payer_on(coverages.get(d.patient_id, []), d.on)
        indication = indications.get(d.order_id)
        if f.indication is not None and indication != f.indication:
            continue
        if f.payer is not None and payer_id != f.payer:
            continue
        out.append(
            drug.DrugDay(
                on=d.on,
                product=product_words(d.cost.product_id),
                indication=indication_words(indication),
                payer=payers.get(payer_id, "") if payer_id is not None else NO_PAYER,
                centre=centres.get(d.site_id or 0, ""),
                patient_id=d.patient_id,
                course_id=d.course_id,
                cost=d.cost,
            )
        )
    return out


def _expiry(lot: InventoryLot):
    try:
        return inventory_service.effective_expiry_of(lot)
    except InvalidInput:
        return lot.label_expiry  # the room-temperature allowance is unknown: the label's date


def _ledger(
    session: Session, principal: Principal, view: ReportView
) -> tuple[list[drug.Move], list[drug.Lot]]:
    f = view.filters
    query = (
        select(StockMove, InventoryLot)
        .join(InventoryLot, InventoryLot.id == StockMove.lot_id)
        .where(StockMove.at < day_after(f.end))
        .order_by(StockMove.id)
    )
    if f.centre:
        query = query.where(StockMove.site_id == f.centre)
    if f.product:
        query = query.where(InventoryLot.product_id == f.product)
    centres = site_names(session)
    moves, lots = [], {}
    for move, lot in session.execute(scope.rows(query, principal, StockMove)):
        moves.append(
            drug.Move(
                lot.id,
                centres.get(move.site_id, ""),
                move.kind,
                move.count,
                move.at.date(),
                move.waste_reason,
            )
        )
        if lot.id not in lots:
            lots[lot.id] = drug.Lot(
                lot.id,
                product_words(lot.product_id),
                float(lot.vial_size_g),
                lot.acquisition_cost_cents,
                _expiry(lot),
            )
    return moves, list(lots.values())


_SUM_COLUMNS = (
    Column("days", "Infusion days"),
    Column("grams", "Grams dispensed", "g"),
    Column("waste_g", "Partial-vial waste", "g"),
    Column("waste_pct", "Waste share", "%"),
    Column("cost", "Dispensed cost", "US$"),
    Column("waste_cost", "Waste cost", "US$"),
    Column("unpriced", "Days without a price"),
)


def _sum_row(label_key: str, label: str, s: drug.Sum) -> dict[str, object]:
    return {
        label_key: label,
        "days": s.days,
        "grams": round(s.dispensed_g, 3),
        "waste_g": round(s.waste_g, 3),
        "waste_pct": None if s.waste_percent is None else round(s.waste_percent, 1),
        "cost": dollars(s.dispensed_cents),
        "waste_cost": dollars(s.waste_cents),
        "unpriced": s.unpriced,
    }


def report(session: Session, principal: Principal, params: Mapping[str, str]) -> ReportView:
    found = choices(session, principal)
    filters, error = read_filters(params, found, USED)
    view = ReportView(NAME, "Drug", filters, found, USED, {}, error=error)
    days = _days(session, principal, view)
    moves, lots = _ledger(session, principal, view)
    stock = drug.stock(moves, lots, filters.start, filters.end)
    rates = drug.rates(days, filters.days)
    every = drug.total(days)
    tables: dict[str, Table] = {}
    for dimension, words in DIMENSION_WORDS.items():
        groups = drug.by(days, dimension)
        rows = [_sum_row("group", g, s) for g, s in groups.items()]
        if groups:
            rows.append(_sum_row("group", "All", every))
        tables[dimension] = Table(
            f"Grams by {words}",
            (Column("group", words.capitalize()), *_SUM_COLUMNS),
            tuple(rows),
            (
                "Vials dispensed at the chair for infusions in the period (net of unopened returns). "
                "Partial-vial waste: the vial mass dispensed minus the mass given (known once the infusion "
                "has ended); its cost is the wasted grams at the price per gram in force that day.",
            ),
        )
        view.charts[dimension] = bar_chart_svg(
            [Bar(short(g), round(s.dispensed_g, 1)) for g, s in groups.items()],
            title=f"Grams dispensed by {words}",
            unit="g",
            width=CHART_WIDTH,
        )
    tables["rates"] = Table(
        "Cost per cycle and per patient-year",
        (
            Column("cycles", "Cycles (courses)"),
            Column("patients", "Patients"),
            Column("days", "Days in the period"),
            Column("cost", "Dispensed cost", "US$"),
            Column("per_cycle", "Cost per cycle", "US$"),
            Column("per_patient_year", "Cost per patient-year", "US$"),
        ),
        (
            {
                "cycles": rates.cycles,
                "patients": rates.patients,
                "days": filters.days,
                "cost": dollars(every.dispensed_cents),
                "per_cycle": dollars(rates.cost_per_cycle_cents),
                "per_patient_year": dollars(rates.cost_per_patient_year_cents),
            },
        ),
        (
            "Over the days with a price: cost per cycle = dispensed cost / courses; cost per patient-year = "
            "dispensed cost / (patients x days in the period / 365.25).",
        ),
    )
    tables["stock"] = Table(
        "Stock turns",
        (
            Column("average", "Average stock value", "US$"),
            Column("dispensed", "Dispensed at lot cost", "US$"),
            Column("turns", "Stock turns in the period"),
            Column("turns_year", "Stock turns a year"),
        ),
        (
            {
                "average": dollars(stock.average_cents),
                "dispensed": dollars(stock.dispensed_cost_cents),
                "turns": stock.turns,
                "turns_year": stock.turns_per_year,
            },
        ),
        (
            "Stock turns = value dispensed (dispensed minus returned vials, at what each lot cost) / "
            "average stock value (the mean of each day's closing stock at lot cost, a lot counted up to "
            "its effective expiry). Indication and payer do not apply to stock.",
        ),
    )
    tables["expiry"] = Table(
        "Expiry losses",
        (
            Column("product", "Product"),
            Column("lot", "Lot"),
            Column("centre", "Centre"),
            Column("expiry", "Effective expiry"),
            Column("vials", "Vials"),
            Column("grams", "Grams", "g"),
            Column("value", "Value at lot cost", "US$"),
        ),
        tuple(
            {
                "product": x.lot.product,
                "lot": _lot_numbers(session, x.lot.id),
                "centre": x.site,
                "expiry": x.lot.expiry,
                "vials": x.vials,
                "grams": x.grams,
                "value": dollars(x.cents),
            }
            for x in stock.losses
        ),
        (
            "Vials still on hand at the end of their lot's effective-expiry day, for expiry days in the "
            "period, whether or not written off yet (the ledger has no 'expired' move; a later write-off "
            "is not counted again).",
        ),
    )
    tables["write_offs"] = Table(
        "Other write-offs",
        (Column("reason", "Reason"), Column("vials", "Vials")),
        tuple({"reason": WASTE_WORDS.get(k, k), "vials": n} for k, n in stock.other_write_offs.items()),
        ("Vials wasted in the period for other reasons than a partial vial, before their lot expired.",),
    )
    view.tables = tables
    view.extra = {
        "every": every,
        "rates": rates,
        "stock": stock,
        "expiry_cents": sum(x.cents for x in stock.losses),
        "expiry_grams": sum(x.grams for x in stock.losses),
        "waste_pct": percent(every.waste_mg / every.dispensed_mg if every.dispensed_mg else None),
    }
    return view


def _lot_numbers(session: Session, lot_id: int) -> str:
    lot = session.get(InventoryLot, lot_id)
    return lot.lot_number if lot is not None else ""
