"""The Low findings of the security review (issue 9), each as a user or a script meets it: sign-in
throttling that others cannot turn into a lock-out, proxy headers, the pre-login CSRF cookie, inputs
the domain does not allow (NUL, duplicate keys, implausible dates and numbers, bad time zones),
streamed uploads, SQL parameters in logs, and an OpenAPI document that tells the truth."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from igflow.app import create_app
from igflow.config import Settings
from igflow.security import service as security_service
from igflow.security.deps import CSRF_HEADER, PRELOGIN_CSRF_COOKIE, SESSION_COOKIE
from igflow.security.models import AuditEvent, LoginAttempt, User
from tests.conftest import TEST_PASSWORD, World

# --- helpers ---------------------------------------------------------------------------------------


def _anonymous(world: World, address: str, app: Any = None) -> TestClient:
    return TestClient(
        app or world.app, base_url="http://testserver", follow_redirects=False, client=(address, 40000)
    )


def _sign_in(world: World, username: str, password: str, address: str = "198.51.100.7") -> Any:
    client = _anonymous(world, address)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token[1]})


def _patient(world: World, **changes: Any) -> dict[str, Any]:
    body = {
        "mrn": "HRD0001",
        "given_name": "Test",
        "family_name": "Person",
        "date_of_birth": "1960-03-04",
        "sex": "female",
        "site_ids": [world.sites["north"]],
    }
    body.update(changes)
    return body


# --- 1. roles and site limits -----------------------------------------------------------------------


def test_roles_that_overlap_the_old_ones_are_saved_and_site_limits_kept(world: World) -> None:
    """Was a 500: the new role rows were inserted before the old ones were deleted."""
    admin = world.client("admin")
    target = world.users["nurse.north"]
    response = admin.put(f"/api/v1/users/{target}/roles", json={"roles": ["nurse", "scheduler"]})
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["nurse", "scheduler"]
    assert response.json()["site_ids"] == [world.sites["north"]]  # left out: unchanged
    again = admin.put(
        f"/api/v1/users/{target}/roles",
        json={"roles": ["scheduler"], "site_ids": [world.sites["north"], world.sites["south"]]},
    )
    assert again.status_code == 200, again.text
    assert sorted(again.json()["site_ids"]) == sorted(world.sites.values())


def test_an_admin_sets_a_users_site_limits_audited_and_validated(world: World) -> None:
    admin = world.client("admin")
    nurse = world.client("nurse.north")
    target = world.users["nurse.north"]
    url = f"/api/v1/users/{target}/sites"
    moved = admin.put(url, json={"site_ids": [world.sites["south"]]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["site_ids"] == [world.sites["south"]]
    assert nurse.get("/api/v1/me").status_code == 401  # the new limits take effect at once
    with world.db.session() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.sites_change")
        ).scalar_one()
        assert json.loads(event.detail) == {"before": [world.sites["north"]], "after": [world.sites["south"]]}
    unknown = admin.put(url, json={"site_ids": [999999]})
    assert unknown.status_code == 422 and "unknown site" in unknown.json()["detail"]
    boolean = admin.put(url, json={"site_ids": [True]})
    assert boolean.status_code == 422 and boolean.json()["field"] == "site_ids.0"
    assert admin.put(url, json={"site_ids": []}).json()["site_ids"] == []  # every site
    assert world.client("nurse").put(url, json={"site_ids": []}).status_code == 403


# --- 2. sign-in throttling --------------------------------------------------------------------------


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(world: World) -> None:
    limit = world.app.state.settings.login_max_failures_per_account
    for _ in range(limit):
        assert _sign_in(world, "pharmacist", "wrong-password-x", address="203.0.113.66").status_code == 400
    # The attacker's address is throttled for this account, even with the right password ...
    assert _sign_in(world, "pharmacist", TEST_PASSWORD, address="203.0.113.66").status_code == 429
    # ... the owner, from their own address, is not.
    owner = _sign_in(world, "pharmacist", TEST_PASSWORD, address="198.51.100.7")
    assert owner.status_code == 303


def test_many_failures_from_many_addresses_throttle_all_but_known_addresses(world: World) -> None:
    settings = world.app.state.settings
    settings.login_max_failures_per_account_any_address = 6
    assert _sign_in(world, "pharmacist", TEST_PASSWORD, address="198.51.100.7").status_code == 303
    for i in range(6):
        _sign_in(world, "pharmacist", "wrong-password-x", address=f"203.0.113.{i + 1}")
    assert _sign_in(world, "pharmacist", TEST_PASSWORD, address="203.0.113.200").status_code == 429
    assert _sign_in(world, "pharmacist", TEST_PASSWORD, address="198.51.100.7").status_code == 303


def test_the_owner_sees_recent_failed_sign_ins(world: World) -> None:
    assert _sign_in(world, "nurse", TEST_PASSWORD).status_code == 303
    for _ in range(3):
        _sign_in(world, "nurse", "wrong-password-x", address="203.0.113.9")
    response = _sign_in(world, "nurse", TEST_PASSWORD)
    assert response.status_code == 303
    client = _anonymous(world, "198.51.100.7")
    client.cookies.set(SESSION_COOKIE, response.cookies[SESSION_COOKIE])
    me = client.get("/api/v1/me").json()
    assert me["failed_sign_ins_since_last"] == 3
    assert [a["client_address"] for a in me["recent_failed_sign_ins"]] == ["203.0.113.9"] * 3
    home = client.get("/").text
    assert "Failed sign-ins to your account" in home and "203.0.113.9" in home
    # An account nobody tried to break into shows nothing.
    assert "Failed sign-ins" not in world.client("pharmacist").get("/").text


# --- 3. proxy headers -------------------------------------------------------------------------------


def _recorded_address(world: World, app: Any) -> str:
    client = _anonymous(world, "127.0.0.1", app)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/login",
        data={"username": "nobody", "password": "x" * 12, "csrf_token": token[1]},
        headers={"X-Forwarded-For": "192.0.2.55"},
    )
    with world.db.session() as session:
        return session.execute(select(LoginAttempt.client_address)).scalars().all()[-1]


def test_forwarded_for_is_believed_only_from_configured_proxies(world: World, settings: Settings) -> None:
    assert settings.trusted_proxies == ""  # off by default
    assert _recorded_address(world, world.app) == "127.0.0.1"
    trusting = create_app(Settings(database_url=settings.database_url, trusted_proxies="127.0.0.1"), world.db)
    assert _recorded_address(world, trusting) == "192.0.2.55"


def test_serve_leaves_proxy_headers_to_the_app(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """uvicorn's default trusts X-Forwarded-For from 127.0.0.1: `igflow serve` turns it off."""
    import uvicorn
    from typer.testing import CliRunner

    from igflow.cli import foundation as cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert calls and calls[0]["proxy_headers"] is False


