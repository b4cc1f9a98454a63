"""Run status; per result: the execution within its round and the cluster's shape.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER TABLE ADD COLUMN with every constraint; alembic copies.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("status", sa.String(), nullable=True))
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("execution", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("workers", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("threads", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("threads")
        batch.drop_column("workers")
        batch.drop_column("execution")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("status")
