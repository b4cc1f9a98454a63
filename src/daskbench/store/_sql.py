"""The SQL store (SQLite or PostgreSQL) behind :func:`daskbench.store.open_store`.

SQLAlchemy Core, not the ORM: rows become frozen domain objects right here, and bulk imports
go through ``executemany`` (hundreds of thousands of measurements in seconds).

    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> from daskbench.models import Run
    >>> from daskbench.store import open_store
    >>> url = f"sqlite:///{tempfile.mkdtemp()}/history.db"
    >>> with open_store(url) as store:  # created at the newest schema revision
    ...     store.add_run(Run("r1", "main", datetime(2025, 1, 1, tzinfo=UTC)))
    >>> with open_store(url, mode="read") as store:
    ...     store.labels()
    ['main']
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from daskbench._secrets import url_secrets
from daskbench.errors import ConfigError, NotFoundError, StoreError
from daskbench.models import Ack, Environment, Measurement, Result, Run, RunStatus
from daskbench.store._base import normalize_ack, normalize_result
from daskbench.store._engine import create_engine, db_errors, describe_error, enable_wal
from daskbench.store._merge import Batch, MergeCounts, plan_merge
from daskbench.store._migrate import check_schema, ensure_schema
from daskbench.store._prune import PrunePlan, plan_prune
from daskbench.store._schema import acks, measurements, results, runs
from daskbench.store._url import ParsedURL

__all__ = ["SqlStore"]

# pg_advisory_xact_lock key serialising merges and prunes of one database ("dbmerg").
_PG_WRITE_LOCK_KEY = 0x64626D_657267
# Ids per IN (...) list: far below SQLite's bound-parameter limit.
_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class SqlStore:
    """A :class:`~daskbench.store.Store` on SQLite or PostgreSQL; build it with ``open``."""

    def __init__(self, parsed: ParsedURL, engine: Engine, *, read_only: bool = False) -> None:
        self.url = parsed.canonical
        self.read_only = read_only
        self._parsed = parsed
        self._engine: Engine | None = engine

    @classmethod
    def open(cls, parsed: ParsedURL, mode: Literal["read", "write"] = "write") -> SqlStore:
        """Connect and return the store.

        ``write``: create the database (and SQLite's directory) or migrate it to head.
        ``read``: change nothing; a database that does not exist, is empty or is not at head
        is a StoreError (see :func:`~daskbench.store._migrate.check_schema`).
        """
        read_only = mode == "read"
        if parsed.kind == "sqlite":
            path = parsed.sqlite_path
            if read_only and not path.is_file():
                raise StoreError(
                    f"no history database at {path} (nothing to read; check --db, or create "
                    "it with daskbench run or daskbench import)"
                )
            if not read_only:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the directory of {parsed.display}: {exc}"
                    ) from None
        engine = create_engine(parsed, read_only=read_only)
        try:
            if read_only:
                check_schema(engine, parsed)
            else:
                ensure_schema(engine, parsed)
                if parsed.kind == "sqlite":
                    with db_errors(parsed, "open"):
                        enable_wal(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(parsed, engine, read_only=read_only)

    def __repr__(self) -> str:
        return f"<SqlStore {self._parsed.display}>"

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _begin(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction. ``write``: refused on a read-only store; on SQLite it takes the
        write lock up front, so a concurrent writer waits instead of interleaving."""
        if self._engine is None:
            raise StoreError(f"cannot {action}: the store {self._parsed.display} is closed")
        if write and self.read_only:
            raise StoreError(f"cannot {action} {self._parsed.display}: opened read-only")
        engine = self._engine.execution_options(write_lock=True) if write else self._engine
        with db_errors(self._parsed, action), engine.begin() as conn:
            yield conn

    @contextmanager
    def _write_locked(self, action: str) -> Iterator[Connection]:
        """One transaction holding the database's write lock (``BEGIN IMMEDIATE`` on SQLite,
        an advisory lock on PostgreSQL), so that a check and the writes it allows cannot
        interleave with another merge or prune."""
        if self._engine is None:
            raise StoreError(f"cannot {action}: the store {self._parsed.display} is closed")
        with db_errors(self._parsed, action), self._engine.connect() as conn:
            conn.execution_options(write_lock=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK_KEY}
                    )
                yield conn

    def _missing_runs(self, run_ids: Iterable[str]) -> list[str]:
        wanted = set(run_ids)
        with self._begin("read runs of") as conn:
            found = set(conn.scalars(sa.select(runs.c.id).where(runs.c.id.in_(wanted))))
        return sorted(wanted - found)

    def _insert_failed(self, run_ids: Iterable[str], what: str, exc: IntegrityError) -> StoreError:
        missing = self._missing_runs(run_ids)
        if missing:
            return NotFoundError(
                f"cannot add {what}: no run {', '.join(map(repr, missing))} "
                f"in {self._parsed.display}"
            )
        # Say what the database said: the cause must reach the user.
        cause = describe_error(exc, url_secrets(self._parsed.canonical))
        return StoreError(f"cannot add {what} to {self._parsed.display}: {cause}")

    # -- writes ----------------------------------------------------------------------------

    def add_run(self, run: Run) -> None:
        try:
            with self._begin("add a run to", write=True) as conn:
                conn.execute(sa.insert(runs), _run_row(run))
        except IntegrityError:
            raise StoreError(f"run {run.id!r} already exists in {self._parsed.display}") from None

    def finish_run(
        self, run_id: str, finished_at: datetime, status: RunStatus = RunStatus.COMPLETED
    ) -> None:
        if finished_at.tzinfo is None:
            raise ConfigError(f"finished_at must be timezone-aware, got {finished_at}")
        with self._begin("finish a run in", write=True) as conn:
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=finished_at, status=RunStatus(status).value)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no run {run_id!r} in {self._parsed.display}")

    def add_result(self, result: Result) -> Result:
        try:
            with self._begin("add a result to", write=True) as conn:
                (result_id,) = self._insert_results(conn, [result])
        except IntegrityError as exc:
            raise self._insert_failed([result.run_id], f"result {result.test}", exc) from None
        return normalize_result(result, result_id)

    def add_results(self, results_: Sequence[Result]) -> None:
        if not results_:
            return
        try:
            with self._begin("import results into", write=True) as conn:
                self._insert_results(conn, results_)
        except IntegrityError as exc:
            raise self._insert_failed(
                {r.run_id for r in results_}, f"{len(results_)} results", exc
            ) from None

    def add_runs_with_results(self, runs_: Sequence[Run], results_: Sequence[Result]) -> None:
        if not runs_ and not results_:
            return
        try:
            with self._begin("import into", write=True) as conn:
                if runs_:
                    conn.execute(sa.insert(runs), [_run_row(r) for r in runs_])
                if results_:
                    self._insert_results(conn, results_)
        except IntegrityError as exc:
            ids = [r.id for r in runs_]
            with self._begin("read runs of") as conn:
                found = set(conn.scalars(sa.select(runs.c.id).where(runs.c.id.in_(ids))))
            clash = [i for i in ids if i in found] or _duplicates(ids)
            if clash:
                more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
                raise StoreError(
                    f"run {clash[0]!r}{more} already exists in {self._parsed.display}; "
                    "nothing written"
                ) from None
            new = set(ids)
            raise self._insert_failed(
                {r.run_id for r in results_ if r.run_id not in new},
                f"{len(results_)} results",
                exc,
            ) from None

    @staticmethod
    def _insert_results(conn: Connection, batch: Sequence[Result]) -> list[int]:
        # One executemany with RETURNING (sorted by parameter order) gives the ids in input
        # order, so measurements need no per-row round trip.
        statement = sa.insert(results).returning(results.c.id, sort_by_parameter_order=True)
        ids = list(conn.scalars(statement, [_result_row(r) for r in batch]))
        rows = [
            {"result_id": rid, "metric": m.metric, "value": m.value, "unit": m.unit}
            for rid, result in zip(ids, batch, strict=True)
            for m in result.measurements
        ]
        if rows:
            conn.execute(sa.insert(measurements), rows)
        return ids

    # -- reads -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        with self._begin("read a run from") as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self._parsed.display}")
        return _run_from_row(row)

    def runs(self, *, label: str | None = None) -> list[Run]:
        query = sa.select(runs)
        if label is not None:
            query = query.where(runs.c.label == label)
        with self._begin("read runs from") as conn:
            rows = conn.execute(query).mappings().all()
        # Sorted in Python: PostgreSQL's collation may order ids differently from Python.
        return sorted((_run_from_row(r) for r in rows), key=lambda r: (r.started_at, r.id))

    def results(
        self,
        *,
        run_id: str | None = None,
        label: str | None = None,
        test: str | None = None,
    ) -> list[Result]:
        where: list[sa.ColumnElement[bool]] = []
        if run_id is not None:
            where.append(results.c.run_id == run_id)
        if label is not None:
            where.append(runs.c.label == label)
        if test is not None:
            where.append(results.c.test == test)
        joined = results.join(runs, runs.c.id == results.c.run_id)
        result_query = (
            sa.select(results)
            .select_from(joined)
            .where(*where)
            .order_by(runs.c.started_at, results.c.started_at, results.c.id)
        )
        # All measurements of the selection in one query, grouped below: no N+1.
        measurement_query = (
            sa.select(measurements)
            .select_from(measurements.join(joined, results.c.id == measurements.c.result_id))
            .where(*where)
        )
        with self._begin("read results from") as conn:
            result_rows = conn.execute(result_query).mappings().all()
            grouped: defaultdict[int, list[Measurement]] = defaultdict(list)
            for rid, metric, value, unit in conn.execute(measurement_query):
                grouped[rid].append(Measurement(metric, value, unit))
        return [_result_from_row(row, grouped.get(row["id"], [])) for row in result_rows]

    def labels(self) -> list[str]:
        with self._begin("read labels from") as conn:
            return sorted(conn.scalars(sa.select(runs.c.label).distinct()))

    def add_ack(self, ack: Ack) -> Ack:
        row = _ack_row(ack)
        try:
            with self._begin("add an acknowledgement to", write=True) as conn:
                ack_id = conn.scalar(sa.insert(acks).returning(acks.c.id), row)
        except IntegrityError as exc:
            raise self._insert_failed([ack.run_id], f"acknowledgement of {ack.test}", exc) from None
        assert ack_id is not None
        return normalize_ack(ack, ack_id)

    def acks(self, *, test: str | None = None) -> list[Ack]:
        query = sa.select(acks).order_by(acks.c.created_at, acks.c.id)
        if test is not None:
            query = query.where(acks.c.test == test)
        with self._begin("read acknowledgements from") as conn:
            rows = conn.execute(query).mappings().all()
        return [_ack_from_row(row) for row in rows]

    # -- merge and prune (one transaction each) ---------------------------------------------

    def merge(
        self, batch: Batch, *, source: str = "the source", dry_run: bool = False
    ) -> MergeCounts:
        wanted = sorted(set(batch.run_ids()) | {r.run_id for r in batch.results})
        try:
            with self._write_locked(f"merge {source} into") as conn:
                existing = _read_runs_with_rows(conn, wanted)
                todo, counts = plan_merge(
                    batch, existing, source=source, target=self._parsed.display
                )
                if not dry_run:
                    if todo.runs:
                        conn.execute(sa.insert(runs), [_run_row(r) for r in todo.runs])
                    if todo.results:
                        self._insert_results(conn, todo.results)
                    if todo.acks:
                        conn.execute(sa.insert(acks), [_ack_row(a) for a in todo.acks])
        except IntegrityError:
            raise StoreError(
                f"cannot merge {source} into {self._parsed.display}: constraint violated "
                "(another process wrote the same rows?); nothing merged"
            ) from None
        return counts

    def prune(
        self, cutoff: datetime, *, keep_labels: Sequence[str] = (), dry_run: bool = False
    ) -> PrunePlan:
        with self._write_locked("prune") as conn:
            labels = list(conn.scalars(sa.select(runs.c.label).distinct()))
            old = conn.execute(sa.select(runs).where(runs.c.started_at < cutoff)).mappings()
            all_acks = conn.execute(sa.select(acks)).mappings()
            plan = plan_prune(
                [_run_from_row(r) for r in old],
                [_ack_from_row(a) for a in all_acks],
                cutoff=cutoff,
                keep_labels=keep_labels,
                labels=labels,
            )
            n_results = n_measurements = 0
            for chunk in _chunks(plan.remove_ids):
                doomed = sa.select(results.c.id).where(results.c.run_id.in_(chunk))
                n_results += (
                    conn.scalar(sa.select(sa.func.count()).select_from(doomed.subquery())) or 0
                )
                n_measurements += (
                    conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(measurements)
                        .where(measurements.c.result_id.in_(doomed))
                    )
                    or 0
                )
                if not dry_run:
                    conn.execute(
                        sa.delete(measurements).where(measurements.c.result_id.in_(doomed))
                    )
                    conn.execute(sa.delete(results).where(results.c.run_id.in_(chunk)))
                    conn.execute(sa.delete(acks).where(acks.c.run_id.in_(chunk)))
                    conn.execute(sa.delete(runs).where(runs.c.id.in_(chunk)))
        return dataclasses.replace(
            plan, results=n_results, measurements=n_measurements, dry_run=dry_run
        )

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- rows <-> domain objects ---------------------------------------------------------------


