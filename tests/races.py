"""Run service calls at the same moment, each in its own connection and transaction, as its own user.

The race tests of every state machine use this: PostgreSQL only (SQLite serialises writers with
``BEGIN IMMEDIATE``, so nothing there races)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from igflow.db import Database
from igflow.security.models import User
from igflow.security.principal import Principal
from igflow.security.service import principal_for_user
from tests.conftest import World

Call = Callable[[Session, Principal], Any]


def needs_concurrency(world: World) -> None:
    if not world.db.is_postgres:
        pytest.skip("the race needs concurrent transactions: SQLite serialises writers (BEGIN IMMEDIATE)")


def race(world: World, calls: list[tuple[str, Call]]) -> list[Any]:
    """Each (username, call) runs in its own thread after a barrier; returns each call's result or the
    exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(k: int) -> None:
        username, call = calls[k]
        database = Database(world.db.url)
        try:
            with database.session() as session:
                user = session.get(User, world.users[username])
                assert user is not None
                principal = principal_for_user(user, client_address="race")
                session.commit()
                barrier.wait()
                try:
                    outcomes[k] = call(session, principal)
                except BaseException as exc:
                    session.rollback()
                    outcomes[k] = exc
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
