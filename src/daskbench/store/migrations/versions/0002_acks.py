"""Acknowledged changes (``daskbench ack``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "acks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("test", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_acks_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_acks"),
    )
    op.create_index("ix_acks_run_id", "acks", ["run_id"])
    op.create_index("ix_acks_test", "acks", ["test"])


def downgrade() -> None:
    op.drop_index("ix_acks_test", table_name="acks")
    op.drop_index("ix_acks_run_id", table_name="acks")
    op.drop_table("acks")
