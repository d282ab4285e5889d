"""The patient's own log of self-infusions (SCIG at home) and the nurse's follow-ups.

* The patient logs each self-infusion of their active subcutaneous order (the newest active order whose
  current plan is verified and ``route: "sc"``): when, the lot (GS1 barcode text or the lot number typed),
  vials, volume, sites, duration, a reaction in plain words (``home_supply.yaml`` maps each answer to the
  chair's grade) and symptoms, a note. ``client_id`` makes a retried submission land once. Entries are
  append-only: a correction is a new entry naming the one it corrects, with the reason.
* Vials leave stock at the patient's home: a ``dispense`` at the home-infusion site with the patient's id,
  and ``home_stock.on_hand`` down. When the lot is not one igflow knows, or the home has fewer free vials
  of it than logged (none delivered, or held after a temperature excursion), the infusion is still
  recorded, stock is left alone, and a pharmacist task opens to reconcile it: the patient is never refused
  for the pharmacy's bookkeeping. A correction moves no stock (a changed lot or vial count opens the
  reconcile task).
* A reaction (an answer at or above ``follow_up_from_grade``, or any symptom ticked), a short infusion (a
  volume below the plan's by more than ``short_tolerance_percent``) or the use of held vials opens one
  nurse follow-up task per logged infusion (a correction adds a task only for reasons not raised before).
  Missed infusions and what is due next are in ``selflog_plan``.

Every read and write is audited with the patient's id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from igflow.db import utcnow
from igflow.errors import Conflict, InvalidInput, NotFound
from igflow.home import plan_reading
from igflow.home.models import SelfInfusion
from igflow.home.selflog_schemas import SelfInfusionIn, SelfInfusionOut, SelfLogOut
from igflow.home.service import home_stock
from igflow.home.service._delivery_common import home_site
from igflow.home.service.selflog_plan import (
    FOLLOW_UP_TASK,
    NURSE_CHECKLIST,
    RECONCILE_TASK,
    active_order,
    due_next,
    due_words,
    entries,
    local_date,
    num,
    open_task,
    plan_words,
    product_name,
    root_of,
    rules,
    tz,
)
from igflow.infusions.models import WorkTask
from igflow.inventory.gs1 import ScanError, parse_scan
from igflow.inventory.service import home as inventory_home
from igflow.patients import service as patients_service
from igflow.security import audit
from igflow.security.principal import Principal


def _out(row: SelfInfusion, corrected_by: int | None, extra: dict[str, Any] | None = None) -> SelfInfusionOut:
    spec = rules()
    answer = next((a for a in spec.reaction_answers if a.grade == row.reaction_grade), None)
    words = {s.id: s.words for s in spec.symptoms}
    return SelfInfusionOut(
        id=row.id,
        client_id=row.client_id,
        order_id=row.order_id,
        plan_version_id=row.plan_version_id,
        infused_at=row.infused_at,
        product_id=row.product_id,
        product_name=product_name(row.product_id),
        lot_id=row.lot_id,
        lot_number=row.lot_number,
        vials=row.vials,
        volume_ml=row.volume_ml,
        sites=row.sites,
        duration_min=row.duration_min,
        reaction_grade=row.reaction_grade,
        reaction_words=answer.words if answer is not None else f"grade {row.reaction_grade}",
        symptoms=[words.get(s, s) for s in row.reactions or []],
        note=row.note,
        amends_id=row.amends_id,
        corrected_by_id=corrected_by,
        created_at=row.created_at,
        **(extra or {}),
    )


def _outs(rows: list[SelfInfusion]) -> list[SelfInfusionOut]:
    corrected_by = {r.amends_id: r.id for r in rows if r.amends_id}
    return [_out(r, corrected_by.get(r.id)) for r in rows]


# --- logging ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lot:
    lot: inventory_home.HomeLot | None
    number: str


def _lot(session: Session, text: str) -> _Lot:
    """The lot from the vial's GS1 barcode text, else from a typed lot number (None when unknown)."""
    text = text.strip()
    if not text:
        return _Lot(None, "")
    try:
        scan = parse_scan(text, separators=("\x1d", "|", "<GS>"))
    except ScanError:
        return _Lot(inventory_home.find_lot(session, text), text[:64])
    return _Lot(inventory_home.find_lot(session, scan.lot, scan.gtin), scan.lot[:64])


