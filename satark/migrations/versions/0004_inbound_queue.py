"""inbound queue: messages stored before the webhook's 200, and per-sender leases

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 17:10:00
"""

import sqlalchemy as sa
from alembic import op

from satark.db.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    op.create_index(op.f("ix_inbound_messages_sender_id"), "inbound_messages", ["sender_id"])
    op.create_table(
        "inbound_leases",
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_inbound_leases")),
    )


def downgrade() -> None:
    op.drop_table("inbound_leases")
    op.drop_index(op.f("ix_inbound_messages_sender_id"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
