"""What the cost panels on the order, course, infusion and patient pages show, in words.

Money is shown from integer cents by one helper (:func:`money`, ``$5,412.50``); masses in grams. A dose
without a price in force says so and who sets prices, with a link to the Prices page; it is never shown
as zero.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from igflow.costs import service
from igflow.costs.core import format_cents
from igflow.costs.schemas import CostOut, TotalOut
from igflow.security.principal import Principal
from igflow.web.render import TEMPLATES

PRICES_URL = "/prices"


def money(cents: int | None) -> str:
    """Integer cents as US dollars with cents (``$5,412.50``); an unknown cost as ``unknown``."""
    return "unknown" if cents is None else format_cents(cents)


# The one way pages show money: ``{{ cents|money }}`` (also callable as ``money(cents)``, the same function).
TEMPLATES.env.filters["money"] = money
TEMPLATES.env.globals["money"] = money


def grams(mg: int | None) -> str:
    if mg is None:
        return ""
    whole, rest = divmod(mg, 1000)
    return f"{whole:,} g" if not rest else f"{whole:,}.{rest:03d}".rstrip("0") + " g"


def _line(c: CostOut) -> dict[str, Any]:
    line: dict[str, Any] = {
        "label": c.label,
        "date": c.on.isoformat(),
        "product": c.product_name,
        "how": "dispensed at the chair" if c.dispensed else "planned",
        "vials": grams(c.dispensed_mg),
        "given": grams(c.given_mg) if c.given_mg is not None else "not known yet",
        "waste": grams(c.waste_mg) if c.waste_mg is not None else "not known yet",
        "cost": money(c.dispensed_cents),
        "waste_cost": money(c.waste_cents) if c.waste_mg is not None else "",
        "price": "",
        "missing": "",
    }
    if c.cents_per_gram is not None:
        line["price"] = (
            f"{money(c.cents_per_gram)} a gram from {c.price_effective_from} (source: {c.price_source})"
        )
    else:
        line["missing"] = f"No price on record for {c.product_name} on {c.on.isoformat()}"
    return line


def _total(t: TotalOut) -> dict[str, Any]:
    return {
        "cost": money(t.total_cents),
        "waste": money(t.waste_cents),
        "complete": t.complete,
        "missing": len(t.unknown),
        "doses": t.doses_priced,
    }


def _panel(title: str, lines: list[CostOut], total: TotalOut | None, notes: list[str]) -> dict[str, Any]:
    rows = [_line(c) for c in lines]
    return {
        "title": title,
        "lines": rows,
        "total": _total(total) if total is not None else None,
        "notes": [n for n in notes if n],
        "missing": any(r["missing"] for r in rows),
        "who_sets": "a pharmacist or administrator sets it on the Prices page",
        "prices_url": PRICES_URL,
    }


def order_panel(session: Session, principal: Principal, order_id: int) -> dict[str, Any]:
    view = service.order_cost(session, principal, order_id)
    panel = _panel("Drug cost of one cycle", view.days, view.cycle, [view.note])
    panel["caption"] = f"At the prices in force on {view.priced_on.isoformat()}."
    for line in panel["lines"]:
        line["date"] = ""  # every day is priced on the one date of the caption
    return panel


def course_panel(session: Session, principal: Principal, course_id: int) -> dict[str, Any]:
    view = service.course_cost(session, principal, course_id)
    panel = _panel(f"Drug cost of this course (cycle {view.cycle})", view.days, view.total, [])
    panel["caption"] = "Each day as dispensed at the chair, or as planned where nothing is dispensed yet."
    return panel


def infusion_panel(session: Session, principal: Principal, record_id: int) -> dict[str, Any]:
    view = service.infusion_cost(session, principal, record_id)
    panel = _panel("Drug cost of this infusion", [view.cost], None, [view.note])
    panel["caption"] = "The vials dispensed against the dose given; the difference is partial-vial waste."
    return panel


def patient_panel(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    """Per cycle and per year, for the patient's infusions page."""
    view = service.patient_cost(session, principal, patient_id)
    return {
        "cycles": [
            {
                "cycle": c.cycle,
                "course_id": c.course_id,
                "first_day": c.first_day.isoformat(),
                "status": {"waiting": "waiting to be booked"}.get(c.status, c.status),
                **_total(c.total),
            }
            for c in view.cycles
        ],
        "years": [{"year": y.year, **_total(y.total)} for y in view.years],
        "who_sets": "a pharmacist or administrator sets it on the Prices page",
        "prices_url": PRICES_URL,
    }