def _duplicates(ids: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    duplicated = []
    for run_id in ids:
        if run_id in seen:
            duplicated.append(run_id)
        seen.add(run_id)
    return duplicated


def _run_row(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "label": run.label,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "scale": run.scale,
        "command": run.command,
        "environment": run.environment.to_dict(),
        "status": run.status.value if run.status is not None else None,
    }


def _run_from_row(row: Any) -> Run:
    return Run(
        id=row["id"],
        label=row["label"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        scale=row["scale"],
        command=row["command"],
        environment=Environment.from_dict(row["environment"]),
        status=row["status"],
    )


def _result_row(result: Result) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "test": result.test,
        "path": result.path,
        "repeat": result.repeat,
        "outcome": result.outcome.value,
        "error": result.error,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "execution": result.execution,
        "workers": result.workers,
        "threads": result.threads,
    }


def _result_from_row(row: Any, found: list[Measurement]) -> Result:
    return Result(
        id=row["id"],
        run_id=row["run_id"],
        test=row["test"],
        path=row["path"],
        repeat=row["repeat"],
        outcome=row["outcome"],
        error=row["error"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        measurements=tuple(sorted(found, key=lambda m: m.metric)),
        execution=row["execution"],
        workers=row["workers"],
        threads=row["threads"],
    )


def _ack_row(ack: Ack) -> dict[str, Any]:
    return {
        "run_id": ack.run_id,
        "test": ack.test,
        "metric": ack.metric,
        "reason": ack.reason,
        "author": ack.author,
        "created_at": ack.created_at,
    }


def _ack_from_row(row: Any) -> Ack:
    return Ack(
        id=row["id"],
        run_id=row["run_id"],
        test=row["test"],
        metric=row["metric"],
        reason=row["reason"],
        author=row["author"],
        created_at=row["created_at"],
    )


def _read_runs_with_rows(conn: Connection, run_ids: Sequence[str]) -> Batch:
    """The runs ``run_ids`` (those that exist) with their results and acks, in bulk."""
    found_runs: list[Run] = []
    found_results: list[Result] = []
    found_acks: list[Ack] = []
    for chunk in _chunks(run_ids):
        found_runs += [
            _run_from_row(r)
            for r in conn.execute(sa.select(runs).where(runs.c.id.in_(chunk))).mappings()
        ]
        result_rows = (
            conn.execute(sa.select(results).where(results.c.run_id.in_(chunk))).mappings().all()
        )
        grouped: defaultdict[int, list[Measurement]] = defaultdict(list)
        joined = measurements.join(results, results.c.id == measurements.c.result_id)
        query = sa.select(measurements).select_from(joined).where(results.c.run_id.in_(chunk))
        for rid, metric, value, unit in conn.execute(query):
            grouped[rid].append(Measurement(metric, value, unit))
        found_results += [_result_from_row(r, grouped.get(r["id"], [])) for r in result_rows]
        found_acks += [
            _ack_from_row(a)
            for a in conn.execute(sa.select(acks).where(acks.c.run_id.in_(chunk))).mappings()
        ]
    return Batch(tuple(found_runs), tuple(found_results), tuple(found_acks))
