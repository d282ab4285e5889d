"""FHIR backend clients (issue 14)

SMART Backend Services: registered backend clients (public keys, allowed scopes, the service account each
acts as), the client assertion ids already used (unique per client, so none is accepted twice), and on
api_token the client and scopes of a SMART access token.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 11:24:55.065329
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igflow.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_backend_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("disabled_at", igflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_fhir_backend_client_created_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["disabled_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_fhir_backend_client_disabled_by_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_fhir_backend_client_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_backend_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_fhir_backend_client_client_id")),
    )
    with op.batch_alter_table("fhir_backend_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_backend_client_user_id"), ["user_id"], unique=False)

    op.create_table(
        "fhir_client_assertion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", igflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["fhir_backend_client.id"],
            name=op.f("fk_fhir_client_assertion_client_id_fhir_backend_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_client_assertion")),
        sa.UniqueConstraint("client_id", "jti", name=op.f("uq_fhir_client_assertion_client_id")),
    )
    with op.batch_alter_table("fhir_client_assertion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_client_assertion_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_token_client_id"), ["client_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_client_id"))
        batch_op.drop_column("scopes")
        batch_op.drop_column("client_id")

    with op.batch_alter_table("fhir_client_assertion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_client_assertion_expires_at"))

    op.drop_table("fhir_client_assertion")
    with op.batch_alter_table("fhir_backend_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_backend_client_user_id"))

    op.drop_table("fhir_backend_client")
