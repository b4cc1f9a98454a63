"""Adding whole runs to a history idempotently: ``daskbench db merge`` and the importers.

A :class:`Batch` is runs with their results and acknowledgements. :meth:`Store.merge
<daskbench.store.Store.merge>` adds what the store does not hold yet, in one transaction, and
refuses (nothing written) when the store holds *different* data under the same identity.

Identity across databases. Run ids are strings chosen when the run is made (timestamp plus
random suffix, or derived from the imported file), so they are global. Result and ack ids are
integers local to one database and are never copied; a merged row gets a fresh id in the
target. Rows are matched by their natural keys instead:

=============  ==========================================  ===============================
row            identity                                    compared (a difference is a
                                                           conflict)
=============  ==========================================  ===============================
run            ``id``                                      label, started_at, finished_at,
                                                           status, scale, command,
                                                           environment
result         ``(run_id, test, repeat, execution)``       outcome, error, path, times,
                                                           workers, threads, measurements
                                                           (metric, value, unit)
ack            ``(run_id, test, metric, created_at)``      reason, author
=============  ==========================================  ===============================

So merging a shard twice adds nothing, a shard that grew since the last merge adds only its
new rows, and two shards that disagree about one run are an error naming it::

    >>> from datetime import UTC, datetime
    >>> from daskbench.models import Run
    >>> from daskbench.store import open_store
    >>> batch = Batch(runs=(Run("r1", "main", datetime(2025, 1, 1, tzinfo=UTC)),))
    >>> with open_store("memory://") as store:
    ...     first, again = store.merge(batch), store.merge(batch)
    >>> (first.runs, again.runs, again.runs_present)
    (1, 0, 1)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from daskbench.errors import ConfigError, StoreError
from daskbench.models import Ack, Result, Run
from daskbench.store._base import normalize_ack, normalize_result, normalize_run

__all__ = ["Batch", "MergeCounts", "ack_key", "plan_merge", "result_key"]

ResultKey = tuple[str, str, int, int]
AckKey = tuple[str, str, str, str]
T = TypeVar("T", Run, Result, Ack)


@dataclass(frozen=True)
class Batch:
    """Runs with their results and acknowledgements: one shard, or one imported file."""

    runs: tuple[Run, ...] = ()
    results: tuple[Result, ...] = ()
    acks: tuple[Ack, ...] = ()

    @property
    def measurements(self) -> int:
        return sum(len(r.measurements) for r in self.results)

    def run_ids(self) -> list[str]:
        return [r.id for r in self.runs]


@dataclass(frozen=True)
class MergeCounts:
    """What a merge added, and what it found already there (identical)."""

    runs: int = 0
    results: int = 0
    measurements: int = 0
    acks: int = 0
    runs_present: int = 0
    results_present: int = 0
    acks_present: int = 0

    def __add__(self, other: MergeCounts) -> MergeCounts:
        return MergeCounts(
            *(
                a + b
                for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)
            )
        )

    def text(self) -> str:
        """``3 run(s), 12 result(s), 40 measurement(s), 1 ack(s) added; 0 already present``"""
        added = (
            f"{self.runs} run(s), {self.results} result(s), {self.measurements} "
            f"measurement(s), {self.acks} ack(s) added"
        )
        present = self.runs_present + self.results_present + self.acks_present
        if not present:
            return f"{added}; nothing was already present"
        return (
            f"{added}; already present: {self.runs_present} run(s), "
            f"{self.results_present} result(s), {self.acks_present} ack(s)"
        )


def result_key(result: Result) -> ResultKey:
    return (result.run_id, result.test, result.repeat, result.execution)


def ack_key(ack: Ack) -> AckKey:
    # isoformat of the UTC time: equal instants compare equal whatever the stored offset.
    return (ack.run_id, ack.test, ack.metric, normalize_ack(ack, 0).created_at.isoformat())


def _canonical_run(run: Run) -> Run:
    return normalize_run(run)


def _canonical_result(result: Result) -> Result:
    return dataclasses.replace(normalize_result(result, 0), id=None)


def _canonical_ack(ack: Ack) -> Ack:
    return dataclasses.replace(normalize_ack(ack, 0), id=None)


def _first_difference(mine: Any, theirs: Any) -> str:
    """``field: a != b`` for the first dataclass field that differs (values shortened)."""
    for f in dataclasses.fields(mine):
        a, b = getattr(mine, f.name), getattr(theirs, f.name)
        if a != b:
            if f.name == "environment":
                diff = a.diff(b)
                if diff:
                    key = next(iter(diff))
                    a, b = diff[key]
                    return f"environment {key}: {_short(a)} != {_short(b)}"
            if f.name == "measurements":
                return _measurement_difference(a, b)
            return f"{f.name}: {_short(a)} != {_short(b)}"
    return "no difference"  # pragma: no cover - only called for unequal objects


def _measurement_difference(a: Sequence[Any], b: Sequence[Any]) -> str:
    mine = {m.metric: (m.value, m.unit) for m in a}
    theirs = {m.metric: (m.value, m.unit) for m in b}
    for metric in sorted(mine.keys() | theirs.keys()):
        if mine.get(metric) != theirs.get(metric):
            return f"{metric}: {_short(mine.get(metric))} != {_short(theirs.get(metric))}"
    return "measurements differ"  # pragma: no cover


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _conflict(run_id: str, what: str, detail: str, source: str, target: str) -> StoreError:
    return StoreError(
        f"run {run_id!r}: {what} differs between {source} and {target} ({detail}); "
        f"nothing merged from {source}"
    )


@dataclass(frozen=True)
class _Kind(Generic[T]):
    """How rows of one table are identified, compared and named in messages."""

    key: Callable[[T], tuple[Any, ...]]
    canonical: Callable[[T], T]
    what: Callable[[T], str]

    @staticmethod
    def run_of(row: Any) -> str:
        return str(row.id if isinstance(row, Run) else row.run_id)


_RUNS: _Kind[Run] = _Kind(lambda r: (r.id,), _canonical_run, lambda r: "the run")
_RESULTS: _Kind[Result] = _Kind(
    result_key, _canonical_result, lambda r: f"result {r.test} repeat {r.repeat}"
)
_ACKS: _Kind[Ack] = _Kind(ack_key, _canonical_ack, lambda a: f"the ack of {a.test} {a.metric}")


def _dedupe(kind: _Kind[T], items: Iterable[T], source: str) -> list[T]:
    """Canonical items, first occurrence kept; an equal duplicate is dropped, a different
    one is a conflict inside the source itself."""
    seen: dict[tuple[Any, ...], T] = {}
    for item in items:
        key, canon = kind.key(item), kind.canonical(item)
        if key in seen:
            if seen[key] != canon:
                raise StoreError(
                    f"run {kind.run_of(item)!r}: {source} holds {kind.what(item)} twice with "
                    f"different data ({_first_difference(seen[key], canon)}); nothing merged"
                )
            continue
        seen[key] = canon
    return list(seen.values())


def _new_rows(
    kind: _Kind[T], items: Iterable[T], existing: Iterable[T], source: str, target: str
) -> tuple[list[T], int]:
    """The rows of ``items`` not in ``existing`` and how many were there already."""
    rows = _dedupe(kind, items, source)
    old = {kind.key(r): kind.canonical(r) for r in existing}
    new: list[T] = []
    for row in rows:
        prior = old.get(kind.key(row))
        if prior is None:
            new.append(row)
        elif prior != row:
            detail = _first_difference(row, prior)
            raise _conflict(kind.run_of(row), kind.what(row), detail, source, target)
    return new, len(rows) - len(new)


def plan_merge(
    batch: Batch, existing: Batch, *, source: str = "the source", target: str = "the target"
) -> tuple[Batch, MergeCounts]:
    """What of ``batch`` is new relative to ``existing`` (the target's rows of the same runs).

    Pure: no I/O. Returns the rows to insert (canonical: UTC, ids cleared) and the counts.
    StoreError naming the run on any conflict; ConfigError when a result or ack belongs to
    no run of the batch or of the target.
    """
    known_runs = {r.id for r in (*batch.runs, *existing.runs)}
    rows: list[Result | Ack] = [*batch.results, *batch.acks]
    for row in rows:
        if row.run_id not in known_runs:
            raise ConfigError(
                f"{source}: {type(row).__name__.lower()} of {row.test} belongs to run "
                f"{row.run_id!r}, which is not in it"
            )
    runs, runs_present = _new_rows(_RUNS, batch.runs, existing.runs, source, target)
    results, results_present = _new_rows(_RESULTS, batch.results, existing.results, source, target)
    acks, acks_present = _new_rows(_ACKS, batch.acks, existing.acks, source, target)
    todo = Batch(tuple(runs), tuple(results), tuple(acks))
    counts = MergeCounts(
        runs=len(runs),
        results=len(results),
        measurements=todo.measurements,
        acks=len(acks),
        runs_present=runs_present,
        results_present=results_present,
        acks_present=acks_present,
    )
    return todo, counts
