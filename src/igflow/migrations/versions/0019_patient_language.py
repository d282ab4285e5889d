"""patient language (issue 13)

The language a patient chose for their own pages ("en", "es"); empty: the browser's choice.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 12:58:16.318493
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_preference", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_preference", schema=None) as batch_op:
        batch_op.drop_column("language")
