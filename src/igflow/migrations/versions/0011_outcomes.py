"""outcomes: outcome readings, continuation decisions, response reviews (issue 10)

Readings and decisions are append-only (a correction names the reading it amends, one correction per
reading); the enumerated columns are CHECK constraints; a response review is unique per order, reason and
round, which makes raising its prescriber task idempotent. Plain tables and constraints: the same on SQLite
and PostgreSQL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "continuation_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("review_reason", sa.String(length=40), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind in ('continue', 'change_dose', 'change_interval', 'switch_product', 'trial_off', 'stop')",
            name=op.f("ck_continuation_decision_kind"),
        ),
        sa.CheckConstraint(
            "review_reason IS NULL OR review_reason in ('no_meaningful_improvement', 'cannot_judge_prescriber_decides', 'no_primary_reading_after_cycle', 'review_interval_passed')",
            name=op.f("ck_continuation_decision_review_reason"),
        ),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_continuation_decision_reason")),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_continuation_decision_decided_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ig_order.id"],
            name=op.f("fk_continuation_decision_order_id_ig_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_continuation_decision_patient_id_patient"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continuation_decision")),
    )
    with op.batch_alter_table("continuation_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_continuation_decision_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_continuation_decision_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "outcome_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=True),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("amends_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.CheckConstraint(
            "method in ('chair', 'review', 'patient_reported')", name=op.f("ck_outcome_reading_method")
        ),
        sa.CheckConstraint(
            "amends_id IS NULL OR length(note) > 0", name=op.f("ck_outcome_reading_correction_has_note")
        ),
        sa.ForeignKeyConstraint(
            ["amends_id"],
            ["outcome_reading.id"],
            name=op.f("fk_outcome_reading_amends_id_outcome_reading"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ig_order.id"],
            name=op.f("fk_outcome_reading_order_id_ig_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_outcome_reading_patient_id_patient"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_outcome_reading_recorded_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_reading")),
        sa.UniqueConstraint("amends_id", name=op.f("uq_outcome_reading_amends_id")),
    )
    with op.batch_alter_table("outcome_reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcome_reading_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcome_reading_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "response_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("cycles_completed", sa.Integer(), nullable=False),
        sa.Column("flags_order", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason in ('no_meaningful_improvement', 'cannot_judge_prescriber_decides', 'no_primary_reading_after_cycle', 'review_interval_passed')",
            name=op.f("ck_response_review_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ig_order.id"],
            name=op.f("fk_response_review_order_id_ig_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_response_review_patient_id_patient"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["work_task.id"],
            name=op.f("fk_response_review_task_id_work_task"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_review")),
        sa.UniqueConstraint("order_id", "reason", "round", name=op.f("uq_response_review_order_id")),
    )
    with op.batch_alter_table("response_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_review_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("response_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_review_patient_id"))

    op.drop_table("response_review")
    with op.batch_alter_table("outcome_reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_reading_patient_id"))
        batch_op.drop_index(batch_op.f("ix_outcome_reading_order_id"))

    op.drop_table("outcome_reading")
    with op.batch_alter_table("continuation_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_continuation_decision_patient_id"))
        batch_op.drop_index(batch_op.f("ix_continuation_decision_order_id"))

    op.drop_table("continuation_decision")
