"""An IgG trough below the target of a patient's subcutaneous product opens a pharmacist's review task, with
the label table's change where the catalog holds the row, else the advice to adjust by clinical response."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.api.test_scheduling_api import _patient
from tests.api.test_scig_orders_api import _sc_order
from tests.conftest import World

TODAY = dt.date.today()


def _trough(world: World, pid: int, value: float, on: dt.date = TODAY) -> Any:
    response = world.client("prescriber").post(
        f"/api/v1/patients/{pid}/outcomes",
        json={"measure_id": "igg-trough", "value": value, "measured_on": on.isoformat(), "method": "review"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _trough_tasks(world: World) -> list[dict[str, Any]]:
    tasks = world.client("pharmacist").get("/api/v1/tasks", params={"queue": "pharmacist"}).json()
    return [t for t in tasks if t["kind"] == "trough_review"]


def _weigh(world: World, pid: int, kg: float) -> None:
    world.client("nurse").post(
        f"/api/v1/patients/{pid}/measurements",
        json={"kind": "weight_kg", "value": kg, "measured_on": TODAY.isoformat()},
    )


def test_a_trough_below_the_target_opens_a_pharmacist_task_with_the_label_row(world: World) -> None:
    pid = _patient(world, "una", "TR0001")
    _weigh(world, pid, 110)
    order = _sc_order(world, pid).json()  # Cuvitru: EU SmPC target at least 5 g/L, aim 6 g/L
    # 5.0 g/L is 1 g/L = 100 mg/dL short of 6 g/L; the table's row for 100 mg/dL at 110 kg: +11 mL a week
    reading = _trough(world, pid, 5.0)
    [task] = _trough_tasks(world)
    assert task["detail"]["order_id"] == order["id"] and task["detail"]["reading_id"] == reading["id"]
    assert task["detail"]["gap_mg_per_dl"] == (6.0 - 5.0) * 100
    assert task["detail"]["change_ml"] == 11 and task["detail"]["verified"] is False
    assert "+11 mL a week" in task["detail"]["suggestion"] and "Cuvitru" in task["title"]


def test_no_row_no_interpolation_and_no_task_at_target(world: World) -> None:
    pid = _patient(world, "una", "TR0002")  # 70 kg: the catalog holds Cuvitru's rows at 30 and 110 kg only
    _sc_order(world, pid)
    _trough(world, pid, 6.5)  # above the aim: no task
    assert _trough_tasks(world) == []
    _trough(world, pid, 4.0)  # 200 mg/dL short: no row in the catalog
    [task] = _trough_tasks(world)
    assert task["detail"]["suggestion"] is None
    assert (
        "adjust by clinical response; the label table row is not in the catalog"
        in task["detail"]["assessment"]
    )
    assert "does not interpolate" in task["detail"]["assessment"]


def test_no_task_without_a_target_or_before_the_switch(world: World) -> None:
    pid = _patient(world, "una", "TR0003")
    _sc_order(world, pid, product_id="cutaquig")  # no target in the catalog: the prescriber sets it
    _trough(world, pid, 3.0)
    assert _trough_tasks(world) == []
    other = _patient(world, "vic", "TR0004")
    _sc_order(world, other)
    _trough(world, other, 3.0, on=TODAY - dt.timedelta(days=30))  # the IV regimen's trough, before the order
    assert _trough_tasks(world) == []
