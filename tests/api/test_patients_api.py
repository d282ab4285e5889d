"""Patients through the API: search, paging, site limits, own view, optimistic locking, history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from igflow.security.models import AuditEvent
from tests.conftest import World

NEW = {
    "mrn": "TST0100",
    "given_name": "Maren",
    "family_name": "Lindqvist",
    "date_of_birth": "1961-03-04",
    "sex": "female",
    "email": "maren@example.org",
}


def _create(world: World, **changes: Any) -> Any:
    body = {**NEW, "site_ids": [world.sites["north"]], **changes}
    return world.client("intake").post("/api/v1/patients", json=body)


def test_create_then_find_by_name_mrn_and_date_of_birth(world: World) -> None:
    created = _create(world)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == 'W/"1"'
    nurse = world.client("nurse")
    by_name = nurse.get("/api/v1/patients", params={"q": "lindq mar"}).json()
    assert [p["mrn"] for p in by_name["items"]] == ["TST0100"]
    by_mrn = nurse.get("/api/v1/patients", params={"q": "tst0100"}).json()
    assert by_mrn["total"] == 1
    by_dob = nurse.get("/api/v1/patients", params={"date_of_birth": "1961-03-04"}).json()
    assert [p["family_name"] for p in by_dob["items"]] == ["Lindqvist"]
    assert nurse.get("/api/v1/patients", params={"q": "nobody-by-that-name"}).json()["total"] == 0


def test_paging_and_sorting(world: World) -> None:
    for i in range(7):
        assert _create(world, mrn=f"PG{i:04d}", family_name=f"Pager{chr(ord('a') + i)}").status_code == 201
    nurse = world.client("nurse")
    page1 = nurse.get("/api/v1/patients", params={"q": "pager", "page_size": 3, "sort": "-name"}).json()
    page3 = nurse.get(
        "/api/v1/patients", params={"q": "pager", "page_size": 3, "page": 3, "sort": "-name"}
    ).json()
    assert page1["total"] == 7
    assert [p["family_name"] for p in page1["items"]] == ["Pagerg", "Pagerf", "Pagere"]
    assert [p["family_name"] for p in page3["items"]] == ["Pagera"]
    bad = nurse.get("/api/v1/patients", params={"sort": "shoe_size"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "sort"


def test_site_limited_user_sees_only_their_sites_patients(world: World) -> None:
    north_nurse = world.client("nurse.north")
    listed = north_nurse.get("/api/v1/patients").json()
    assert [p["mrn"] for p in listed["items"]] == ["TST0001"]
    assert north_nurse.get(f"/api/v1/patients/{world.patients['ann']}").status_code == 200
    # Another site's patient is not found (the answer does not reveal that the record exists).
    assert north_nurse.get(f"/api/v1/patients/{world.patients['sol']}").status_code == 404
    assert north_nurse.get(f"/api/v1/patients/{world.patients['sol']}/measurements").status_code == 404


def test_patient_sees_only_themself(world: World) -> None:
    me = world.client("patient.ann")
    record = me.get("/api/v1/me/patient")
    assert record.status_code == 200
    assert record.json()["mrn"] == "TST0001"
    assert me.get(f"/api/v1/patients/{world.patients['sol']}").status_code == 403
    assert (
        me.get(f"/api/v1/patients/{world.patients['ann']}").status_code == 403
    )  # staff route, own id or not
    assert me.get("/api/v1/patients").status_code == 403


def test_scheduler_reads_demographics_but_not_clinical_facts(world: World) -> None:
    shape = world.client("scheduler").get(f"/api/v1/patients/{world.patients['ann']}").json()
    assert shape["mrn"] == "TST0001"
    assert "allergies" not in shape and "latest" not in shape
    clinical = world.client("nurse").get(f"/api/v1/patients/{world.patients['ann']}").json()
    assert clinical["allergies"] == "Penicillin"


def test_two_editors_cannot_silently_overwrite_each_other(world: World) -> None:
    url = f"/api/v1/patients/{world.patients['ann']}"
    first, second = world.client("pharmacist"), world.client("intake")
    etag = first.get(url).headers["etag"]
    assert second.get(url).headers["etag"] == etag
    ok = first.patch(url, json={"phone": "555-0100"}, headers={"If-Match": etag})
    assert ok.status_code == 200
    assert ok.headers["etag"] == 'W/"2"'
    late = second.patch(url, json={"phone": "555-0199"}, headers={"If-Match": etag})
    assert late.status_code == 409
    assert "changed by someone else" in late.json()["detail"]
    assert first.get(url).json()["phone"] == "555-0100"
    missing = second.patch(url, json={"phone": "555-0199"})
    assert missing.status_code == 428
    by_field = second.patch(url, json={"phone": "555-0199", "version": 2})
    assert by_field.status_code == 200


def test_bad_input_is_a_clear_4xx_naming_the_field(world: World) -> None:
    intake = world.client("intake")
    for changes, field in (
        ({"mrn": "!"}, "mrn"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"sex": "robot"}, "sex"),
        ({"email": "not-an-email"}, "email"),
        ({"site_ids": [99999]}, "site_ids"),
        ({"unexpected": 1}, "unexpected"),
    ):
        response = intake.post("/api/v1/patients", json={**NEW, **changes})
        assert response.status_code == 422, (changes, response.text)
        assert field in response.json()["detail"], response.json()
    duplicate = _create(world, mrn="TST0001")
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "mrn"
    assert intake.get("/api/v1/patients/not-a-number").status_code == 422


def test_measurements_keep_history_and_corrections_point_to_the_row_they_amend(world: World) -> None:
    nurse = world.client("nurse")
    url = f"/api/v1/patients/{world.patients['ann']}/measurements"
    first = nurse.post(url, json={"kind": "weight_kg", "value": 81.0, "measured_on": "2026-10-01"}).json()
    nurse.post(url, json={"kind": "weight_kg", "value": 79.5, "measured_on": "2026-11-01"})
    no_reason = nurse.post(
        url, json={"kind": "weight_kg", "value": 71.0, "measured_on": "2026-10-01", "amends_id": first["id"]}
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "note"
    fixed = nurse.post(
        url,
        json={
            "kind": "weight_kg",
            "value": 71.0,
            "measured_on": "2026-10-01",
            "amends_id": first["id"],
            "note": "scale in pounds",
        },
    )
    assert fixed.status_code == 201
    history = nurse.get(url, params={"kind": "weight_kg"}).json()
    assert [m["value"] for m in history] == [81.0, 71.0, 79.5]  # nothing overwritten
    latest = nurse.get(f"/api/v1/patients/{world.patients['ann']}").json()["latest"]
    assert latest["weight_kg"]["value"] == 79.5


@pytest.mark.parametrize(
    ("kind", "value"),
    [("weight_kg", 0.1), ("weight_kg", 900), ("height_cm", 2.5), ("creatinine_umol_per_l", 0.9)],
)
def test_measurement_in_the_wrong_unit_is_refused(world: World, kind: str, value: float) -> None:
    response = world.client("nurse").post(
        f"/api/v1/patients/{world.patients['ann']}/measurements",
        json={"kind": kind, "value": value, "measured_on": "2026-11-01"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "value"
    assert "check the unit" in response.json()["detail"]


def test_every_read_and_write_of_patient_data_is_audited(world: World) -> None:
    nurse = world.client("nurse")
    pid = world.patients["ann"]

    def count(action: str) -> int:
        with world.db.session() as session:
            return int(
                session.execute(select(func.count()).where(AuditEvent.action == action)).scalar_one()  # type: ignore[arg-type]
            )

    before = {
        a: count(a) for a in ("patient.read", "patient.search", "measurement.create", "measurement.list")
    }
    nurse.get(f"/api/v1/patients/{pid}")
    nurse.get("/api/v1/patients", params={"q": "north"})
    nurse.post(
        f"/api/v1/patients/{pid}/measurements",
        json={"kind": "height_cm", "value": 170, "measured_on": "2026-11-01"},
    )
    nurse.get(f"/api/v1/patients/{pid}/measurements")
    nurse.get(f"/patients/{pid}")  # the chart page reads the record and its measurements
    after = {a: count(a) for a in before}
    assert after["patient.read"] == before["patient.read"] + 2
    assert after["patient.search"] == before["patient.search"] + 1
    assert after["measurement.create"] == before["measurement.create"] + 1
    assert after["measurement.list"] == before["measurement.list"] + 2
    with world.db.session() as session:
        row = session.execute(select(AuditEvent).where(AuditEvent.action == "patient.read")).scalars().first()
    assert row is not None and row.actor == "nurse" and row.patient_id == pid


def test_search_finds_last_comma_first_a_part_of_the_mrn_and_a_typed_date_of_birth(world: World) -> None:
    client = world.client("pharmacist")

    def found(q: str) -> list[str]:
        response = client.get("/api/v1/patients", params={"q": q})
        assert response.status_code == 200, response.text
        return [p["mrn"] for p in response.json()["items"]]

    assert found("Northwood, Annika") == ["TST0001"]
    assert found("northwood,ann") == ["TST0001"]
    assert found("0002") == ["TST0002"]  # a part of an MRN
    assert sorted(found("1970-05-17")) == ["TST0001", "TST0002"]
    assert sorted(found("05/17/1970 south")) == ["TST0002"]
    assert found("02/30/1970") == []  # not a date, not a name
