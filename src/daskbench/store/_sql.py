"""The SQL store (SQLite or PostgreSQL) behind :func:`daskbench.store.open_store`.

SQLAlchemy Core, not the ORM: rows become frozen domain objects right here, and bulk imports
go through ``executemany`` (hundreds of thousands of measurements in seconds).

    >>> from daskbench.store import open_store
    >>> with open_store("sqlite:///history.db") as store:  # doctest: +SKIP
    ...     store.labels()
    ['main', 'pr-123']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from daskbench.errors import ConfigError, NotFoundError, StoreError
from daskbench.models import Environment, Measurement, Result, Run, RunStatus
from daskbench.store._base import Ack, normalize_ack, normalize_result
from daskbench.store._engine import create_engine, db_errors, describe_error, enable_wal
from daskbench.store._migrate import ensure_schema
from daskbench.store._schema import acks, measurements, results, runs
from daskbench.store._url import ParsedURL

__all__ = ["SqlStore"]


class SqlStore:
    """A :class:`~daskbench.store.Store` on SQLite or PostgreSQL; build it with ``open``."""

    def __init__(self, parsed: ParsedURL, engine: Engine) -> None:
        self.url = parsed.canonical
        self._parsed = parsed
        self._engine: Engine | None = engine

    @classmethod
    def open(cls, parsed: ParsedURL) -> SqlStore:
        """Connect, create or migrate the schema to head, and return the store."""
        if parsed.kind == "sqlite":
            try:
                parsed.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory of {parsed.display}: {exc}"
                ) from None
        engine = create_engine(parsed)
        try:
            ensure_schema(engine, parsed)
            if parsed.kind == "sqlite":
                with db_errors(parsed, "open"):
                    enable_wal(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(parsed, engine)

    def __repr__(self) -> str:
        return f"<SqlStore {self._parsed.display}>"

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _begin(self, action: str) -> Iterator[Connection]:
        if self._engine is None:
            raise StoreError(f"cannot {action}: the store {self._parsed.display} is closed")
        with db_errors(self._parsed, action), self._engine.begin() as conn:
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
        password = self._parsed.url.password if self._parsed.url is not None else None
        cause = describe_error(exc, str(password) if password else None)
        return StoreError(f"cannot add {what} to {self._parsed.display}: {cause}")

    # -- writes ----------------------------------------------------------------------------

    def add_run(self, run: Run) -> None:
        try:
            with self._begin("add a run to") as conn:
                conn.execute(sa.insert(runs), _run_row(run))
        except IntegrityError:
            raise StoreError(f"run {run.id!r} already exists in {self._parsed.display}") from None

    def finish_run(
        self, run_id: str, finished_at: datetime, status: RunStatus = RunStatus.COMPLETED
    ) -> None:
        if finished_at.tzinfo is None:
            raise ConfigError(f"finished_at must be timezone-aware, got {finished_at}")
        with self._begin("finish a run in") as conn:
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=finished_at, status=RunStatus(status).value)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no run {run_id!r} in {self._parsed.display}")

    def add_result(self, result: Result) -> Result:
        try:
            with self._begin("add a result to") as conn:
                (result_id,) = self._insert_results(conn, [result])
        except IntegrityError as exc:
            raise self._insert_failed([result.run_id], f"result {result.test}", exc) from None
        return normalize_result(result, result_id)

    def add_results(self, results_: Sequence[Result]) -> None:
        if not results_:
            return
        try:
            with self._begin("import results into") as conn:
                self._insert_results(conn, results_)
        except IntegrityError as exc:
            raise self._insert_failed(
                {r.run_id for r in results_}, f"{len(results_)} results", exc
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
        row = {
            "run_id": ack.run_id,
            "test": ack.test,
            "metric": ack.metric,
            "reason": ack.reason,
            "author": ack.author,
            "created_at": ack.created_at,
        }
        try:
            with self._begin("add an acknowledgement to") as conn:
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
        return [
            Ack(
                id=row["id"],
                run_id=row["run_id"],
                test=row["test"],
                metric=row["metric"],
                reason=row["reason"],
                author=row["author"],
                created_at=row["created_at"],
            )
            for row in rows
        ]

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
