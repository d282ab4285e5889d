"""patient search: a trigram index on the search name (PostgreSQL only)

The patient search matches words anywhere in "family given" (``LIKE 'word%' OR LIKE '% word%'``), which
a b-tree cannot serve: on a 100,000-patient network every search scanned the table. A pg_trgm GIN index
serves both patterns. SQLite has no trigram index; the migration does nothing there (its scan of a
single-centre table stays fast enough).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Named here and left out of the models-match comparison (igflow.migrate.include_object).
INDEX = "ix_patient_search_name_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON patient USING gin (search_name gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
