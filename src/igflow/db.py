"""Database engine, sessions and the declarative base shared by every capability."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current instant in UTC, timezone-aware (stored naive-UTC by the UTCDateTime type)."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Every request writes (reads of patient data are audited), so take the write lock up front:
    # two deferred transactions that both read then write would otherwise deadlock on SQLite.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    # A read-only snapshot (WAL): takes no write lock, so writers go on while it reads.
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, snapshot_reads: bool = False, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None},
            hide_parameters=True,  # bound parameters carry patient data: never in errors or logs
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_deferred if snapshot_reads else _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


class Database:
    """An engine plus its session factory; the app and the CLI each hold one."""

    def __init__(self, url: str, pool: dict[str, Any] | None = None) -> None:
        self.url = url
        self._pool = pool or {}
        self.engine = make_engine(url, **self._pool)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: sessionmaker[Session] | None = None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        return self.sessionmaker()

    def read_session(self) -> Session:
        """A session for long reads that must not hold SQLite's write lock (a WAL snapshot); never
        write through it. On PostgreSQL it is an ordinary session."""
        if not self.url.startswith("sqlite"):
            return self.sessionmaker()
        if self._reader is None:
            reader = make_engine(self.url, snapshot_reads=True, **self._pool)
            self._reader = sessionmaker(reader, expire_on_commit=False)
        return self._reader()

    def iter_session(self) -> Iterator[Session]:
        with self.sessionmaker() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            bind = self._reader.kw["bind"]
            bind.dispose()
