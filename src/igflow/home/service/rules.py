"""Home-therapy rules applied when an infusion is signed: a reaction at home of the catalog's grade or more
sends the next dose to a centre until a pharmacist clears the patient for home again (a pharmacist task)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.catalog import Catalog
from igflow.infusions.models import InfusionRecord, WorkTask
from igflow.sites.models import Site

CLEARANCE_TASK = "home_clearance"


def after_sign(session: Session, record: InfusionRecord, catalog: Catalog) -> WorkTask | None:
    """The clearance task for a home infusion with a reaction at or above the catalog's grade, else None."""
    threshold = catalog.home.reaction_at_home.centre_from_grade.value
    if threshold is None or record.max_reaction_grade < threshold:
        return None
    appt = session.get(Appointment, record.appointment_id)
    site = session.get(Site, appt.site_id) if appt is not None else None
    if appt is None or site is None or site.kind != "home":
        return None
    task = WorkTask(
        kind=CLEARANCE_TASK,
        queue="pharmacist",
        patient_id=record.patient_id,
        record_id=record.id,
        title=f"Grade {record.max_reaction_grade} reaction at home on {appt.date.isoformat()}",
        detail={
            "checklist": [
                {"id": "cleared", "label": "Cleared for home: the next dose may be given at home"},
            ],
            "rule": catalog.home.reaction_at_home.centre_from_grade.source,
        },
        status="open",
    )
    session.add(task)
    session.flush()
    return task
