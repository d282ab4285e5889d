"""caregiver links and the centre's phone (issue 13)

A caregiver account's access to one patient's portal, given with the patient's consent (revocable; one
active link per caregiver), and the phone number of a centre that patients call (Costs and help).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "caregiver_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_user_id", sa.Integer(), nullable=False),
        sa.Column("relationship_words", sa.String(length=80), nullable=False),
        sa.Column("consent_how", sa.String(length=8), nullable=False),
        sa.Column("consent_note", sa.String(length=400), nullable=False),
        sa.Column("consented_by_user_id", sa.Integer(), nullable=False),
        sa.Column("consented_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("revoke_note", sa.String(length=400), nullable=False),
        sa.CheckConstraint("consent_how in ('patient', 'staff')", name=op.f("ck_caregiver_link_consent_how")),
        sa.ForeignKeyConstraint(
            ["caregiver_user_id"],
            ["user_account.id"],
            name=op.f("fk_caregiver_link_caregiver_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["consented_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_caregiver_link_consented_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_caregiver_link_patient_id_patient"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_caregiver_link_revoked_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caregiver_link")),
    )
    with op.batch_alter_table("caregiver_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_caregiver_link_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_caregiver_link_active_caregiver",
            ["caregiver_user_id"],
            unique=True,
            postgresql_where=sa.text("revoked_at IS NULL"),
            sqlite_where=sa.text("revoked_at IS NULL"),
        )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("phone")
    with op.batch_alter_table("caregiver_link", schema=None) as batch_op:
        batch_op.drop_index("uq_caregiver_link_active_caregiver")
        batch_op.drop_index(batch_op.f("ix_caregiver_link_patient_id"))
    op.drop_table("caregiver_link")
