"""Role-matrix rows for home visits: nurses, days off, routes, routing runs (for test_role_matrix.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import World

PHARM, NURSE, SCHED, PRESC = "pharmacist", "nurse", "scheduler", "prescriber"
HOME_READ = {PHARM, NURSE, SCHED, PRESC}
HOME_PLAN = {SCHED}

HOME_VISITS_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/home/nurses", HOME_READ),
    ("POST", "/api/v1/home/nurses", HOME_PLAN),
    ("PUT", "/api/v1/home/nurses/{home_nurse}", HOME_PLAN),
    ("POST", "/api/v1/home/nurses/{home_nurse}/absences", HOME_PLAN),
    ("GET", "/api/v1/home/routes", HOME_READ),
    ("POST", "/api/v1/home/routing-runs", HOME_PLAN),
    ("GET", "/api/v1/home/routing-runs/{routing_run}", HOME_PLAN),
    ("POST", "/api/v1/home/routing-runs/{routing_run}/publish", HOME_PLAN),
    ("POST", "/api/v1/home/routing-runs/{routing_run}/discard", HOME_PLAN),
    ("GET", "/home", HOME_READ),
    ("GET", "/home/routes", HOME_READ),
    ("GET", "/home/my-day", HOME_READ),
    ("POST", "/home/routing", HOME_PLAN),
    ("GET", "/home/runs/{routing_run}", HOME_PLAN),
    ("POST", "/home/runs/{routing_run}/publish", HOME_PLAN),
    ("POST", "/home/runs/{routing_run}/discard", HOME_PLAN),
    ("GET", "/home/nurses", HOME_READ),
    ("GET", "/home/nurses/new", HOME_PLAN),
    ("POST", "/home/nurses", HOME_PLAN),
    ("GET", "/home/nurses/{home_nurse}", HOME_READ),
    ("POST", "/home/nurses/{home_nurse}", HOME_PLAN),
    ("POST", "/home/nurses/{home_nurse}/absences", HOME_PLAN),
]


def home_visit_ids(world: World, ids: dict[str, Any]) -> dict[str, int]:
    """A home-infusion site with one nurse, and a draft routing run."""
    from igflow.home.models import HomeNurse, RoutingRun
    from igflow.sites.models import Site

    with world.db.session() as session:
        site = Site(
            code="matrix-home", name="Matrix home service", kind="home", timezone="America/Los_Angeles"
        )
        session.add(site)
        session.flush()
        nurse = HomeNurse(
            site_id=site.id, name="Matrix nurse", home_lat=34.0, home_lon=-118.2, skills=["ivig_home"]
        )
        session.add(nurse)
        run = RoutingRun(
            start_date=dt.date(2026, 12, 7),
            days=7,
            status="draft",
            instance={
                "routing": {"visits": [], "nurses": []},
                "new_sessions": {},
                "booked": {},
                "courses": {},
            },
            plan={"routes": [], "unassigned": [], "solver": "test"},
            figures={"optimiser": {}, "greedy": {}},
        )
        session.add(run)
        session.commit()
        return {"home_nurse": nurse.id, "routing_run": run.id}
