"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when configured),
a clean slate per test, the app, and clients signed in as each role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from igflow.app import create_app
from igflow.config import Settings
from igflow.db import Database
from igflow.migrate import upgrade
from igflow.models import Base
from igflow.security import service as security_service
from igflow.security.audit import SYSTEM
from igflow.security.deps import CSRF_HEADER, SESSION_COOKIE
from igflow.security.models import User, UserRole, UserSite
from igflow.security.passwords import hash_password
from igflow.sites.models import Chair, Site, SiteHours

PG_ENV = "IGFLOW_TEST_DATABASE_URL"
TEST_PASSWORD = "correct-horse-battery"
_HASH: dict[str, str] = {}


def password_hash() -> str:
    if "h" not in _HASH:
        _HASH["h"] = hash_password(TEST_PASSWORD)
    return _HASH["h"]


def _backends() -> list[Any]:
    pg_reason = f"PostgreSQL tests need {PG_ENV} (set by .ci/run)"
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not os.environ.get(PG_ENV), reason=pg_reason)],
        ),
    ]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    return url


def create_pg_database(server_url: str) -> str:
    """Create a uniquely named database on the server and return its URL (the caller drops it)."""
    name = f"igflow_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "igflow-test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    server_url = request.getfixturevalue("pg_server_url")
    url = create_pg_database(server_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(server_url, url)


def wipe(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if db.is_postgres:
            connection.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            connection.execute(text("PRAGMA defer_foreign_keys=ON"))
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))
            if _has_sqlite_sequence(connection):
                connection.execute(text("DELETE FROM sqlite_sequence"))


def _has_sqlite_sequence(connection: Any) -> bool:
    return (
        connection.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first()
        is not None
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    wipe(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Jobs run inline when submitted: no queue file or worker outlives a test (tests/service/test_jobs.py
    # starts real workers on a queue of its own).
    return Settings(database_url=database_url, jobs_url="immediate")


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, db)


@dataclass
class World:
    """Two centres and one user per role (plus a site-limited nurse and a patient account)."""

    db: Database
    app: Any
    sites: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    prescriber_id: int = 0

    def client(self, username: str | None, raise_server_exceptions: bool = True) -> SignedInClient:
        return SignedInClient(self, username, raise_server_exceptions)

    def add_user(
        self,
        username: str,
        roles: list[str],
        site_codes: list[str] | None = None,
        patient_id: int | None = None,
    ) -> int:
        with self.db.session() as session:
            user = User(
                username=username,
                display_name=username.title(),
                password_hash=password_hash(),
                patient_id=patient_id,
            )
            user.roles = [UserRole(role=r) for r in roles]
            user.sites = [UserSite(site_id=self.sites[c]) for c in site_codes or []]
            session.add(user)
            session.commit()
            self.users[username] = user.id
            return user.id


class SignedInClient(TestClient):
    """A TestClient with a session for the user, sending the CSRF header on unsafe requests."""

    def __init__(self, world: World, username: str | None, raise_server_exceptions: bool = True) -> None:
        super().__init__(
            world.app,
            base_url="http://testserver",
            follow_redirects=False,
            raise_server_exceptions=raise_server_exceptions,
        )
        self.csrf = ""
        if username is not None:
            with world.db.session() as session:
                user = session.get(User, world.users[username])
                assert user is not None
                raw, web_session = security_service.start_session(
                    session, world.app.state.settings, user, "testclient"
                )
                self.csrf = web_session.csrf_token
            self.cookies.set(SESSION_COOKIE, raw)

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if method.upper() not in ("GET", "HEAD", "OPTIONS") and self.csrf:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault(CSRF_HEADER, self.csrf)
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)


def _site(code: str, name: str, chairs: int) -> Site:
    from datetime import time

    site = Site(code=code, name=name, kind="centre", address="1 Test Way", timezone="America/Los_Angeles")
    site.hours = [SiteHours(weekday=d, open_time=time(8), close_time=time(17), nurses=2) for d in range(5)]
    site.chairs = [Chair(label=f"C{i}", position=i) for i in range(1, chairs + 1)]
    return site


@pytest.fixture
def world(app: Any, db: Database) -> World:
    from igflow.directory.models import Prescriber
    from igflow.patients.models import Patient, PatientSite

    w = World(db=db, app=app)
    with db.session() as session:
        north, south = _site("north", "North Centre", 4), _site("south", "South Centre", 3)
        session.add_all([north, south])
        prescriber = Prescriber(name="Dr Test Prescriber", npi="1234567890", specialty="Neurology")
        session.add(prescriber)
        session.flush()
        w.sites = {"north": north.id, "south": south.id}
        w.prescriber_id = prescriber.id
        for key, (given, family, mrn, site) in {
            "ann": ("Annika", "Northwood", "TST0001", "north"),
            "sol": ("Solveig", "Southgate", "TST0002", "south"),
        }.items():
            patient = Patient(
                mrn=mrn,
                given_name=given,
                family_name=family,
                search_name=f"{family} {given}".lower(),
                date_of_birth=date(1970, 5, 17),
                sex="female",
                allergies="Penicillin",
            )
            patient.sites = [PatientSite(site_id=w.sites[site], rank=1)]
            session.add(patient)
            session.flush()
            w.patients[key] = patient.id
        session.commit()
    for role in (
        "admin",
        "pharmacist",
        "nurse",
        "scheduler",
        "intake",
        "prescriber",
        "auditor",
        "prior_auth",
    ):
        w.add_user(role, [role])
    w.add_user("nurse.north", ["nurse"], ["north"])
    w.add_user("patient.ann", ["patient"], patient_id=w.patients["ann"])
    w.add_user("svc", ["pharmacist", "scheduler"])
    with db.session() as session:
        svc = session.get(User, w.users["svc"])
        assert svc is not None
        svc.is_service_account = True
        svc.password_hash = None
        session.commit()
    return w


@pytest.fixture
def actor() -> Any:
    return SYSTEM
