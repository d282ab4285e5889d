"""Alembic, driven from code: ``igflow db upgrade`` and the test fixtures call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

#: Tables in the same database that igflow's migrations do not own: the job queue's (huey's PostgreSQL
#: storage creates and manages its own ``huey_*`` tables).
FOREIGN_TABLE_PREFIXES = ("huey_",)
#: Indexes that only some databases have, made by hand in a migration (the PostgreSQL trigram index of
#: the patient search, 0010): not in the models, so left out of the models-match comparison.
DIALECT_ONLY_INDEXES = frozenset({"ix_patient_search_name_trgm"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's filter: leave tables that another library owns out of autogenerate and comparisons."""
    if type_ == "index" and name in DIALECT_ONLY_INDEXES:
        return False
    table = getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return not (table_name or "").startswith(FOREIGN_TABLE_PREFIXES)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "igflow:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> list[str]:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(database_url, hide_parameters=True)
    try:
        with engine.connect() as connection:
            return list(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
