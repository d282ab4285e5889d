"""The outcomes report's rows: each active order the user may see, judged by the outcomes capability's own
``evaluate`` (never judged again here), with its last decision's review interval and unanswered reviews."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.clinical.response import ResponseInputError
from igflow.infusions.models import InfusionRecord
from igflow.orders.models import Order
from igflow.outcomes import service as outcomes_capability
from igflow.reports import outcomes, service
from igflow.reports.charts import Bar, bar_chart_svg
from igflow.reports.table import Table
from igflow.security import scope
from igflow.security.principal import Principal


@dataclass
class OutcomesReport:
    filters: service.Filters
    today: dt.date
    rows: list[outcomes.OrderOutcome]
    names: dict[int, str]
    not_judged: int = 0  # orders of an indication the outcomes catalog has no entry for

    def site_name(self, site_id: int | None) -> str:
        return self.names.get(site_id, "No centre") if site_id is not None else "No centre"

    @property
    def in_period(self) -> list[outcomes.OrderOutcome]:
        return [
            r
            for r in self.rows
            if r.last_cycle_on is not None and self.filters.start <= r.last_cycle_on <= self.filters.end
        ]

    def groups(self) -> list[outcomes.IndicationCounts]:
        return outcomes.per_indication(self.in_period)

    def cycles(self) -> int | None:
        return next((r.review_after_cycles for r in self.rows if r.review_after_cycles), None)

    def past_review(self) -> list[outcomes.PastReview]:
        return outcomes.past_review(self.rows, self.today)

    def tables(self) -> list[Table]:
        from igflow.web.render import indication_name

        return [
            outcomes.indication_table(self.groups(), indication_name, self.cycles()),
            outcomes.past_review_table(self.past_review(), indication_name, self.site_name),
        ]

    def charts(self) -> dict[str, Any]:
        return {
            "response": bar_chart_svg(
                self.bars(),
                title="Responders of the orders judged, by indication",
                unit="%",
                axis_max=100,
                label_width=300,
            )
        }

    def bars(self) -> list[Bar]:
        from igflow.web.render import indication_name

        return [
            Bar(
                indication_name(g.indication_id),
                round(g.share * 100, 1),
                text=f"{round(g.share * 100, 1):g} % of {g.responders + g.non_responders}",
            )
            for g in self.groups()
            if g.share is not None
        ]


def _last_infusion_sites(session: Session, order_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in service.chunks(order_ids):
        for order_id, site_id in session.execute(
            select(InfusionRecord.order_id, Appointment.site_id)
            .join(Appointment, Appointment.id == InfusionRecord.appointment_id)
            .where(InfusionRecord.order_id.in_(chunk))
            .order_by(Appointment.date)
        ):
            out[order_id] = site_id  # the latest stays
    return out


def outcomes_report(
    session: Session, principal: Principal, filters: service.Filters, on: dt.date | None = None
) -> OutcomesReport:
    now = on or service.today()
    allowed = service.site_ids(session, principal, filters)
    names = {s.id: s.name for s in service.visible_centres(session, principal)}
    query = select(Order).where(Order.status == "active").order_by(Order.id)
    orders = list(
        session.execute(scope.rows(service.order_filters(query, filters), principal, Order)).scalars()
    )
    sites = _last_infusion_sites(session, [o.id for o in orders])
    first = service.first_centres(session, {o.patient_id for o in orders})
    rows: list[outcomes.OrderOutcome] = []
    not_judged = 0
    for order in orders:
        site_id = sites.get(order.id, first.get(order.patient_id))
        if not service.visible(principal, site_id, allowed):
            continue
        try:
            view = outcomes_capability.evaluate(session, order, now)
        except (ResponseInputError, LookupError):
            not_judged += 1
            continue
        last = view.decisions[-1] if view.decisions else None
        interval = (last.details or {}).get("review_in_days") if last is not None else None
        raised = [r.raised_at.date() for r in view.unanswered]
        rows.append(
            outcomes.OrderOutcome(
                order_id=order.id,
                patient_id=order.patient_id,
                site_id=site_id,
                indication_id=order.indication_id,
                product_id=order.product_id,
                cycles_completed=len(view.cycles),
                review_after_cycles=view.summary.review_after_cycles,
                outcome=view.summary.outcome.value,
                last_cycle_on=max((c.completed_on for c in view.cycles), default=None),
                last_decision_on=last.decided_on if last is not None else None,
                review_in_days=interval
                if isinstance(interval, int) and not isinstance(interval, bool)
                else None,
                review_raised_on=min(raised) if raised else None,
            )
        )
    report = OutcomesReport(filters, now, rows, names, not_judged)
    return report
