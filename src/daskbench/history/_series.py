"""A store's results as per-test histories: one value per run, per label, test and metric.

A *lineage* is one label (one environment: ``main`` nightly, ``gpu``, ...); runs of different
labels are never mixed in one history. Within a run, a test's repeats are summarised by their
median. Only passed results feed the statistics; a run in which the test failed (or errored,
or timed out) is kept as a failure point for the dashboard::

    >>> from daskbench.store import open_store
    >>> with open_store("memory://") as store:
    ...     load_history(store).tests
    {}
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from daskbench.models import Outcome, Run
from daskbench.store import Store

__all__ = ["History", "Series", "TestHistory", "load_history"]

_FAILED = {Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT}


@dataclass(frozen=True)
class Series:
    """The numbers change-point detection sees: one value per run that passed."""

    label: str
    test: str
    metric: str
    run_ids: tuple[str, ...]
    values: tuple[float, ...]


@dataclass
class TestHistory:
    """Everything known about one test in one lineage, runs oldest first."""

    label: str
    test: str
    path: str = ""
    run_ids: list[str] = field(default_factory=list)  # runs in which the test appears
    failed: list[bool] = field(default_factory=list)  # per run: a repeat failed
    errors: list[str | None] = field(default_factory=list)  # first line of the first error
    # metric -> per run (aligned with run_ids): median of passed repeats, None if none
    values: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return sorted(self.values)

    def series(self, metric: str) -> Series:
        pairs = [
            (run_id, v)
            for run_id, v in zip(self.run_ids, self.values.get(metric, ()), strict=False)
            if v is not None
        ]
        return Series(
            self.label,
            self.test,
            metric,
            tuple(p[0] for p in pairs),
            tuple(p[1] for p in pairs),
        )


@dataclass
class History:
    """All lineages of a store: runs per label, and per (label, test) its history."""

    runs: dict[str, Run]
    runs_by_label: dict[str, list[str]]  # label -> run ids, oldest first
    tests: dict[tuple[str, str], TestHistory]
    position: dict[str, int]  # run id -> index among the runs of its label

    def all_series(self, metrics: frozenset[str] | None = None) -> list[Series]:
        """Every (label, test, metric) series, optionally of some metrics only."""
        return [
            th.series(metric)
            for _, th in sorted(self.tests.items())
            for metric in th.metrics
            if metrics is None or metric in metrics
        ]


@dataclass
class _Slot:
    """One test in one run while loading."""

    failed: bool = False
    error: str | None = None
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def load_history(
    store: Store, *, label: str | None = None, include_experiments: bool = False
) -> History:
    """Read every run and result (of one label, or all) into per-test histories.

    Runs of A/B experiments (tagged ``environment.extra["experiment"]`` by ``daskbench ab``)
    are left out unless ``include_experiments``: their labels are arms measured in
    interleaved rounds on one day, not lineages over time.
    """
    runs = [
        r
        for r in store.runs(label=label)
        if include_experiments or "experiment" not in r.environment.extra
    ]
    by_id = {r.id: r for r in runs}
    runs_by_label: dict[str, list[str]] = defaultdict(list)
    for run in runs:  # oldest first
        runs_by_label[run.label].append(run.id)

    grouped: dict[tuple[str, str], dict[str, _Slot]] = defaultdict(dict)
    paths: dict[tuple[str, str], str] = {}
    for result in store.results(label=label):  # ordered by run, then result
        owner = by_id.get(result.run_id)
        if owner is None:
            continue
        key = (owner.label, result.test)
        if result.path:
            paths.setdefault(key, result.path)
        slot = grouped[key].setdefault(result.run_id, _Slot())
        if result.outcome in _FAILED:
            slot.failed = True
            if slot.error is None and result.error and result.error.strip():
                slot.error = result.error.strip().splitlines()[0]
        elif result.outcome is Outcome.PASSED:
            for m in result.measurements:
                slot.values[m.metric].append(m.value)

    tests: dict[tuple[str, str], TestHistory] = {}
    for key, per_run in grouped.items():
        th = TestHistory(label=key[0], test=key[1], path=paths.get(key, ""))
        metrics = sorted({metric for slot in per_run.values() for metric in slot.values})
        th.values = {metric: [] for metric in metrics}
        for run_id in runs_by_label[key[0]]:
            found = per_run.get(run_id)
            if found is None:
                continue
            th.run_ids.append(run_id)
            th.failed.append(found.failed)
            th.errors.append(found.error)
            for metric in metrics:
                got = found.values.get(metric)
                th.values[metric].append(statistics.median(got) if got else None)
        tests[key] = th
    position = {run_id: i for ids in runs_by_label.values() for i, run_id in enumerate(ids)}
    return History(by_id, dict(runs_by_label), tests, position)
