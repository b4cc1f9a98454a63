"""The interface every store implements (SQL and in-memory alike).

Code reaches storage only through :func:`daskbench.store.open_store`, which returns an object
satisfying :class:`Store`; stores return domain objects from :mod:`daskbench.models`, never
ORM rows. Writes are committed immediately, so an interrupted run keeps every finished result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from daskbench.models import Result, Run

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    url: str

    def add_run(self, run: Run) -> None:
        """Insert a run (its results come later). Raises StoreError if the id exists."""

    def finish_run(self, run_id: str, finished_at: datetime) -> None:
        """Set ``finished_at`` of an existing run. NotFoundError if unknown."""

    def add_result(self, result: Result) -> Result:
        """Insert one result with its measurements, commit, and return it with ``id`` set."""

    def add_results(self, results: Sequence[Result]) -> None:
        """Bulk insert (imports): one transaction, all or nothing."""

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
        """Results, ordered by their run's started_at, then result started_at, then id."""

    def labels(self) -> list[str]:
        """Distinct run labels, sorted."""

    def close(self) -> None:
        """Release connections. Idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
