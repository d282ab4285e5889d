"""Small hand-made contract documents for the scheduling tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

WEEK_OPEN = {"mon": ["08:00", "12:00"], "tue": ["08:00", "12:00"], "wed": ["08:00", "12:00"],
             "thu": ["08:00", "12:00"], "fri": ["08:00", "12:00"], "sat": None, "sun": None}  # fmt: skip
WEEK_NURSES = {"mon": 1, "tue": 1, "wed": 1, "thu": 1, "fri": 1, "sat": 0, "sun": 0}


def site(site_id: str = "north", chairs: int = 2, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": site_id,
        "chairs": chairs,
        "open": copy.deepcopy(WEEK_OPEN),
        "nurses": dict(WEEK_NURSES),
        "patients_per_nurse": 2,
        "starts_per_nurse_per_slot": 1,
        "closed_dates": [],
    }
    doc.update(over)
    return doc


def session(sid: str, patient: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": sid,
        "patient": patient,
        "duration_min": 120,
        "sites": ["north"],
        "earliest": "2027-01-04",
        "latest": "2027-01-05",
        "target": "2027-01-04",
        "priority": 3,
        "after": None,
        "preferred_start": None,
        "fixed": None,
    }
    doc.update(over)
    return doc


def instance(
    sessions: list[dict[str, Any]], sites: list[dict[str, Any]] | None = None, **over: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "igflow.schedule-instance/1",
        "slot_minutes": 60,
        "start_date": "2027-01-04",  # a Monday
        "days": 3,
        "sites": sites if sites is not None else [site()],
        "sessions": sessions,
    }
    doc.update(over)
    return doc


def assignment(
    sid: str, date: str = "2027-01-04", start: str = "08:00", chair: int = 1, site_id: str = "north"
) -> dict[str, Any]:
    return {"session": sid, "site": site_id, "chair": chair, "date": date, "start": start}


def schedule(assignments: list[dict[str, Any]], unscheduled: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "format": "igflow.schedule/1",
        "assignments": assignments,
        "unscheduled": [{"session": s, "reason": "test"} for s in unscheduled],
        "stats": {"solver": "test", "status": "FEASIBLE", "solve_seconds": 0.0},
    }


@pytest.fixture
def docs() -> Any:
    """Access to the builders above from tests."""
    import types

    return types.SimpleNamespace(
        site=site, session=session, instance=instance, assignment=assignment, schedule=schedule
    )
