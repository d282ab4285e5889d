"""site clinical protocols

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinical_protocol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by_user_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", igflow.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", igflow.types.UTCDateTime(), nullable=False),
        sa.Column("approved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", igflow.types.UTCDateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status != 'approved' OR (approved_by_user_id IS NOT NULL AND approved_at IS NOT NULL)",
            name=op.f("ck_clinical_protocol_approved_has_approver"),
        ),
        sa.CheckConstraint(
            "approved_by_user_id IS NULL OR approved_by_user_id != proposed_by_user_id",
            name=op.f("ck_clinical_protocol_approver_not_proposer"),
        ),
        sa.CheckConstraint(
            "status in ('draft', 'approved', 'rejected')", name=op.f("ck_clinical_protocol_status")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_clinical_protocol_approved_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["based_on_id"],
            ["clinical_protocol.id"],
            name=op.f("fk_clinical_protocol_based_on_id_clinical_protocol"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_clinical_protocol_proposed_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_clinical_protocol_site_id_site"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_protocol")),
        sa.UniqueConstraint("scope", "version", name=op.f("uq_clinical_protocol_scope")),
    )
    with op.batch_alter_table("clinical_protocol", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clinical_protocol_scope"), ["scope"], unique=False)
        batch_op.create_index(batch_op.f("ix_clinical_protocol_status"), ["status"], unique=False)
    # Verification as a state machine: one decision per plan version, re-reviews numbered after it.
    with op.batch_alter_table("dose_verification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="1"))
    op.execute(
        "UPDATE dose_verification SET sequence = (SELECT COUNT(*) FROM dose_verification AS earlier "
        "WHERE earlier.plan_version_id = dose_verification.plan_version_id "
        "AND earlier.id <= dose_verification.id)"
    )
    with op.batch_alter_table("chart_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_at", igflow.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("ig_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_choice", sa.JSON(), nullable=True))
    with op.batch_alter_table("dose_verification", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_dose_verification_plan_version_id"), ["plan_version_id", "sequence"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ig_order", schema=None) as batch_op:
        batch_op.drop_column("product_choice")
    with op.batch_alter_table("chart_entry", schema=None) as batch_op:
        batch_op.drop_column("occurred_at")
    with op.batch_alter_table("dose_verification", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_dose_verification_plan_version_id"), type_="unique")
        batch_op.drop_column("sequence")
    with op.batch_alter_table("clinical_protocol", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_protocol_status"))
        batch_op.drop_index(batch_op.f("ix_clinical_protocol_scope"))
    op.drop_table("clinical_protocol")
