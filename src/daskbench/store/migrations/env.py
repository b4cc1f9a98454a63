"""alembic environment: runs on the connection :mod:`daskbench.store._migrate` hands over.

There is no alembic.ini; the configuration is built in code, and the migration runs inside
the caller's transaction (which holds the write lock), so two processes opening the same new
database cannot both create the tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from daskbench.store._schema import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "daskbench migrations run via daskbench.store.upgrade(url) or `daskbench db upgrade`"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
