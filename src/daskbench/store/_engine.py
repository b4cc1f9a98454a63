"""SQLAlchemy engines for the history database, and turning driver errors into one-liners.

SQLite needs care to behave like a real database:

- ``PRAGMA foreign_keys=ON`` on every connection (off by default in SQLite);
- a busy timeout, so two processes writing the same file (the two sides of an A/B run)
  wait for each other instead of failing with "database is locked";
- explicit ``BEGIN`` statements: the sqlite3 module otherwise starts transactions lazily
  and runs DDL outside them, which would make migrations non-atomic. A connection with the
  execution option ``write_lock=True`` begins with ``BEGIN IMMEDIATE`` and so holds the
  write lock from its first statement (used by migrations: check the revision and migrate
  without another process slipping in between).

A *read-only* engine (``daskbench export``, ``detect``, ``compare``, ``dashboard``, ``list``)
cannot write at all: SQLite opens the file with ``mode=ro`` and ``PRAGMA query_only`` (and
``immutable=1`` when the file or its directory is not writable, as SQLite can then not even
create the WAL index); PostgreSQL sessions are ``READ ONLY``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from daskbench._secrets import mask_text, url_secrets
from daskbench.errors import DaskbenchError, StoreError
from daskbench.store._url import ParsedURL

__all__ = ["BUSY_TIMEOUT_S", "create_engine", "db_errors", "describe_error", "enable_wal"]

# Long enough for the other process's bulk import to commit; short enough to notice a hang.
BUSY_TIMEOUT_S = 60.0


def create_engine(parsed: ParsedURL, *, read_only: bool = False) -> Engine:
    """An engine for ``parsed`` (sqlite or postgresql); connects lazily."""
    assert parsed.url is not None
    if parsed.kind == "sqlite":
        if read_only:
            uri = _sqlite_read_only_uri(parsed.sqlite_path)
            engine = sa.create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(
                    uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                ),
            )
            sa.event.listen(engine, "connect", _sqlite_connect_read_only)
        else:
            engine = sa.create_engine(parsed.url, connect_args={"timeout": BUSY_TIMEOUT_S})
            sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        engine = sa.create_engine(parsed.url, pool_pre_ping=True)
    except ImportError:
        raise StoreError(
            f"cannot open {parsed.display}: PostgreSQL support needs psycopg 3, "
            "install it with: pip install 'daskbench[postgres]'"
        ) from None
    if read_only:
        sa.event.listen(engine, "connect", _postgres_read_only)
    return engine


def _sqlite_read_only_uri(path: Path) -> str:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        # Nobody can write here, and SQLite cannot create the -shm file a WAL reader needs.
        uri += "&immutable=1"
    return uri


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Autocommit at the driver level; transactions are begun explicitly in _sqlite_begin.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _sqlite_connect_read_only(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    _sqlite_connect(dbapi_connection, _record)
    dbapi_connection.execute("PRAGMA query_only=ON")


def _postgres_read_only(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.commit()


def _sqlite_begin(conn: Connection) -> None:
    write_lock = conn.get_execution_options().get("write_lock", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write_lock else "BEGIN")


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL (readers don't block the writer). Persistent in the file,
    so call it only once the file is known to be a daskbench database."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        try:
            (mode,) = raw.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                raw.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            # Another process holds the file; WAL is an optimisation, rollback journal works.
            pass


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """First line of the driver's message, without SQL, parameters, URLs' or known secrets."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(orig).__name__
    return mask_text(text, secrets)


@contextmanager
def db_errors(parsed: ParsedURL, action: str) -> Iterator[None]:
    """Turn SQLAlchemy errors inside the block into ``StoreError("cannot <action> ...")``.

    IntegrityError passes through untouched: the caller knows which constraint it means.
    """
    try:
        yield
    except (DaskbenchError, IntegrityError):
        raise
    except SQLAlchemyError as exc:
        message = describe_error(exc, url_secrets(parsed.canonical))
        if parsed.kind == "sqlite" and "file is not a database" in message:
            raise StoreError(
                f"cannot {action}: {parsed.sqlite_path} is not a SQLite database"
            ) from None
        raise StoreError(f"cannot {action} {parsed.display}: {message}") from None
