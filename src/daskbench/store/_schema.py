"""The SQL schema (SQLAlchemy Core), identical to what the migrations build.

``tests/unit/test_store.py`` checks with alembic's autogenerate comparison that this metadata
and the migrated database agree, so a schema change needs both an edit here and a new
revision in ``migrations/versions/``.

Timestamps are stored in UTC: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite (which
has no time zones); :class:`UTCDateTime` converts on the way in and out, so every datetime
read back is timezone-aware in UTC on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "acks",
    "measurements",
    "metadata",
    "results",
    "runs",
]

# Explicit constraint names make migrations reproducible across backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetime in, aware UTC datetime out; naive values are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        value = value.astimezone(UTC)
        # SQLite would silently drop the offset anyway; drop it after converting to UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("label", sa.String(), nullable=False, index=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("scale", sa.String(), nullable=False),
    sa.Column("command", sa.Text(), nullable=False),
    sa.Column("environment", sa.JSON(), nullable=False),
    # How the run ended (revision 0003); NULL for runs stored before.
    sa.Column("status", sa.String(), nullable=True),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("test", sa.String(), nullable=False, index=True),
    sa.Column("path", sa.Text(), nullable=False),
    sa.Column("repeat", sa.Integer(), nullable=False),
    sa.Column("outcome", sa.String(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=False),
    # Revision 0003: measured execution within the round, and the cluster's shape then.
    sa.Column("execution", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("workers", sa.Integer(), nullable=True),
    sa.Column("threads", sa.Integer(), nullable=True),
)

measurements = sa.Table(
    "measurements",
    metadata,
    sa.Column(
        "result_id",
        sa.Integer(),
        sa.ForeignKey("results.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("metric", sa.String(), primary_key=True),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("unit", sa.String(), nullable=False),
)

# Expected changes (``daskbench ack``), revision 0002.
acks = sa.Table(
    "acks",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("test", sa.String(), nullable=False, index=True),
    sa.Column("metric", sa.String(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("author", sa.String(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