def _infused_at(session: Session, value: dt.datetime) -> dt.datetime:
    aware = value.replace(tzinfo=tz(session)) if value.tzinfo is None else value
    aware = aware.astimezone(dt.UTC)
    if aware > utcnow() + dt.timedelta(minutes=10):
        raise InvalidInput("infused_at: this is in the future; log an infusion once it is done", "infused_at")
    return aware


def _same(row: SelfInfusion, data: SelfInfusionIn) -> SelfInfusion:
    if (row.vials, row.volume_ml, row.sites, row.duration_min) != (
        data.vials,
        data.volume_ml,
        data.sites,
        data.duration_min,
    ):
        raise Conflict(f"client_id: {data.client_id} was already used for another entry", "client_id")
    return row


def _take_from_home(
    session: Session, principal: Principal, row: SelfInfusion, lot: _Lot, when: dt.date
) -> tuple[str, list[tuple[str, str]]]:
    """Dispense the logged vials from the patient's home stock, or open the reconcile task; returns the
    words for the patient and any follow-up reason for the nurse."""
    stock = home_stock.of(session, row.patient_id, lot.lot.id) if lot.lot is not None else None
    free = 0 if stock is None else stock.on_hand - stock.held
    if lot.lot is not None and stock is not None and free >= row.vials:
        site = home_site(session, row.patient_id)
        inventory_home.used_at_home(
            session,
            principal,
            lot.lot.id,
            site.id,
            row.vials,
            row.patient_id,
            kind="dispense",
            reason=f"self-infusion {row.id}",
            detail={"self_infusion_id": row.id},
        )
        home_stock.change(
            session, row.patient_id, lot.lot.id, on_hand=-row.vials, lot_number=lot.lot.lot_number
        )
        return f"{row.vials} vial(s) of lot {lot.lot.lot_number} taken from the stock at your home.", []
    if lot.lot is None:
        what = f"lot '{lot.number}' is not one igflow knows" if lot.number else "no lot was given"
    elif stock is None or stock.on_hand == 0:
        what = f"no vials of lot {lot.lot.lot_number} were delivered to this home"
    else:
        what = f"the home has {free} free vial(s) of lot {lot.lot.lot_number} ({stock.held} held)"
    reasons: list[tuple[str, str]] = []
    if lot.lot is not None and stock is not None and stock.held and free < row.vials:
        reasons.append(
            (
                "held vials",
                f"vials of lot {lot.lot.lot_number} are held after a temperature excursion and may have "
                "been used",
            )
        )
    open_task(
        session,
        RECONCILE_TASK,
        "pharmacist",
        row.patient_id,
        f"Home stock to reconcile: {row.vials} vial(s) logged on {when.isoformat()}; {what}",
        {
            "self_infusion_id": row.id,
            "href": f"/patients/{row.patient_id}#h-home-supply",
            "lot_text": lot.number,
            "vials": row.vials,
            "todo": "Check the lot with the patient and correct the home stock (a transfer, return or waste)",
        },
    )
    return "The pharmacy will check this lot against the vials delivered to you.", reasons


#: How each follow-up reason reads in a task's title (the full words are in the task's detail).
_SHORT: dict[str, Callable[[SelfInfusion], str]] = {
    "reaction": lambda row: f"reaction, grade {row.reaction_grade}",
    "short": lambda row: f"short infusion, {num(row.volume_ml)} mL",
    "held vials": lambda _row: "used vials held after a temperature excursion",
}


