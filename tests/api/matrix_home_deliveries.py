"""Role-matrix rows for deliveries to a patient's home, their cold chain, and the patient's own infusion
log (imported by test_role_matrix.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tests.conftest import World

PHARM, NURSE, SCHED, PRESC, PATIENT = "pharmacist", "nurse", "scheduler", "prescriber", "patient.ann"
HOME_READ = {PHARM, NURSE, SCHED, PRESC}  # Perm.HOME_READ
WRITE = {PHARM}  # Perm.DELIVERY_WRITE
RECEIVE = {NURSE}  # Perm.DELIVERY_RECEIVE
SELF = {PATIENT}  # Perm.PATIENT_SELF

HOME_DELIVERIES_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/deliveries", HOME_READ),
    ("GET", "/api/v1/deliveries/queue", HOME_READ),
    ("POST", "/api/v1/deliveries", WRITE),
    ("GET", "/api/v1/deliveries/{delivery}", HOME_READ),
    ("POST", "/api/v1/deliveries/{delivery}/pack", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/ship", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/readings", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/delivered", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/receive", RECEIVE),
    ("POST", "/api/v1/deliveries/{delivery}/excursion", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/release", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/waste", WRITE),
    ("POST", "/api/v1/deliveries/{delivery}/cancel", WRITE),
    ("GET", "/api/v1/patients/{ann}/deliveries", HOME_READ),
    ("GET", "/api/v1/patients/{ann}/home-stock", HOME_READ),
    ("GET", "/api/v1/me/deliveries", SELF),
    ("POST", "/api/v1/me/deliveries/{delivery}/receive", SELF),
    ("GET", "/api/v1/me/self-infusions", SELF),
    ("POST", "/api/v1/me/self-infusions", SELF),
    ("GET", "/api/v1/patients/{ann}/self-infusions", HOME_READ),
    ("GET", "/deliveries", HOME_READ),
    ("POST", "/deliveries", WRITE),
    ("GET", "/deliveries/{delivery}", HOME_READ),
    ("POST", "/deliveries/{delivery}/pack", WRITE),
    ("POST", "/deliveries/{delivery}/ship", WRITE),
    ("POST", "/deliveries/{delivery}/readings", WRITE),
    ("POST", "/deliveries/{delivery}/delivered", WRITE),
    ("POST", "/deliveries/{delivery}/receive", RECEIVE),
    ("POST", "/deliveries/{delivery}/excursion", WRITE),
    ("POST", "/deliveries/{delivery}/release", WRITE),
    ("POST", "/deliveries/{delivery}/waste", WRITE),
    ("POST", "/deliveries/{delivery}/cancel", WRITE),
    ("GET", "/my/self-infusions", SELF),
    ("POST", "/my/self-infusions", SELF),
    ("POST", "/my/deliveries/{delivery}/receive", SELF),
]


def home_delivery_ids(world: Any, ids: dict[str, int]) -> dict[str, int]:
    """A planned delivery of one vial to Ann's home (``ids["lot"]``: the inventory rows' lot at North)."""
    from igflow.sites.models import Site

    assert isinstance(world, World)
    with world.db.session() as session:
        if session.execute(select(Site.id).where(Site.kind == "home")).first() is None:
            session.add(
                Site(code="home-supply", name="Home supply", kind="home", timezone="America/Los_Angeles")
            )
            session.commit()
    planned = world.client("pharmacist").post(
        "/api/v1/deliveries",
        json={
            "patient_id": ids["ann"],
            "from_site_id": ids["north"],
            "needed_by": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "lines": [{"lot_id": ids["lot"], "vials": 1}],
        },
    )
    assert planned.status_code == 201, planned.text
    return {"delivery": int(planned.json()["id"])}
