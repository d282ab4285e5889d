"""background jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_roles", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_message", sa.String(length=200), nullable=False),
        sa.Column("cancel_requested_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_type", sa.String(length=64), nullable=True),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state in ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_job_state")
        ),
        sa.CheckConstraint("progress >= 0 and progress <= 1", name=op.f("ck_job_progress")),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_job_requested_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_requested_by_user_id"), "job", ["requested_by_user_id"], unique=False)
    op.create_index("ix_job_state_kind", "job", ["state", "kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_state_kind", table_name="job")
    op.drop_index(op.f("ix_job_requested_by_user_id"), table_name="job")
    op.drop_table("job")