def _follow_up_reasons(row: SelfInfusion, symptoms: list[str], plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, words) of each reason for a nurse follow-up: a reaction, a short infusion."""
    spec = rules()
    reasons: list[tuple[str, str]] = []
    threshold = int(spec.follow_up_from_grade.value or 1)
    if row.reaction_grade >= threshold or symptoms:
        answer = next((a for a in spec.reaction_answers if a.grade == row.reaction_grade), None)
        said = answer.words if answer is not None else f"grade {row.reaction_grade}"
        words = {s.id: s.words for s in spec.symptoms}
        listed = ", ".join(words.get(s, s) for s in symptoms)
        reasons.append(
            ("reaction", f"reaction (grade {row.reaction_grade}): {said}" + (f"; {listed}" if listed else ""))
        )
    planned = plan_reading.sc_figures(plan).volume_ml
    tolerance = float(spec.short_tolerance_percent.value or 0)
    if planned and row.volume_ml < planned * (1 - tolerance / 100):
        reasons.append(
            (
                "short",
                f"short infusion: {num(row.volume_ml)} mL of the plan's {num(planned)} mL "
                f"(more than {tolerance:g} % short)",
            )
        )
    return reasons


def _raised_for(session: Session, patient_id: int, root_id: int) -> set[str]:
    rows = session.execute(
        select(WorkTask).where(WorkTask.kind == FOLLOW_UP_TASK, WorkTask.patient_id == patient_id)
    ).scalars()
    out: set[str] = set()
    for task in rows:
        if (task.detail or {}).get("event_id") == root_id:
            out |= set((task.detail or {}).get("reason_keys", []))
    return out


def _validate(data: SelfInfusionIn) -> tuple[int, list[str]]:
    spec = rules()
    answer = spec.answer(data.reaction)
    if answer is None:
        options = ", ".join(a.id for a in spec.reaction_answers)
        raise InvalidInput(f"reaction: choose one of the answers ({options})", "reaction")
    known = {s.id for s in spec.symptoms}
    unknown = [s for s in data.symptoms if s not in known]
    if unknown:
        raise InvalidInput(f"symptoms: not on the list: {', '.join(unknown)}", "symptoms")
    if data.amends_id is not None and len(data.reason.strip()) < 3:
        raise InvalidInput("reason: say what the correction changes", "reason")
    return answer.grade, list(dict.fromkeys(data.symptoms))


def log(session: Session, principal: Principal, data: SelfInfusionIn) -> SelfInfusionOut:
    """The patient logs one self-infusion (or corrects an entry): idempotent on ``client_id``."""
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    patient_id = principal.patient_id
    existing = session.execute(
        select(SelfInfusion).where(SelfInfusion.client_id == data.client_id)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.patient_id != patient_id:
            raise Conflict(f"client_id: {data.client_id} was already used", "client_id")
        return _out(_same(existing, data), None)
    grade, symptoms = _validate(data)
    active = active_order(session, patient_id)
    if active is None:
        raise Conflict(
            "order: there is no subcutaneous order with a verified plan for you now; call your home-infusion "
            "nurse before you infuse",
            "order",
        )
    amended = None
    if data.amends_id is not None:
        amended = session.get(SelfInfusion, data.amends_id)
        if amended is None or amended.patient_id != patient_id:
            raise NotFound(f"entry {data.amends_id} not found", "amends_id")
        later = session.execute(
            select(SelfInfusion.id).where(SelfInfusion.amends_id == amended.id)
        ).scalar_one_or_none()
        if later is not None:
            raise Conflict(
                f"amends_id: entry {amended.id} was corrected by entry {later}; correct that one", "amends_id"
            )
    infused_at = _infused_at(session, data.infused_at)
    lot = _lot(session, data.lot)
    note = (
        data.note
        if amended is None
        else f"Correction: {data.reason}" + (f". {data.note}" if data.note else "")
    )
    row = SelfInfusion(
        client_id=data.client_id,
        patient_id=patient_id,
        order_id=active.order.id,
        plan_version_id=active.version.id,
        infused_at=infused_at,
        product_id=lot.lot.product_id
        if lot.lot is not None
        else str(active.plan.get("product") or active.order.product_id),
        lot_id=lot.lot.id if lot.lot is not None else None,
        lot_number=lot.lot.lot_number if lot.lot is not None else lot.number,
        vials=data.vials,
        volume_ml=data.volume_ml,
        sites=data.sites,
        duration_min=data.duration_min,
        reaction_grade=grade,
        reactions=symptoms,
        note=note,
        amends_id=amended.id if amended is not None else None,
        created_by_user_id=principal.user_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        again = session.execute(
            select(SelfInfusion).where(SelfInfusion.client_id == data.client_id)
        ).scalar_one_or_none()
        if again is None or again.patient_id != patient_id:
            raise Conflict(f"client_id: {data.client_id} was already used", "client_id") from None
        return _out(_same(again, data), None)
    when = local_date(session, infused_at)
    reasons = _follow_up_reasons(row, symptoms, active.plan)
    if amended is None:
        stock_words, stock_reasons = _take_from_home(session, principal, row, lot, when)
        reasons += stock_reasons
    else:
        stock_words = "A correction does not change the stock at your home."
        if (row.lot_id, row.lot_number, row.vials) != (amended.lot_id, amended.lot_number, amended.vials):
            open_task(
                session,
                RECONCILE_TASK,
                "pharmacist",
                patient_id,
                f"Home stock to reconcile: entry {amended.id} corrected to {row.vials} vial(s) of lot "
                f"'{row.lot_number}'",
                {
                    "self_infusion_id": row.id,
                    "href": f"/patients/{patient_id}#h-home-supply",
                    "todo": "Correct the home stock if the lot or the vials used were not as first logged",
                },
            )
            stock_words = "The pharmacy will check the stock at your home against this correction."
    root = root_of(session, row)
    raised = _raised_for(session, patient_id, root)
    new_reasons = [(key, words) for key, words in reasons if key not in raised]
    opened = None
    if new_reasons:
        opened = open_task(
            session,
            FOLLOW_UP_TASK,
            "nurse",
            patient_id,
            f"Self-infusion on {when.isoformat()}: "
            + "; ".join(_SHORT[key](row) for key, _words in new_reasons),
            {
                "self_infusion_id": row.id,
                "event_id": root,
                "reason_keys": [key for key, _words in new_reasons],
                "reasons": [words for _key, words in new_reasons],
                "href": f"/patients/{patient_id}#h-home-supply",
                "checklist": NURSE_CHECKLIST,
            },
        )
    audit.record(
        session,
        principal.actor,
        "self_infusion.log" if amended is None else "self_infusion.correct",
        "self_infusion",
        row.id,
        patient_id=patient_id,
        detail={
            "order_id": active.order.id,
            "amends_id": row.amends_id,
            "reaction_grade": grade,
            "lot_id": row.lot_id,
            "vials": row.vials,
            "follow_up_task_id": opened.id if opened is not None else None,
        },
    )
    session.commit()
    return _out(row, None, {"stock_words": stock_words, "follow_up": [words for _key, words in reasons]})


def _log_view(session: Session, patient_id: int) -> SelfLogOut:
    active = active_order(session, patient_id)
    last, due = due_next(session, patient_id, active)
    today = utcnow().astimezone(tz(session)).date()
    rows = entries(session, patient_id)
    return SelfLogOut(
        patient_id=patient_id,
        plan=plan_words(active) if active is not None else None,
        no_plan_words="" if active is not None else due_words(None, None, today, None),
        last_infused_at=last,
        due_on=due,
        due_words=due_words(due, last, today, active),
        overdue=due is not None and due < today,
        entries=_outs(rows),
        home_stock=[],
    )


def my_log(session: Session, principal: Principal) -> SelfLogOut:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    return log_for_patient(session, principal, principal.patient_id)


def log_for_patient(session: Session, principal: Principal, patient_id: int) -> SelfLogOut:
    """The log, what is due, the plan in plain words and the stock at home (the patient's page, the chart)."""
    from igflow.home.service.deliveries import stock_at_home

    patients_service.check_access(session, principal, patient_id)
    view = _log_view(session, patient_id)
    audit.record(
        session,
        principal.actor,
        "self_infusion.read",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"returned_ids": [e.id for e in view.entries]},
    )
    session.commit()
    view.home_stock = stock_at_home(session, principal, patient_id)
    return view
