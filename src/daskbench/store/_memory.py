"""An in-memory store with the semantics of the SQL one: a test double, not a mock.

    >>> from datetime import UTC, datetime
    >>> from daskbench.models import Run
    >>> store = MemoryStore()
    >>> store.add_run(Run("r1", "main", datetime(2025, 1, 1, tzinfo=UTC)))
    >>> store.labels()
    ['main']

Objects are normalised on the way in exactly like the SQL store does on the way out
(:func:`~daskbench.store._base.normalize_run`), so a test passing here passes on SQL too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from daskbench.errors import ConfigError, NotFoundError, StoreError
from daskbench.models import Ack, Result, Run, RunStatus
from daskbench.store._base import normalize_ack, normalize_result, normalize_run
from daskbench.store._merge import Batch, MergeCounts, plan_merge
from daskbench.store._prune import PrunePlan, plan_prune

__all__ = ["MemoryStore"]


class MemoryStore:
    """A :class:`~daskbench.store.Store` in a few dicts; ``open_store("memory://")``."""

    url = "memory://"

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self._runs: dict[str, Run] = {}
        self._results: list[Result] = []
        self._acks: list[Ack] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._runs)} runs, {len(self._results)} results>"

    def _check_open(self, action: str, *, write: bool = False) -> None:
        if self._closed:
            raise StoreError(f"cannot {action}: the store memory:// is closed")
        if write and self.read_only:
            raise StoreError(f"cannot {action} in memory://: opened read-only")

    def _require_run(self, run_id: str, action: str) -> None:
        if run_id not in self._runs:
            raise NotFoundError(f"cannot {action}: no run {run_id!r} in memory://")

    def add_run(self, run: Run) -> None:
        self._check_open("add a run", write=True)
        if run.id in self._runs:
            raise StoreError(f"run {run.id!r} already exists in memory://")
        self._runs[run.id] = _normalized(run)

    def finish_run(
        self, run_id: str, finished_at: datetime, status: RunStatus = RunStatus.COMPLETED
    ) -> None:
        self._check_open("finish a run", write=True)
        if finished_at.tzinfo is None:
            raise ConfigError(f"finished_at must be timezone-aware, got {finished_at}")
        self._require_run(run_id, "finish a run")
        run = self._runs[run_id]
        self._runs[run_id] = dataclasses.replace(
            run, finished_at=finished_at.astimezone(UTC), status=RunStatus(status)
        )

    def add_result(self, result: Result) -> Result:
        self._check_open("add a result", write=True)
        self._require_run(result.run_id, f"add result {result.test}")
        stored = normalize_result(result, len(self._results) + 1)
        self._results.append(stored)
        return stored

    def add_results(self, results: Sequence[Result]) -> None:
        self._check_open("import results", write=True)
        for run_id in sorted({r.run_id for r in results}):  # all or nothing: check first
            self._require_run(run_id, f"add {len(results)} results")
        first = len(self._results) + 1
        self._results.extend(normalize_result(r, first + i) for i, r in enumerate(results))

    def add_runs_with_results(self, runs: Sequence[Run], results: Sequence[Result]) -> None:
        self._check_open("import", write=True)
        # Everything is checked (and normalised) before anything changes: all or nothing.
        ids = [r.id for r in runs]
        clash = [i for i in ids if i in self._runs] or [i for i in ids if ids.count(i) > 1]
        if clash:
            more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
            raise StoreError(f"run {clash[0]!r}{more} already exists in memory://; nothing written")
        new = {r.id: _normalized(r) for r in runs}
        missing = sorted({r.run_id for r in results} - new.keys() - self._runs.keys())
        if missing:
            raise NotFoundError(
                f"cannot add {len(results)} results: no run {', '.join(map(repr, missing))} "
                "in memory://"
            )
        first = len(self._results) + 1
        stored = [normalize_result(r, first + i) for i, r in enumerate(results)]
        self._runs.update(new)
        self._results.extend(stored)

    def get_run(self, run_id: str) -> Run:
        self._check_open("read a run")
        self._require_run(run_id, "read a run")
        return self._runs[run_id]

    def runs(self, *, label: str | None = None) -> list[Run]:
        self._check_open("read runs")
        found = (r for r in self._runs.values() if label is None or r.label == label)
        return sorted(found, key=lambda r: (r.started_at, r.id))

    def results(
        self,
        *,
        run_id: str | None = None,
        label: str | None = None,
        test: str | None = None,
    ) -> list[Result]:
        self._check_open("read results")
        found = [
            r
            for r in self._results
            if (run_id is None or r.run_id == run_id)
            and (label is None or self._runs[r.run_id].label == label)
            and (test is None or r.test == test)
        ]
        # Ids increase in insertion order, as SQL ids do.
        return sorted(
            found, key=lambda r: (self._runs[r.run_id].started_at, r.started_at, r.id or 0)
        )

    def labels(self) -> list[str]:
        self._check_open("read labels")
        return sorted({r.label for r in self._runs.values()})

    def add_ack(self, ack: Ack) -> Ack:
        self._check_open("add an acknowledgement", write=True)
        self._require_run(ack.run_id, f"acknowledge {ack.test}")
        stored = normalize_ack(ack, len(self._acks) + 1)
        self._acks.append(stored)
        return stored

    def acks(self, *, test: str | None = None) -> list[Ack]:
        self._check_open("read acknowledgements")
        found = [a for a in self._acks if test is None or a.test == test]
        return sorted(found, key=lambda a: (a.created_at, a.id or 0))

    def merge(
        self, batch: Batch, *, source: str = "the source", dry_run: bool = False
    ) -> MergeCounts:
        self._check_open("merge")
        wanted = set(batch.run_ids()) | {r.run_id for r in batch.results}
        existing = Batch(
            tuple(self._runs[i] for i in wanted if i in self._runs),
            tuple(r for r in self._results if r.run_id in wanted),
            tuple(a for a in self._acks if a.run_id in wanted),
        )
        todo, counts = plan_merge(batch, existing, source=source, target=self.url)
        if dry_run:
            return counts
        try:
            new_runs = {r.id: normalize_run(r) for r in todo.runs}
        except (TypeError, ValueError) as exc:
            raise StoreError(f"cannot merge {source}: environment not JSON: {exc}") from None
        self._runs.update(new_runs)  # nothing can fail past this point: all or nothing
        first = len(self._results) + 1
        self._results.extend(normalize_result(r, first + i) for i, r in enumerate(todo.results))
        first = len(self._acks) + 1
        self._acks.extend(normalize_ack(a, first + i) for i, a in enumerate(todo.acks))
        return counts

    def prune(
        self, cutoff: datetime, *, keep_labels: Sequence[str] = (), dry_run: bool = False
    ) -> PrunePlan:
        self._check_open("prune")
        plan = plan_prune(self._runs.values(), self._acks, cutoff=cutoff, keep_labels=keep_labels)
        gone = set(plan.remove_ids)
        doomed = [r for r in self._results if r.run_id in gone]
        plan = dataclasses.replace(
            plan,
            results=len(doomed),
            measurements=sum(len(r.measurements) for r in doomed),
            dry_run=dry_run,
        )
        if not dry_run:
            self._results = [r for r in self._results if r.run_id not in gone]
            self._acks = [a for a in self._acks if a.run_id not in gone]
            for run_id in gone:
                del self._runs[run_id]
        return plan

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _normalized(run: Run) -> Run:
    try:
        return normalize_run(run)
    except (TypeError, ValueError) as exc:
        # What the SQL store's JSON column would refuse.
        raise StoreError(f"cannot add run {run.id!r}: environment not JSON: {exc}") from None
