"""audit checkpoints

Audit rows are appended unsealed (``seq``, ``prev_hash`` and ``hash`` empty) and chained later by the
sealer; signed checkpoints record the chain's head. Rows written before this revision are already
chained and stay as they are; the first seal after the upgrade signs a checkpoint that covers them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    op.create_index(
        "ix_audit_event_unsealed",
        "audit_event",
        ["id"],
        unique=False,
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoint_last_seq"), ["last_seq"], unique=False)


def downgrade() -> None:
    unsealed = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_event WHERE seq IS NULL")).scalar()
    if unsealed:
        raise RuntimeError(f"{unsealed} audit rows are not sealed yet: run `igflow audit seal` first")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_last_seq"))
    op.drop_table("audit_checkpoint")
    op.drop_index("ix_audit_event_unsealed", table_name="audit_event")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
