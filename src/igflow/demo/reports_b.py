"""A little history for the prior-authorisation and drug reports of the demo (synthetic; additive, loaded
after the rest of the demo):

- three requests decided in the last two months, as they came back from the payers: one denied and then
  approved on appeal (the authorisation has since ended), one denied with the denial upheld on appeal, one
  denied without appeal; so the report has waits of several days, denials with reasons and an appeal
  overturned out of two;
- one lot that expired on the shelf 20 days ago with two vials still on hand (received 100 days ago), so
  the drug report has an expiry loss.

History is written as it would be imported from the previous system (rows with their past times); the lot's
receipt is one ledger row with its balance, so the ledger check still adds up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import select

from igflow.authorizations.models import PriorAuthEvent, PriorAuthRequest
from igflow.db import Database
from igflow.demo.inventory import DEMO_INVENTORY_PRODUCTS, demo_gtin
from igflow.inventory.models import InventoryLot, StockBalance, StockMove
from igflow.orders.models import Order
from igflow.patients.models import Coverage
from igflow.sites.models import Site

DEMO_MARK = "(demo history)"
# (final status, [(status, days ago, reason)], authorised from/to days ago or None)
_HISTORY: tuple[tuple[str, list[tuple[str, int, str]], tuple[int, int] | None], ...] = (
    (
        "appeal_approved",
        [
            ("submitted", 48, "submitted to the payer"),
            ("denied", 41, "Nerve conduction study not attached (demo)"),
            ("appeal_submitted", 38, "appeal with the nerve conduction study"),
            ("appeal_approved", 30, "approved on appeal"),
        ],
        (30, 2),
    ),
    (
        "appeal_denied",
        [
            ("submitted", 44, "submitted to the payer"),
            ("denied", 36, "Not medically necessary: no documented response (demo)"),
            ("appeal_submitted", 33, "appeal with the prescriber's letter"),
            ("appeal_denied", 20, "denial upheld on appeal"),
        ],
        None,
    ),
    (
        "denied",
        [
            ("submitted", 26, "submitted to the payer"),
            ("denied", 21, "Site of care: home infusion required by the plan (demo)"),
        ],
        None,
    ),
)


def _requests(session: Any, user_id: int, now: datetime) -> int:
    if session.execute(select(PriorAuthEvent.id).where(PriorAuthEvent.reason.contains(DEMO_MARK))).first():
        return 0
    coverages = {
        c.patient_id: c
        for c in session.execute(
            select(Coverage).where(Coverage.active.is_(True), Coverage.rank == 1)
        ).scalars()
    }
    orders = [
        o
        for o in session.execute(select(Order).where(Order.status == "active").order_by(Order.id)).scalars()
        if o.patient_id in coverages
    ]
    made = 0
    for order, (status, moves, authorised) in zip(orders[1::7], _HISTORY, strict=False):
        first = now - timedelta(days=moves[0][1] + 2)
        request = PriorAuthRequest(
            patient_id=order.patient_id,
            order_id=order.id,
            coverage_id=coverages[order.patient_id].id,
            policy_id="generic",
            status=status,
            created_by_user_id=user_id,
            created_at=first,
            submitted_at=now - timedelta(days=moves[0][1]),
            decided_at=now - timedelta(days=moves[-1][1]),
            decision_reason=next((r for s, _d, r in moves if s == "denied"), ""),
            payer_reference=f"DEMO-H{order.id:05d}",
        )
        if authorised is not None:
            request.start_date = (now - timedelta(days=authorised[0])).date()
            request.end_date = (now - timedelta(days=authorised[1])).date()
            request.authorised_product_ids = [order.product_id]
        session.add(request)
        session.flush()
        before: str | None = "draft"
        for to, days_ago, reason in moves:
            session.add(
                PriorAuthEvent(
                    request_id=request.id,
                    from_status=before,
                    to_status=to,
                    by_user_id=user_id,
                    at=now - timedelta(days=days_ago),
                    reason=reason if to == "denied" else f"{reason} {DEMO_MARK}",
                )
            )
            before = to
        made += 1
    return made


def _expired_lot(session: Any, user_id: int, now: datetime) -> int:
    number = "EXPIRED-DEMO-1"
    if session.execute(select(InventoryLot.id).where(InventoryLot.lot_number == number)).first():
        return 0
    site = session.execute(select(Site).where(Site.kind == "centre").order_by(Site.id)).scalars().first()
    if site is None:
        return 0
    product = DEMO_INVENTORY_PRODUCTS[1]  # privigen
    lot = InventoryLot(
        product_id=product,
        lot_number=number,
        gtin=demo_gtin(1, 10.0),
        label_expiry=(now - timedelta(days=20)).date(),
        vial_size_g=10.0,
        site_id=site.id,
        storage_place="Fridge B, bottom shelf",
        acquisition_cost_cents=95_000,  # per vial, synthetic: $950.00 a 10 g vial ($95.00 a gram)
        supplier="Cascade Specialty Distribution (synthetic)",
        created_by_user_id=user_id,
        created_at=now - timedelta(days=100),
    )
    session.add(lot)
    session.flush()
    session.add(
        StockMove(
            lot_id=lot.id,
            site_id=site.id,
            kind="receipt",
            count=2,
            by_user_id=user_id,
            reason="received (demo history)",
            at=now - timedelta(days=100),
        )
    )
    session.add(StockBalance(lot_id=lot.id, site_id=site.id, on_hand=2, allocated=0))
    return 1


def load_reports_b_demo(db: Database, *, console: Console) -> dict[str, int]:
    from igflow.security.service import get_user_by_username

    now = datetime.now(UTC).replace(microsecond=0)
    with db.session() as session:
        priorauth, pharmacist = (
            get_user_by_username(session, "priorauth"),
            get_user_by_username(session, "pharmacist"),
        )
        if priorauth is None or pharmacist is None:
            return {"requests": 0, "lots": 0}
        counts = {
            "requests": _requests(session, priorauth.id, now),
            "lots": _expired_lot(session, pharmacist.id, now),
        }
        session.commit()
    console.print(f"Report history: {counts['requests']} decided requests, {counts['lots']} expired lot")
    return counts
