"""Reading a whole history database as it is, for ``daskbench db merge``: never writing to it.

A source may be at any schema revision this daskbench knows (``db upgrade`` would migrate it;
merge must not). It is read in one read-only transaction (SQLite opened with ``mode=ro``;
PostgreSQL ``READ ONLY`` at ``REPEATABLE READ``, so a consistent snapshot even while a CI
job still writes to it). Columns are selected by name with today's table definitions where
they exist in the source; a table an older revision lacks (``acks`` before 0002) reads as
empty. A revision newer than this daskbench, or a database that is not a daskbench history,
is a StoreError naming the URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from daskbench.errors import ConfigError, StoreError
from daskbench.models import Measurement
from daskbench.store._engine import (
    BUSY_TIMEOUT_S,
    _sqlite_begin,
    _sqlite_connect,
    create_engine,
    db_errors,
)
from daskbench.store._merge import Batch, MergeCounts, plan_merge
from daskbench.store._migrate import head_revision, known_revisions, read_revision
from daskbench.store._schema import acks, measurements, results, runs
from daskbench.store._sql import _ack_from_row, _result_from_row, _run_from_row
from daskbench.store._url import ParsedURL, parse_store_url

__all__ = ["MergedShard", "Shard", "merge_shards", "read_shard"]


@dataclass(frozen=True)
class Shard:
    """Everything in one source database, and where it came from."""

    display: str  # the URL without its password
    canonical: str  # what parse_store_url maps to the same database
    revision: str
    batch: Batch


@dataclass(frozen=True)
class MergedShard:
    """One source of ``db merge``: where, at which revision, and what it added."""

    display: str
    revision: str
    counts: MergeCounts


def merge_shards(sources: Sequence[str], into: str, *, dry_run: bool = False) -> list[MergedShard]:
    """Merge every source database into ``into``: one transaction per source.

    Every source is read and checked (against the target and against the other sources)
    before anything is written, so a conflict anywhere writes nothing; the sources are
    then merged one transaction each. Sources are never written to.
    """
    from daskbench.store import open_store  # the target is opened (and migrated) normally

    if not sources:
        raise ConfigError("db merge: give at least one source database")
    target = parse_store_url(into)
    if target.kind == "memory":
        raise ConfigError("db merge: --into memory:// would be lost at exit; give a database")
    seen: dict[str, str] = {}
    for url in sources:
        parsed = parse_store_url(url)
        if parsed.canonical == target.canonical:
            raise ConfigError(f"db merge: source {parsed.display} is the target (--into)")
        if parsed.canonical in seen:
            raise ConfigError(f"db merge: source {parsed.display} is given twice")
        seen[parsed.canonical] = parsed.display
    shards = [read_shard(url) for url in sources]
    union = Batch()
    for shard in shards:  # shards that disagree with each other: fail before writing
        plan_merge(shard.batch, union, source=shard.display, target="another source")
        union = Batch(
            union.runs + shard.batch.runs,
            union.results + shard.batch.results,
            union.acks + shard.batch.acks,
        )
    with open_store(into) as store:
        # Each source against the target, still writing nothing (counts as if merged alone).
        checked = [store.merge(s.batch, source=s.display, dry_run=True) for s in shards]
        if dry_run:
            return [
                MergedShard(s.display, s.revision, c) for s, c in zip(shards, checked, strict=True)
            ]
        return [
            MergedShard(s.display, s.revision, store.merge(s.batch, source=s.display))
            for s in shards
        ]


def _read_only_engine(parsed: ParsedURL) -> Engine:
    if parsed.kind == "memory":
        raise ConfigError("a merge source must be a database (sqlite:/// or postgresql://)")
    if parsed.kind == "sqlite":
        path = parsed.sqlite_path
        if not path.is_file():
            raise ConfigError(f"merge source {parsed.display}: no such file {path}")
        # mode=ro: SQLite itself refuses every write, whatever the code below does.
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)

        engine = sa.create_engine("sqlite://", creator=connect)
        # Explicit BEGIN (see _engine): every SELECT below sees one snapshot.
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed)


def _begin_read_only(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    else:
        conn.begin()


def read_shard(url: str) -> Shard:
    """Read every run, result, measurement and ack of the database at ``url``."""
    parsed = parse_store_url(url)
    engine = _read_only_engine(parsed)
    try:
        with db_errors(parsed, "read the merge source"), engine.connect() as conn:
            _begin_read_only(conn)
            revision = read_revision(conn, parsed)
            if revision is None:
                raise StoreError(f"merge source {parsed.display} has no daskbench history")
            if revision not in known_revisions():
                raise StoreError(
                    f"merge source {parsed.display} is at schema revision {revision!r}, "
                    f"unknown to this daskbench (newest known: {head_revision()!r}); "
                    "upgrade daskbench to merge it"
                )
            batch = _read_all(conn)
    finally:
        engine.dispose()
    return Shard(parsed.display, parsed.canonical, revision, batch)


def _columns(conn: Connection, table: sa.Table) -> list[sa.Column[object]] | None:
    """Today's columns of ``table`` that the source has; None when it lacks the table."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(table.name):
        return None
    present = {c["name"] for c in inspector.get_columns(table.name)}
    return [c for c in table.columns if c.name in present]


# Values of columns an older revision may lack (revision 0003 added runs.status and
# results.execution, workers and threads).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "runs": {
        "finished_at": None,
        "scale": "ci",
        "command": "",
        "environment": {},
        "status": None,
    },
    "results": {"error": None, "path": "", "execution": 0, "workers": None, "threads": None},
    "measurements": {"unit": ""},
    "acks": {"author": ""},
}


def _select(conn: Connection, table: sa.Table) -> list[dict[str, Any]]:
    """Every row of ``table`` as a dict, columns the source lacks at their defaults."""
    columns = _columns(conn, table)
    if columns is None:
        return []
    query = sa.select(*columns)
    if "id" in table.c and table.c.id in columns:
        query = query.order_by(table.c.id)
    defaults = _DEFAULTS.get(table.name, {})
    return [{**defaults, **row} for row in conn.execute(query).mappings()]


def _read_all(conn: Connection) -> Batch:
    by_result: dict[int, list[Measurement]] = {}
    for row in _select(conn, measurements):
        by_result.setdefault(row["result_id"], []).append(
            Measurement(row["metric"], row["value"], row["unit"])
        )
    return Batch(
        tuple(_run_from_row(r) for r in _select(conn, runs)),
        tuple(_result_from_row(r, by_result.get(r["id"], [])) for r in _select(conn, results)),
        tuple(_ack_from_row(a) for a in _select(conn, acks)),
    )
