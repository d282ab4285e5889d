"""The home-supply panel of the patient's chart: deliveries, the vials at the patient's home (and those
held after an excursion), and the patient's own log of self-infusions with what is due next."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from igflow.home.service import deliveries, selflog
from igflow.home.service.selflog_plan import tz
from igflow.security.principal import Principal


def patient_panel(session: Session, principal: Principal, patient_id: int) -> dict[str, Any]:
    """The panel's content (each read audited with the patient's id by its service)."""
    log = selflog.log_for_patient(session, principal, patient_id)
    return {
        "deliveries": deliveries.for_patient(session, principal, patient_id, limit=10),
        "log": log,
        "tz": tz(session),
    }
