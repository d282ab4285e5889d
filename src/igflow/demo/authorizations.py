"""Prior authorisations for the demo: payers configured (one modelled on Aetna CPB 0206, CMS-0057-F payers;
each warns beyond an authorisation, none is a hard stop), an authorisation on record for most active
verified orders, and requests in every state for the prior-authorisation specialist to work:

- approved authorisations covering the booked courses, several ending within 30 days (their
  re-authorisation tasks open);
- the CIDP good responder's authorisation ending soon, with its re-authorisation drafted from the response;
- a draft with items missing, one ready, one submitted (due in 7 days under CMS-0057-F), one expedited,
  one pended for information, one partially approved, one denied and under appeal, one withdrawn.

Authorisations obtained before igflow are recorded as they came back (one event, "recorded from the
payer's approval letter"); the worked requests go through the service, as a person would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from igflow.authorizations import service
from igflow.authorizations.models import PriorAuthEvent, PriorAuthRequest
from igflow.authorizations.schemas import AttestIn, DecisionIn, ReasonIn, RequestedIn, RequestIn
from igflow.db import Database
from igflow.directory.models import Payer
from igflow.orders.models import Order
from igflow.patients.models import Coverage

#: payer code -> (catalog policy, CMS-0057-F applies, overrun rule)
_PAYER_SETTINGS = {
    "medicare-b": ("generic", False, "warn"),  # traditional Medicare FFS: not covered by CMS-0057-F
    "blueharbor": ("aetna-cpb-0206", False, "warn"),
    "summit": ("generic", True, "warn"),  # a Medicare Advantage plan in the demo
    "medicaid": ("generic", True, "warn"),  # a payer can be set to hard_stop; the demo keeps warnings
    "pacific": ("generic", False, "warn"),
}
WORKED = ("draft", "ready", "submitted", "expedited", "pended", "partially_approved", "appeal", "withdrawn")


def _configure_payers(session: Any) -> None:
    for payer in session.execute(select(Payer)).scalars():
        policy, cms, rule = _PAYER_SETTINGS.get(payer.code, ("generic", False, "warn"))
        payer.auth_policy_id, payer.cms_0057f, payer.overrun_rule = policy, cms, rule
    session.commit()


def _record_approved(
    session: Any,
    order: Order,
    coverage: Coverage,
    user_id: int,
    start: Any,
    end: Any,
    infusions: int,
    ref: str,
) -> PriorAuthRequest:
    request = PriorAuthRequest(
        patient_id=order.patient_id,
        order_id=order.id,
        coverage_id=coverage.id,
        policy_id="generic",
        kind="initial",
        urgency="standard",
        status="approved",
        attestations={},
        created_by_user_id=user_id,
        created_at=datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=9),
        submitted_at=datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=8),
        decided_at=datetime.combine(start, datetime.min.time(), tzinfo=UTC) - timedelta(days=2),
        payer_reference=ref,
        authorised_product_ids=[order.product_id],
        authorised_infusions=infusions,
        authorised_site_of_care="facility",
        start_date=start,
        end_date=end,
    )
    session.add(request)
    session.flush()
    session.add(
        PriorAuthEvent(
            request_id=request.id,
            from_status=None,
            to_status="approved",
            by_user_id=user_id,
            at=request.decided_at,
            reason="recorded from the payer's approval letter (before igflow; demo history)",
        )
    )
    return request


def _days_per_cycle(session: Any, order: Order) -> int:
    from igflow.orders.models import PlanVersion

    plan = session.execute(
        select(PlanVersion.plan)
        .where(PlanVersion.order_id == order.id)
        .order_by(PlanVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return max(1, len((plan or {}).get("days") or []))


def _worked_slot(k: int) -> bool:
    """Every fifth active order is left without an authorisation on record: its request is worked later."""
    return k % 5 == 4


def record_demo_approvals(db: Database) -> int:
    """Before the demo's history is charted: the payers' settings, and an approval on record for most
    active orders (so the past month's infusions were given under one)."""
    from igflow.security.service import get_user_by_username

    today = datetime.now(UTC).date()
    recorded = 0
    with db.session() as session:
        _configure_payers(session)
        user = get_user_by_username(session, "priorauth")
        assert user is not None
        coverages = {
            c.patient_id: c
            for c in session.execute(
                select(Coverage).where(Coverage.active.is_(True), Coverage.rank == 1)
            ).scalars()
        }
        orders = session.execute(select(Order).where(Order.status == "active").order_by(Order.id)).scalars()
        for k, order in enumerate(list(orders)):
            coverage = coverages.get(order.patient_id)
            if coverage is None or _worked_slot(k):
                continue
            soon = k % 7 == 0
            end = today + timedelta(days=12 + k % 15) if soon else today + timedelta(days=120 + k % 60)
            infusions = 6 * _days_per_cycle(session, order)  # six cycles of the verified plan
            _record_approved(
                session,
                order,
                coverage,
                user.id,
                end - timedelta(days=180),
                end,
                infusions,
                f"DEMO-{order.id:05d}",
            )
            recorded += 1
        session.commit()
    return recorded


def load_prior_auth_demo(db: Database, *, console: Console) -> dict[str, int]:
    from igflow.demo.outcomes import _chosen, _past_courses
    from igflow.security.service import get_user_by_username, principal_for_user

    counts = {"authorisations": 0, "worked": 0, "tasks": 0}
    today = datetime.now(UTC).date()
    with db.session() as session:
        user = get_user_by_username(session, "priorauth")
        assert user is not None
        principal = principal_for_user(user, client_address="demo-prior-auth")
        responder = next(
            (o.id for role, o, _c in _chosen(_past_courses(session)) if role == "cidp_responder"), None
        )
        orders = list(
            session.execute(select(Order).where(Order.status == "active").order_by(Order.id)).scalars()
        )
        coverages = {
            c.patient_id: c
            for c in session.execute(
                select(Coverage).where(Coverage.active.is_(True), Coverage.rank == 1)
            ).scalars()
        }
        worked = list(WORKED)
        for k, order in enumerate(orders):
            coverage = coverages.get(order.patient_id)
            if coverage is None:
                continue
            if worked and order.id != responder and _worked_slot(k) and counts["worked"] < 16:
                state = worked.pop(0)
                try:
                    reached = _work(session, principal, order, coverage, state, today)
                    counts["worked"] += 1
                    if reached != state:  # the packet could not complete: try the state on another order
                        worked.insert(0, state)
                except Exception as exc:  # a demo order the packet cannot carry: say so, keep loading
                    session.rollback()
                    console.print(
                        f"[yellow]demo prior auth: {state} on order {order.id} skipped ({exc})[/yellow]"
                    )
                continue
        counts["authorisations"] = session.execute(
            select(func.count()).select_from(PriorAuthRequest).where(PriorAuthRequest.status == "approved")
        ).scalar_one()
        if responder is not None:  # the responder's authorisation ends soon: its re-authorisation is due
            found = list(
                session.execute(
                    select(PriorAuthRequest).where(PriorAuthRequest.order_id == responder)
                ).scalars()
            )
            for previous in found:
                previous.end_date = today + timedelta(days=14)
            order = session.get(Order, responder)
            if not found and order is not None and order.patient_id in coverages:
                end = today + timedelta(days=14)
                _record_approved(
                    session,
                    order,
                    coverages[order.patient_id],
                    user.id,
                    end - timedelta(days=180),
                    end,
                    6 * _days_per_cycle(session, order),
                    f"DEMO-{order.id:05d}",
                )
        session.commit()
        counts["tasks"] = service.sweep(session, today)
        if responder is not None:
            previous = session.execute(
                select(PriorAuthRequest).where(PriorAuthRequest.order_id == responder)
            ).scalar_one_or_none()
            if previous is not None:
                cont = service.open_request(
                    session,
                    principal,
                    RequestIn(order_id=responder, coverage_id=previous.coverage_id, previous_id=previous.id),
                )
                service.set_requested(
                    session,
                    principal,
                    cont.id,
                    RequestedIn(
                        requested_infusions=8,
                        requested_grams=800,
                        requested_start=previous.end_date + timedelta(days=1),
                        requested_end=previous.end_date + timedelta(days=181),
                    ),
                )
    console.print(
        f"Prior authorisation: {counts['authorisations']} authorisations on record, "
        f"{counts['worked']} requests "
        f"being worked, {counts['tasks']} re-authorisation tasks."
    )
    return counts


def _work(session: Any, principal: Any, order: Order, coverage: Coverage, state: str, today: Any) -> str:
    urgency = "expedited" if state == "expedited" else "standard"
    r = service.open_request(
        session, principal, RequestIn(order_id=order.id, coverage_id=coverage.id, urgency=urgency)
    )
    if state == "draft":
        return "draft"
    service.set_requested(
        session,
        principal,
        r.id,
        RequestedIn(
            requested_infusions=6,
            requested_grams=600,
            requested_start=today,
            requested_end=today + timedelta(days=180),
            urgency=urgency,
        ),
    )
    for item in service.assemble(session, r).missing:
        if item.kind == "attestation" and item.requirement_id != "requested":
            service.attest(
                session,
                principal,
                r.id,
                AttestIn(
                    requirement_id=item.requirement_id,
                    note="Checked the clinic notes and the signed statement (demo)",
                ),
            )
    if service.assemble(session, r).missing:
        return "draft"  # stays a draft: the page lists what is missing
    service.mark_ready(session, principal, r.id)
    if state == "ready":
        return state
    if state == "withdrawn":
        service.withdraw(session, principal, r.id, ReasonIn(reason="The patient changed insurance (demo)"))
        return state
    service.submit(session, principal, r.id)
    if state in ("submitted", "expedited"):
        return state
    if state == "pended":
        service.decide(
            session,
            principal,
            r.id,
            DecisionIn(outcome="pended", reason="Send the latest IgG trough and the infection log (demo)"),
        )
        return state
    if state == "partially_approved":
        service.decide(
            session,
            principal,
            r.id,
            DecisionIn(
                outcome="partially_approved",
                payer_reference=f"PART-{r.id}",
                infusions=3,
                start_date=today,
                end_date=today + timedelta(days=90),
                reason="Approved for 3 infusions, then review",
            ),
        )
        return state
    service.decide(
        session,
        principal,
        r.id,
        DecisionIn(outcome="denied", reason="Not medically necessary: no documented response (demo)"),
    )
    service.appeal(
        session, principal, r.id, ReasonIn(reason="Peer-to-peer requested; response documented (demo)")
    )
    return state
