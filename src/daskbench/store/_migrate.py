"""Schema migrations with alembic, configured in code (no alembic.ini anywhere).

:func:`ensure_schema` is what :func:`daskbench.store.open_store` and ``daskbench db upgrade``
run. In one transaction that holds the database's write lock (``BEGIN IMMEDIATE`` on SQLite,
an advisory lock on PostgreSQL) it reads the revision and decides:

==============================  ==========================================================
database                        action
==============================  ==========================================================
no tables                       create the schema at head
daskbench, older revision       migrate to head
daskbench, at head              nothing
revision unknown to this code   StoreError: written by a newer daskbench
tables but no daskbench         StoreError: not a daskbench database, left untouched
==============================  ==========================================================

Read-only commands use :func:`check_schema` instead, which changes nothing: an empty database,
an older revision (``daskbench db upgrade`` migrates it) and an unknown one are errors.

To add a revision: change ``_schema.py``, then write
``migrations/versions/NNNN_<what>.py`` (template: ``migrations/script.py.mako``) with
``down_revision`` the previous head; the autogenerate test in ``tests/unit/test_store.py``
fails until the two agree.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from daskbench.errors import StoreError
from daskbench.store._engine import db_errors
from daskbench.store._url import ParsedURL

__all__ = [
    "VERSION_TABLE",
    "alembic_config",
    "check_schema",
    "ensure_schema",
    "head_revision",
    "known_revisions",
    "read_revision",
]

VERSION_TABLE = "alembic_version"
_MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key serialising concurrent migrations ("dbench" in ASCII).
_PG_LOCK_KEY = 0x646265_6E6368


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for the shipped migrations; env.py migrates ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this daskbench knows."""
    head = _script().get_current_head()
    assert head is not None, "the migrations must have exactly one head"
    return head


def known_revisions() -> list[str]:
    """Every revision this daskbench knows, oldest first."""
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


def read_revision(conn: Connection, parsed: ParsedURL) -> str | None:
    """The database's revision (None when it has no daskbench schema yet).

    Raises StoreError if the database holds tables but is not a daskbench database.
    """
    tables = set(sa.inspect(conn).get_table_names())
    heads = MigrationContext.configure(conn).get_current_heads() if VERSION_TABLE in tables else ()
    others = sorted(tables - {VERSION_TABLE})
    if not heads and others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise StoreError(
            f"{parsed.display} is not a daskbench history database (it has tables {shown} "
            f"but no daskbench revision); refusing to touch it, use another database"
        )
    if len(heads) > 1:
        raise StoreError(f"{parsed.display} has several schema revisions: {', '.join(heads)}")
    return heads[0] if heads else None


def _newer(parsed: ParsedURL, current: str) -> StoreError:
    return StoreError(
        f"{parsed.display} is at schema revision {current!r}, unknown to this "
        f"daskbench (newest known: {head_revision()!r}); it was probably written "
        "by a newer daskbench, upgrade daskbench to use it"
    )


def check_schema(engine: Engine, parsed: ParsedURL) -> str:
    """The revision of a database that is ready to be read as it is; StoreError otherwise.

    Never writes: for read-only commands, which must not create or migrate a database.
    """
    with db_errors(parsed, "open"), engine.connect() as conn, conn.begin():
        current = read_revision(conn, parsed)
    if current is None:
        raise StoreError(
            f"{parsed.display} holds no daskbench history (an empty database); "
            "nothing to read (daskbench run or daskbench import create one)"
        )
    if current not in known_revisions():
        raise _newer(parsed, current)
    if current != head_revision():
        raise StoreError(
            f"{parsed.display} is at schema revision {current!r}, older than this daskbench's "
            f"{head_revision()!r}; migrate it first: daskbench db upgrade --db URL"
        )
    return current


def ensure_schema(engine: Engine, parsed: ParsedURL, *, to: str = "head") -> str:
    """Bring the database to revision ``to`` (creating it if empty); return the revision."""
    target = head_revision() if to == "head" else to
    with db_errors(parsed, "open"), engine.connect() as conn:
        conn.execution_options(write_lock=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            current = read_revision(conn, parsed)
            if current is not None and current not in known_revisions():
                raise _newer(parsed, current)
            if current != target:
                command.upgrade(alembic_config(conn), target)
    return target