# --- 4. the pre-login CSRF cookie -------------------------------------------------------------------


def test_a_planted_prelogin_csrf_cookie_is_neither_adopted_nor_accepted(world: World) -> None:
    client = _anonymous(world, "198.51.100.7")
    client.cookies.set(PRELOGIN_CSRF_COOKIE, "planted-by-someone-else")
    page = client.get("/login")
    assert "planted-by-someone-else" not in page.text
    assert page.cookies.get(PRELOGIN_CSRF_COOKIE) not in (None, "planted-by-someone-else")

    attacker = _anonymous(world, "198.51.100.7")
    attacker.cookies.set(PRELOGIN_CSRF_COOKIE, "planted-by-someone-else")
    forged = attacker.post(
        "/login",
        data={"username": "nurse", "password": TEST_PASSWORD, "csrf_token": "planted-by-someone-else"},
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.cookies


# --- 5. time zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["A" * 300, "Europe/Nowhere", "../../etc/passwd", "posixrules"])
def test_site_time_zone_must_be_an_iana_name(world: World, zone: str) -> None:
    body = {"code": "east", "name": "East Centre", "kind": "centre", "timezone": zone}
    response = world.client("admin", raise_server_exceptions=False).post("/api/v1/sites", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "timezone" and "IANA" in response.json()["detail"]
    body["timezone"] = "America/Chicago"
    assert world.client("admin").post("/api/v1/sites", json=body).status_code == 201


# --- 6. NUL characters ------------------------------------------------------------------------------


def test_nul_is_refused_in_json_query_and_forms_with_the_field_named(world: World) -> None:
    intake = world.client("intake")
    body = intake.post("/api/v1/patients", json=_patient(world, given_name="Te\u0000st"))
    assert body.status_code == 422
    assert body.json() == {
        "detail": "given_name: must not contain NUL characters (\\u0000)",
        "field": "given_name",
    }
    nested = intake.post("/api/v1/patients", json={**_patient(world), "address\u0000": "x"})
    assert nested.status_code == 422 and "NUL" in nested.json()["detail"]
    query = intake.get("/api/v1/patients", params={"q": "North\x00wood"})
    assert query.status_code == 422 and query.json()["field"] == "q"
    form = intake.post("/patients/new", data={"given_name": "Te\x00st", "family_name": "P"})
    assert form.status_code == 422 and "NUL" in form.text
    with world.db.session() as session:
        count = session.execute(text("SELECT count(*) FROM patient")).scalar_one()
    assert count == 2  # nothing stored


# --- 7. implausible values --------------------------------------------------------------------------


def test_implausible_dates_and_numbers_are_refused_naming_the_bound(world: World) -> None:
    intake = world.client("intake")
    dob_zero = intake.post("/api/v1/patients", json=_patient(world, date_of_birth=0))
    assert dob_zero.status_code == 422 and dob_zero.json()["field"] == "date_of_birth"
    future = intake.post("/api/v1/patients", json=_patient(world, date_of_birth="2999-01-01"))
    assert future.status_code == 422 and "1900-01-01" in future.json()["detail"]
    boolean_id = intake.post("/api/v1/patients", json=_patient(world, site_ids=[True]))
    assert boolean_id.status_code == 422 and boolean_id.json()["field"] == "site_ids.0"

    referral = {
        "patient_id": world.patients["ann"],
        "received_on": "0001-01-01",
        "prescriber_id": world.prescriber_id,
        "icd10_code": "G61.81",
        "diagnosis_text": "CIDP",
        "indication_id": "cidp",
        "urgency": "routine",
    }
    year_one = intake.post("/api/v1/referrals", json=referral)
    assert year_one.status_code == 422 and "2000-01-01 to 2099-12-31" in year_one.json()["detail"]

    run = world.client("scheduler").post(
        "/api/v1/planning-runs", json={"start_date": "9999-01-01", "days": 7}
    )
    assert run.status_code == 422 and "2099-12-31" in run.json()["detail"]

    lot = {
        "product_id": "gammagard-liquid",
        "lot_number": "LOT1",
        "gtin": "03000000000019",
        "label_expiry": "9999-12-31",
        "vial_size_g": 1e308,
        "site_id": world.sites["north"],
        "count": 1,
        "acquisition_cost_cents": 1,
        "supplier": "S",
    }
    lots = world.client("pharmacist").post("/api/v1/inventory/lots", json=lot)
    assert lots.status_code == 422
    assert "label_expiry" in lots.json()["detail"] and "vial_size_g" in lots.json()["detail"]
    assert "100" in lots.json()["detail"]

    order = {
        "patient_id": world.patients["ann"],
        "prescriber_id": world.prescriber_id,
        "indication_id": "cidp",
        "phase": "maintenance",
        "product_id": "privigen",
        "dose_g_per_kg": 1e-300,
    }
    tiny = world.client("prescriber").post("/api/v1/orders", json=order)
    assert tiny.status_code == 422 and "0.01" in tiny.json()["detail"]


# --- 8. duplicate JSON keys -------------------------------------------------------------------------


def test_duplicate_json_keys_are_refused(world: World) -> None:
    raw = '{"mrn": "HRD0001", "mrn": "HRD0002", "given_name": "T", "family_name": "P", '
    raw += '"date_of_birth": "1960-03-04", "sex": "female"}'
    response = world.client("intake").post(
        "/api/v1/patients", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "mrn" and "more than once" in response.json()["detail"]


# --- 9. streamed uploads ----------------------------------------------------------------------------


def test_a_chunked_upload_is_cut_off_at_the_size_limit(world: World, settings: Settings) -> None:
    """No Content-Length to pre-check: the server must stop reading once the body passes the cap."""
    small = create_app(Settings(database_url=settings.database_url, max_upload_bytes=4096), world.db)
    with world.db.session() as session:
        user = session.get(User, world.users["intake"])
        assert user is not None
        raw, web_session = security_service.start_session(session, small.state.settings, user, "testclient")
    chunk, chunks = b"A" * 16384, 400  # 6.4 MB offered, in 16 KiB pieces
    sent = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent == 0:
            sent += 1
            head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.4\n'
            return {"type": "http.request", "body": head, "more_body": True}
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/referrals/1/documents",
        "raw_path": b"/api/v1/referrals/1/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=B"),
            (b"transfer-encoding", b"chunked"),
            (b"cookie", f"{SESSION_COOKIE}={raw}".encode()),
            (CSRF_HEADER.encode(), web_session.csrf_token.encode()),
        ],
        "client": ("testclient", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(small(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert sent * len(chunk) < 4096 + 65536 + 2 * len(chunk), f"read {sent} chunks of {chunks}"


# --- 12. SQL parameters never reach the logs --------------------------------------------------------


def test_sql_errors_hide_their_parameters_in_errors_and_logs(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from igflow.patients import service

    def failing_query(session: Any, *_a: Any, **_k: Any) -> Any:
        session.execute(text("SELECT * FROM no_such_table WHERE family_name = :name"), {"name": "Northwood"})

    monkeypatch.setattr(service, "read_shape", failing_query)
    client = world.client("nurse", raise_server_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"/api/v1/patients/{world.patients['ann']}")
    assert response.status_code == 500 and "Northwood" not in response.text
    assert "Northwood" not in caplog.text
    assert "OperationalError" in caplog.text or "ProgrammingError" in caplog.text

    with world.db.session() as session, pytest.raises(Exception) as caught:
        session.execute(text("SELECT * FROM no_such_table WHERE family_name = :name"), {"name": "Northwood"})
    assert "Northwood" not in str(caught.value)  # the engine hides bound parameters


def test_the_servers_exception_log_withholds_the_message(caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn logs "Exception in ASGI application" with the traceback: the message is withheld."""
    from igflow.logging_setup import WithholdExceptionText

    logger = logging.getLogger("test.uvicorn.error")
    logger.addFilter(WithholdExceptionText())
    try:
        raise ValueError("family_name='Northwood'")
    except ValueError:
        with caplog.at_level(logging.ERROR, logger="test.uvicorn.error"):
            logger.error("Exception in ASGI application\n", exc_info=sys.exc_info())
    assert "Northwood" not in caplog.text
    assert "ValueError at test_hardening_inputs.py" in caplog.text


# --- 13. the OpenAPI document -----------------------------------------------------------------------


def test_openapi_declares_the_real_error_shape_and_the_common_errors(world: World) -> None:
    spec = world.client("pharmacist").get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Error"]["properties"]["detail"]["type"] == "string"
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status in ("403", "404", "409", "422", "428"):
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, status)
    calendar = spec["paths"]["/api/v1/me/appointments.ics"]["get"]["responses"]["200"]["content"]
    assert list(calendar) == ["text/calendar"]  # found by schemathesis: declared JSON, sent iCalendar
    # And the answers have that shape.
    error = world.client("intake").post("/api/v1/patients", json={"mrn": "x"}).json()
    assert isinstance(error["detail"], str) and "field" in error
