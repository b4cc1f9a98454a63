"""The interface every store implements (SQL and in-memory alike).

Code reaches storage only through :func:`daskbench.store.open_store`, which returns an object
satisfying :class:`Store`; stores return domain objects from :mod:`daskbench.models`, never
ORM rows. Writes are committed immediately, so an interrupted run keeps every finished result;
a write of many rows (:meth:`Store.add_results`, :meth:`Store.add_runs_with_results`) is one
transaction, so an interrupted import leaves everything or nothing. A store opened with
``open_store(url, mode="read")`` refuses every write (``read_only`` is True).

What is read back equals what was written, normalised the same way by every store (see
:func:`normalize_run` and :func:`normalize_result`): timestamps in UTC, measurements sorted by
metric name, the environment as it survives a JSON round trip (tuples become lists). Filters
that match nothing give an empty list, not an error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from daskbench.models import Ack, Environment, Result, Run, RunStatus

if TYPE_CHECKING:
    from daskbench.store._merge import Batch, MergeCounts
    from daskbench.store._prune import PrunePlan

__all__ = ["Ack", "Store", "normalize_ack", "normalize_result", "normalize_run"]


@runtime_checkable
class Store(Protocol):
    """A run/result history. ``url`` opens the same database again with ``open_store``
    (absolute path for SQLite, password included for PostgreSQL: don't print it)."""

    url: str
    read_only: bool

    def add_run(self, run: Run) -> None:
        """Insert a run (its results come later). Raises StoreError if the id exists."""

    def finish_run(
        self, run_id: str, finished_at: datetime, status: RunStatus = RunStatus.COMPLETED
    ) -> None:
        """Set ``finished_at`` and ``status`` of an existing run. NotFoundError if unknown."""

    def add_result(self, result: Result) -> Result:
        """Insert one result with its measurements, commit, and return it with ``id`` set.

        The returned result is normalised (:func:`normalize_result`), equal to what reads give.
        NotFoundError if its run does not exist.
        """

    def add_results(self, results: Sequence[Result]) -> None:
        """Bulk insert (imports): one transaction, all or nothing.

        Ids are assigned in input order. NotFoundError (nothing inserted) if a run is missing.
        """

    def add_runs_with_results(self, runs: Sequence[Run], results: Sequence[Result]) -> None:
        """Insert new runs and their results in one transaction: all or nothing.

        Results may also belong to runs already stored. StoreError (nothing written) if a
        run id exists already; NotFoundError if a result's run is neither new nor stored.
        Concurrent writers are serialised: another import of the same runs fails whole.
        """

    def get_run(self, run_id: str) -> Run:
        """The run with this id. NotFoundError if unknown."""

    def runs(self, *, label: str | None = None) -> list[Run]:
        """Runs, oldest first (by started_at, then id), optionally of one label."""

    def results(
        self,
        *,
        run_id: str | None = None,
        label: str | None = None,
        test: str | None = None,
    ) -> list[Result]:
        """Results, ordered by their run's started_at, then result started_at, then id.

        Filters combine with AND; measurements come in one query, not one per result.
        """

    def labels(self) -> list[str]:
        """Distinct run labels, sorted."""

    def add_ack(self, ack: Ack) -> Ack:
        """Insert an acknowledgement, commit, and return it normalised with ``id`` set.

        NotFoundError if its run does not exist.
        """

    def acks(self, *, test: str | None = None) -> list[Ack]:
        """Acknowledgements, oldest first (by created_at, then id), optionally of one test."""

    def merge(
        self, batch: Batch, *, source: str = "the source", dry_run: bool = False
    ) -> MergeCounts:
        """Add the runs, results and acks of ``batch`` not yet stored, in one transaction.

        Rows are matched by natural keys (see :mod:`daskbench.store._merge`), so merging the
        same batch twice adds nothing. StoreError naming the run (nothing written) when the
        store holds different data under one identity. ``dry_run`` checks and counts only.
        """

    def prune(
        self, cutoff: datetime, *, keep_labels: Sequence[str] = (), dry_run: bool = False
    ) -> PrunePlan:
        """Remove runs started before ``cutoff`` with their rows, in one transaction.

        Runs of ``keep_labels`` and runs that acks refer to are kept (see
        :mod:`daskbench.store._prune`); the returned plan says what was removed and kept.
        """

    def close(self) -> None:
        """Release connections. Idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def normalize_run(run: Run) -> Run:
    """``run`` as every store reads it back: UTC timestamps, JSON-round-tripped environment."""
    environment = json.loads(json.dumps(run.environment.to_dict()))
    return dataclasses.replace(
        run,
        started_at=run.started_at.astimezone(UTC),
        finished_at=run.finished_at.astimezone(UTC) if run.finished_at else None,
        environment=Environment.from_dict(environment),
    )


def normalize_result(result: Result, result_id: int) -> Result:
    """``result`` as every store reads it back: its id, UTC timestamps, measurements by name."""
    return dataclasses.replace(
        result,
        id=result_id,
        started_at=result.started_at.astimezone(UTC),
        finished_at=result.finished_at.astimezone(UTC),
        measurements=tuple(sorted(result.measurements, key=lambda m: m.metric)),
    )


def normalize_ack(ack: Ack, ack_id: int) -> Ack:
    """``ack`` as every store reads it back: its id, ``created_at`` in UTC."""
    return dataclasses.replace(ack, id=ack_id, created_at=ack.created_at.astimezone(UTC))
