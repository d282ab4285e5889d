"""FHIR Bulk Data $export (issue 14)

One row per $export kick-off (who asked, the SMART client if any, level, types, _since, the job doing
the work, deletion), and the NDJSON files each produced (deleted with it, by its client or after the
retention period).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 22:35:35.886162
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_bulk_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("omitted", sa.JSON(), nullable=False),
        sa.Column("since", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_url", sa.Text(), nullable=False),
        sa.Column("transaction_time", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_fhir_bulk_export_job_id_job"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_fhir_bulk_export_requested_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_bulk_export")),
        sa.UniqueConstraint("export_id", name=op.f("uq_fhir_bulk_export_export_id")),
    )
    with op.batch_alter_table("fhir_bulk_export", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_bulk_export_deleted_at", ["deleted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_bulk_export_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fhir_bulk_export_requested_by_user_id"), ["requested_by_user_id"], unique=False
        )

    op.create_table(
        "fhir_bulk_export_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_pk", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_pk"],
            ["fhir_bulk_export.id"],
            name=op.f("fk_fhir_bulk_export_file_export_pk_fhir_bulk_export"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_bulk_export_file")),
        sa.UniqueConstraint(
            "export_pk", "resource_type", "part", name=op.f("uq_fhir_bulk_export_file_export_pk")
        ),
    )
    with op.batch_alter_table("fhir_bulk_export_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_bulk_export_file_export_pk"), ["export_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fhir_bulk_export_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_bulk_export_file_export_pk"))

    op.drop_table("fhir_bulk_export_file")
    with op.batch_alter_table("fhir_bulk_export", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_bulk_export_requested_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_fhir_bulk_export_job_id"))
        batch_op.drop_index("ix_fhir_bulk_export_deleted_at")

    op.drop_table("fhir_bulk_export")
