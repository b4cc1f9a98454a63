"""The result history: every benchmark result, in SQL, comparable across months of CI.

Storage is chosen by URL and reached only through :func:`open_store`::

    >>> from daskbench.store import open_store
    >>> with open_store("memory://") as store:
    ...     store.labels()
    []

URL forms: ``memory://`` (a fresh in-memory store per call), ``sqlite:///history.db``
(relative to the current directory; a bare ``history.db`` works too),
``postgresql://user:pw@host/db`` (psycopg 3; ``pip install 'daskbench[postgres]'``).
Opening a database for writing (the default) creates its schema or migrates it to the newest
revision; ``open_store(url, mode="read")`` changes nothing and refuses to write, and a missing,
empty or not yet migrated database is a :class:`~daskbench.errors.StoreError` (what the
read-only commands ``export``, ``detect``, ``compare``, ``dashboard`` use).

Whole runs move between histories as a :class:`Batch` (``Store.merge``: ``daskbench db
merge`` and the importers); ``Store.prune`` removes old runs (``daskbench db prune``).
"""

from __future__ import annotations

import os
from typing import Literal

from daskbench.errors import ConfigError, StoreError
from daskbench.models import Ack  # re-exported: it lived here before models.py
from daskbench.store._base import Store
from daskbench.store._engine import create_engine, db_errors
from daskbench.store._memory import MemoryStore
from daskbench.store._merge import Batch, MergeCounts
from daskbench.store._migrate import head_revision, known_revisions, read_revision
from daskbench.store._prune import PrunePlan
from daskbench.store._sql import SqlStore
from daskbench.store._url import parse_store_url

__all__ = [
    "Ack",
    "Batch",
    "MemoryStore",
    "MergeCounts",
    "PrunePlan",
    "Store",
    "check_store",
    "current_revision",
    "head_revision",
    "open_store",
    "upgrade",
]


def open_store(url: str, mode: Literal["read", "write"] = "write") -> Store:
    """Open the store at ``url``: for writing (creating or migrating as needed) or reading.

    ConfigError for a malformed or unknown URL; StoreError when the database cannot be
    reached, is not a daskbench database, or was written by a newer daskbench, and in
    ``read`` mode when it does not exist, is empty or is at an older schema revision.
    """
    if mode not in ("read", "write"):
        raise ConfigError(f"open_store: mode must be 'read' or 'write', got {mode!r}")
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return MemoryStore(read_only=mode == "read")
    return SqlStore.open(parsed, mode)


def upgrade(url: str) -> str:
    """Migrate the database at ``url`` to the newest schema (``daskbench db upgrade``).

    Returns the revision it is at afterwards. Idempotent; ``open_store`` does the same
    implicitly, this is for doing it deliberately (e.g. before a team's CI switches over).
    """
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return head_revision()
    SqlStore.open(parsed).close()  # opening migrates
    return head_revision()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url``, without changing anything.

    None for a database (or SQLite file) that does not exist or has no daskbench schema
    yet; the head revision for ``memory://``. Compare with :func:`head_revision`.
    """
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return head_revision()
    if parsed.kind == "sqlite" and not parsed.sqlite_path.exists():
        return None
    engine = create_engine(parsed)
    try:
        with db_errors(parsed, "read the revision of"), engine.connect() as conn:
            return read_revision(conn, parsed)
    finally:
        engine.dispose()


def check_store(url: str) -> None:
    """Check, without writing anything, that ``url`` can take a run's results.

    ConfigError for a malformed URL; StoreError for a database that cannot be reached, is
    not a daskbench database, was written by a newer daskbench, or (SQLite) a file that
    could not be created. ``daskbench run`` checks this before starting a cluster, and
    opens (creates) the database only once the cluster is up.
    """
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return
    if parsed.kind == "sqlite" and not parsed.sqlite_path.exists():
        existing = parsed.sqlite_path.absolute().parent
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise StoreError(
                f"cannot create {parsed.sqlite_path}: {existing} is not a writable directory"
            )
        return
    revision = current_revision(url)
    if revision is not None and revision not in known_revisions():
        raise StoreError(
            f"{parsed.display} is at schema revision {revision!r}, unknown to this daskbench "
            f"(newest known: {head_revision()!r}); upgrade daskbench to use it"
        )
