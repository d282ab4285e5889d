"""Recall trace: every patient, date, site and appointment that received a lot (dispensed net of returns),
as rows, audited per patient, and as CSV."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.errors import NotFound
from igflow.inventory.models import InventoryLot, StockMove
from igflow.inventory.schemas import TraceRow
from igflow.inventory.service._common import lot_number_is
from igflow.patients.models import Patient
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites.models import Site


def trace_lot(session: Session, principal: Principal, lot_number: str) -> list[TraceRow]:
    """Every patient, date, site and appointment that received the lot (dispensed net of returns)."""
    return trace_lot_as(session, principal.actor, lot_number, principal.site_ids)


def trace_lot_as(
    session: Session, actor: audit.Actor, lot_number: str, site_ids: frozenset[int] | None = None
) -> list[TraceRow]:
    """``trace_lot`` for an actor without a web session (the CLI); ``site_ids`` limits the sites shown."""
    lots = {
        lot.id: lot
        for lot in session.execute(select(InventoryLot).where(lot_number_is(lot_number))).scalars()
    }
    if not lots:
        raise NotFound(f"lot {lot_number!r} not found", "lot")
    rows = session.execute(
        select(StockMove, Appointment, Patient, Site)
        .join(Appointment, Appointment.id == StockMove.appointment_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Site, Site.id == Appointment.site_id)
        .where(StockMove.lot_id.in_(list(lots)), StockMove.kind.in_(("dispense", "return")))
        .order_by(Appointment.date, Appointment.id, StockMove.id)
    ).all()
    net: dict[tuple[int, int], int] = {}
    info: dict[tuple[int, int], tuple[Appointment, Patient, Site]] = {}
    for move, appt, patient, site in rows:
        if site_ids is not None and site.id not in site_ids:
            continue
        key = (appt.id, move.lot_id)
        net[key] = net.get(key, 0) + (move.count if move.kind == "dispense" else -move.count)
        info[key] = (appt, patient, site)
    out: list[TraceRow] = []
    for key, vials in net.items():
        if vials <= 0:
            continue
        appt, patient, site = info[key]
        lot = lots[key[1]]
        out.append(
            TraceRow(
                patient_id=patient.id,
                patient_name=f"{patient.family_name}, {patient.given_name}",
                mrn=patient.mrn,
                date=appt.date,
                site_code=site.code,
                site_name=site.name,
                appointment_id=appt.id,
                lot_id=lot.id,
                lot_number=lot.lot_number,
                product_id=lot.product_id,
                vial_count=vials,
            )
        )
    for patient_id in sorted({row.patient_id for row in out}):
        audit.record(
            session,
            actor,
            "inventory.trace.read",
            "patient",
            patient_id,
            patient_id=patient_id,
            detail={"lot_number": lot_number},
        )
    audit.record(
        session,
        actor,
        "inventory.trace",
        "inventory_lot",
        ",".join(str(i) for i in sorted(lots)),
        detail={"lot_number": lot_number, "rows": len(out)},
    )
    session.commit()
    return out


def trace_csv(rows: list[TraceRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["patient", "mrn", "date", "site", "appointment", "lot", "product", "vials"])
    for row in rows:
        writer.writerow(
            [
                row.patient_name,
                row.mrn,
                row.date.isoformat(),
                row.site_code,
                row.appointment_id,
                row.lot_number,
                row.product_id,
                row.vial_count,
            ]
        )
    return buffer.getvalue()
