"""Sign-in, sessions, CSRF, throttling and API tokens, as a user or a script would meet them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from igflow.db import utcnow
from igflow.security.deps import PRELOGIN_CSRF_COOKIE, SESSION_COOKIE
from igflow.security.models import AuditEvent, WebSession
from igflow.security.service import LOGIN_FAILED_MESSAGE
from tests.conftest import TEST_PASSWORD, World


def _login(world: World, username: str, password: str, https: bool = False) -> Any:
    client = world.client(None)
    if https:
        client.base_url = "https://testserver"
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "the sign-in form carries a CSRF token"
    return client, client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/patients"},
    )


def test_sign_in_sets_a_strict_http_only_cookie_and_lands_on_the_page_asked_for(world: World) -> None:
    client, response = _login(world, "nurse", TEST_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/patients"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the https test below
    assert client.get("/patients").status_code == 200


def test_cookie_is_secure_when_served_over_https(world: World) -> None:
    world.app.state.settings.https = True
    _client, response = _login(world, "nurse", TEST_PASSWORD, https=True)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "Secure" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World) -> None:
    _c1, wrong_password = _login(world, "nurse", "not-the-password")
    _c2, unknown_user = _login(world, "nobody-here", "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 400
    assert LOGIN_FAILED_MESSAGE in wrong_password.text
    assert LOGIN_FAILED_MESSAGE in unknown_user.text
    # The pages differ only in the username echoed back into the form.
    assert wrong_password.text.replace("nurse", "X").count(LOGIN_FAILED_MESSAGE) == 1


def test_disabled_account_cannot_sign_in_and_gets_the_same_message(world: World) -> None:
    admin = world.client("admin")
    assert (
        admin.put(f"/api/v1/users/{world.users['nurse']}/active", json={"active": False}).status_code == 200
    )
    _client, response = _login(world, "nurse", TEST_PASSWORD)
    assert response.status_code == 400
    assert LOGIN_FAILED_MESSAGE in response.text


def test_sign_in_is_throttled_per_account(world: World) -> None:
    limit = world.app.state.settings.login_max_failures_per_account
    for _ in range(limit):
        _c, response = _login(world, "pharmacist", "wrong-password-x")
        assert response.status_code == 400
    _c, response = _login(world, "pharmacist", TEST_PASSWORD)  # even the right password now waits
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    # Another account is not affected.
    _c, other = _login(world, "nurse", TEST_PASSWORD)
    assert other.status_code == 303


def test_sign_in_is_throttled_per_client_address(world: World) -> None:
    world.app.state.settings.login_max_failures_per_address = 3
    for name in ("a1", "a2", "a3"):
        _c, response = _login(world, name, "whatever-password")
        assert response.status_code == 400
    _c, response = _login(world, "nurse", TEST_PASSWORD)
    assert response.status_code == 429


def test_sign_in_without_the_forms_csrf_token_is_refused(world: World) -> None:
    client = world.client(None)
    client.get("/login")
    response = client.post("/login", data={"username": "nurse", "password": TEST_PASSWORD})
    assert response.status_code == 403
    client.cookies.delete(PRELOGIN_CSRF_COOKIE)
    response = client.post(
        "/login", data={"username": "nurse", "password": TEST_PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403


def test_state_changing_requests_need_the_sessions_csrf_token(world: World) -> None:
    client = world.client("pharmacist")
    token, client.csrf = client.csrf, ""  # stop the test client from sending it
    body = {"kind": "weight_kg", "value": 70, "measured_on": "2026-11-01"}
    url = f"/api/v1/patients/{world.patients['ann']}/measurements"
    assert client.post(url, json=body).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_idle_session_expires(world: World) -> None:
    client = world.client("nurse")
    assert client.get("/api/v1/me").status_code == 200
    idle = world.app.state.settings.session_idle_min
    with world.db.session() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=idle, seconds=1)))
        session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/patients").headers["location"].startswith("/login?next=")


def test_session_has_an_absolute_lifetime_even_when_active(world: World) -> None:
    client = world.client("nurse")
    with world.db.session() as session:
        session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_logout_ends_the_session(world: World) -> None:
    client = world.client("nurse")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout").status_code == 303
    client.cookies.set(SESSION_COOKIE, cookie)  # replaying the old cookie does not work
    assert client.get("/api/v1/me").status_code == 401


def test_role_change_ends_the_users_sessions(world: World) -> None:
    nurse = world.client("nurse")
    admin = world.client("admin")
    response = admin.put(f"/api/v1/users/{world.users['nurse']}/roles", json={"roles": ["scheduler"]})
    assert response.status_code == 200
    assert nurse.get("/api/v1/me").status_code == 401


def test_logins_are_audited_success_and_failure(world: World) -> None:
    _login(world, "nurse", TEST_PASSWORD)
    _login(world, "nurse", "bad-password-here")
    with world.db.session() as session:
        outcomes = (
            session.execute(select(AuditEvent.outcome).where(AuditEvent.action == "login")).scalars().all()
        )
    assert "success" in outcomes and "failure" in outcomes


def test_api_token_lifecycle(world: World) -> None:
    admin = world.client("admin")
    issued = admin.post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "integration", "roles": ["scheduler"]}
    )
    assert issued.status_code == 201, issued.text
    raw = issued.json()["token"]
    bearer = world.client(None)
    headers = {"Authorization": f"Bearer {raw}"}
    # Scoped to scheduler: may list patients (no CSRF needed for bearer tokens) but not read measurements.
    assert bearer.get("/api/v1/patients", headers=headers).status_code == 200
    assert (
        bearer.get(f"/api/v1/patients/{world.patients['ann']}/measurements", headers=headers).status_code
        == 403
    )
    listed = admin.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)  # the raw value is shown once only
    assert admin.delete(f"/api/v1/tokens/{issued.json()['id']}").status_code == 200
    assert bearer.get("/api/v1/patients", headers=headers).status_code == 401


def test_token_roles_must_be_held_by_the_service_account(world: World) -> None:
    admin = world.client("admin")
    response = admin.post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "x", "roles": ["admin"]}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "roles"
    response = admin.post(
        "/api/v1/tokens", json={"user_id": world.users["nurse"], "name": "x", "roles": ["nurse"]}
    )
    assert response.status_code == 422
    assert "service accounts" in response.json()["detail"]


def test_expired_token_is_refused(world: World) -> None:
    from igflow.security.models import ApiToken

    admin = world.client("admin")
    issued = admin.post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "x", "roles": ["pharmacist"]}
    )
    with world.db.session() as session:
        session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    response = world.client(None).get("/api/v1/patients", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_weak_password_is_refused_with_the_field_named(world: World) -> None:
    admin = world.client("admin")
    response = admin.post(
        "/api/v1/users",
        json={"username": "newbie", "display_name": "New", "password": "short", "roles": ["nurse"]},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "password"
    assert "12 characters" in response.json()["detail"]


def test_the_password_check_holds_no_database_connection(world: World, monkeypatch: Any) -> None:
    """Argon2 takes tens of ms of CPU: a burst of sign-ins must not hold pooled connections (or SQLite's
    write lock) through it, or every other request waits behind them."""
    from igflow.security import service as security_service

    held: list[int] = []
    real = security_service.verify_password

    def watching(password_hash: str | None, password: str) -> bool:
        held.append(world.db.engine.pool.checkedout())
        return real(password_hash, password)

    monkeypatch.setattr(security_service, "verify_password", watching)
    _client, response = _login(world, "nurse", TEST_PASSWORD)
    assert response.status_code == 303
    _client, wrong = _login(world, "nurse", "not-the-password-at-all")
    assert wrong.status_code == 400
    assert held == [0, 0]


def test_an_exhausted_connection_pool_is_a_503_to_retry_not_a_500(world: World, monkeypatch: Any) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from igflow.patients import service as patients_service

    def busy(*_args: Any, **_kwargs: Any) -> Any:
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached")

    monkeypatch.setattr(patients_service, "search", busy)
    client = world.client("nurse", raise_server_exceptions=False)
    response = client.get("/api/v1/patients?q=north")
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert "try again" in response.json()["detail"]


def _lock_error(orig: Exception) -> Any:
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT patient.id FROM patient", None, orig)


def test_a_database_lock_timeout_is_a_503_to_retry_not_a_500(world: World, monkeypatch: Any) -> None:
    """SQLite's busy_timeout running out under a burst (and PostgreSQL's lock timeout or a deadlock it
    broke) rolled the work back: the user is told nothing was done and when to retry."""
    import sqlite3

    import psycopg.errors

    from igflow.patients import service as patients_service

    failures = [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database table is locked"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ]
    client = world.client("nurse", raise_server_exceptions=False)
    for orig in failures:

        def busy(*_args: Any, _orig: Exception = orig, **_kwargs: Any) -> Any:
            raise _lock_error(_orig)

        monkeypatch.setattr(patients_service, "search", busy)
        response = client.get("/api/v1/patients?q=north")
        assert response.status_code == 503, orig
        assert response.headers["retry-after"] == "2"
        assert response.json() == {
            "detail": "igflow is very busy right now and did not do this; please try again shortly."
        }
        page = client.get("/patients?q=north")
        assert page.status_code == 503 and page.headers["retry-after"] == "2"
        assert "did not do this" in page.text and "try again shortly" in page.text


def test_any_other_database_error_is_still_a_500_with_a_reference(world: World, monkeypatch: Any) -> None:
    import sqlite3

    from igflow.patients import service as patients_service

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise _lock_error(sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(patients_service, "search", broken)
    response = world.client("nurse", raise_server_exceptions=False).get("/api/v1/patients?q=north")
    assert response.status_code == 500 and "retry-after" not in response.headers
    assert re.fullmatch(
        r"Something went wrong on our side \(reference [0-9a-f]{12}\)\.", response.json()["detail"]
    )


def test_a_burst_of_sign_ins_with_few_threads_all_get_in(world: World) -> None:
    """Twelve people sign in at once while the server has four threads. The sign-in used to hold
    SQLite's write lock between two thread-pool calls, waiting for a thread that the others held while
    they waited for the lock: after busy_timeout (10 s) most got a 500. Now all twelve get in, quickly."""
    import asyncio

    import anyio.to_thread
    import httpx2 as httpx

    async def burst() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 4
        transport = httpx.ASGITransport(app=world.app)
        clients = [httpx.AsyncClient(transport=transport, base_url="http://testserver") for _ in range(12)]
        tokens = []
        for client in clients:
            page = await client.get("/login")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found
            tokens.append(found.group(1))
        answers = await asyncio.gather(
            *(
                client.post(
                    "/login", data={"username": "nurse", "password": TEST_PASSWORD, "csrf_token": token}
                )
                for client, token in zip(clients, tokens, strict=True)
            )
        )
        for client in clients:
            await client.aclose()
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(burst())
    assert statuses == [303] * 12  # none waited out SQLite's busy_timeout (that answered 500)
