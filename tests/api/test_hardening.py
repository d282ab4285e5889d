"""Deny by default, security headers, clean errors, and no patient data in the logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import APIRouter

from igflow.app import check_route_permissions, create_app, iter_routes
from igflow.security.deps import route_permissions
from tests.conftest import World


def test_every_route_declares_exactly_one_permission(app: Any) -> None:
    routes = iter_routes(app)
    assert len(routes) > 50
    for path, methods, route in routes:
        assert len(route_permissions(route)) == 1, f"{methods} {path}"
    assert check_route_permissions(app) == []


def test_the_app_refuses_to_start_with_a_route_that_declares_no_permission(settings: Any, db: Any) -> None:
    import igflow.app as app_module

    rogue = APIRouter()

    @rogue.get("/api/v1/rogue")
    def rogue_route() -> dict[str, str]:
        return {"secret": "open to all"}

    original = app_module.directory_router
    combined = APIRouter()
    combined.include_router(original)
    combined.include_router(rogue)
    app_module.directory_router = combined
    try:
        with pytest.raises(RuntimeError, match="/rogue: 0 permissions declared"):
            create_app(settings, db)
    finally:
        app_module.directory_router = original


def test_security_headers_on_pages_and_api(world: World) -> None:
    client = world.client("nurse")
    for url in ("/login", "/patients", "/api/v1/patients", "/static/app.css"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert client.get("/patients").headers["cache-control"] == "no-store"


def test_pages_hold_no_inline_scripts_or_styles(world: World) -> None:
    client = world.client("pharmacist")
    ann = world.patients["ann"]
    for url in ("/", "/patients", f"/patients/{ann}", "/referrals", "/admin/sites", "/docs"):
        html = client.get(url).text
        assert "<script>" not in html and "<script type" not in html, url
        assert " style=" not in html and "<style" not in html, url
        assert "onclick=" not in html and "javascript:" not in html, url


def test_every_page_carries_the_decision_support_banner(world: World) -> None:
    for user, url in (("nurse", "/patients"), ("admin", "/admin/users"), (None, "/login")):
        assert "does not replace clinical judgement" in world.client(user).get(url).text


def test_a_patient_reads_a_note_for_patients_not_the_clinicians_banner(world: World) -> None:
    html = world.client("patient.ann").get("/my").text
    assert "does not replace clinical judgement" not in html
    assert "Your infusion team decides your treatment with you" in html


def test_unexpected_error_is_a_500_with_a_reference_and_no_stack_trace(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from igflow.patients import service

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("SELECT * FROM patient WHERE family_name='Northwood'")

    monkeypatch.setattr(service, "read_shape", boom)
    client = world.client("nurse", raise_server_exceptions=False)
    with caplog.at_level(logging.INFO):
        api = client.get(f"/api/v1/patients/{world.patients['ann']}")
    assert api.status_code == 500
    assert "reference" in api.json()["detail"]
    assert "Traceback" not in api.text and "Northwood" not in api.text
    assert "Northwood" not in caplog.text
    assert "RuntimeError" in caplog.text  # the log still says what failed, and where


def test_numbers_beyond_64_bits_are_a_clean_422(world: World) -> None:
    """Found by schemathesis: huge ids and pages reached the database driver and came back as 500s."""
    client = world.client("pharmacist")
    huge = 2**80
    assert client.get(f"/api/v1/patients/{huge}").status_code == 422
    assert client.get("/api/v1/patients", params={"page": huge}).status_code == 422
    response = client.put(f"/api/v1/referrals/{huge}/decision", json={"status": "accepted", "version": 1})
    assert response.status_code == 422 and "out of range" in response.json()["detail"]


def test_unknown_route_and_wrong_method_are_clean_4xx(world: World) -> None:
    client = world.client("nurse")
    assert client.get("/api/v1/nothing-here").json() == {"detail": "Not found."}
    assert client.delete("/api/v1/sites").status_code == 405
    assert client.get("/nothing-here").status_code == 404


def test_no_patient_data_in_application_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    intake = world.client("intake")
    with caplog.at_level(logging.DEBUG):
        created = intake.post(
            "/api/v1/patients",
            json={
                "mrn": "LOG0042",
                "given_name": "Theodora",
                "family_name": "Quennell",
                "date_of_birth": "1944-02-29",
                "sex": "female",
                "phone": "555-867-5309",
                "site_ids": [world.sites["north"]],
            },
        )
        pid = created.json()["id"]
        intake.get("/api/v1/patients", params={"q": "Quennell Theodora"})
        intake.get("/patients?q=Quennell&dob=1944-02-29")
        intake.get(f"/api/v1/patients/{pid}")
        intake.patch(f"/api/v1/patients/{pid}", json={"family_name": "Quennell-Smythe", "version": 1})
        intake.post(
            f"/api/v1/patients/{pid}/measurements",
            json={"kind": "weight_kg", "value": 1000, "measured_on": "2026-01-01"},
        )
    # The test client's own transport logs full URLs; only the server side is igflow's to keep clean.
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert server_side, "requests are logged"
    text = "\n".join(r.getMessage() for r in server_side)
    for secret in ("Theodora", "Quennell", "LOG0042", "1944-02-29", "867-5309", "1000"):
        assert secret not in text, f"{secret!r} leaked into the logs"
    assert "/api/v1/patients/{patient_id}" in text  # the route template is logged instead
