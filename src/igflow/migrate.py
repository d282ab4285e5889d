"""Alembic, driven from code: ``igflow db upgrade`` and the test fixtures call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


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
