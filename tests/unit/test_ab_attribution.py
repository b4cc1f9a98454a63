"""Breakdown metrics in A/B: never in the verdict family; the attribution of wall-time verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daskbench._options import CompareOptions
from daskbench.ab._compare import compare_labels
from daskbench.errors import ConfigError
from daskbench.metrics import get_metric, is_breakdown
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import MemoryStore, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DRIFT = [1.0, 1.3, 0.9, 1.2, 1.1, 0.95, 1.25, 1.05]


def add_run(store: Store, label: str, rnd: int | None, tests: dict[str, dict[str, float]]) -> None:
    extra = {} if rnd is None else {"experiment": "exp", "round": rnd}
    start = T0 + timedelta(minutes=len(store.runs()))
    run = Run(f"{label}-{len(store.runs())}", label, start, environment=Environment(extra=extra))
    store.add_run(run)
    for test, values in tests.items():
        store.add_result(
            Result(
                run.id,
                test,
                0,
                Outcome.PASSED,
                start,
                start + timedelta(seconds=1),
                tuple(Measurement(k, v, get_metric(k).unit) for k, v in values.items()),
            )
        )


def breakdown(d: float, slow: float, *, idle: float = 0.5) -> dict[str, float]:
    """One execution: 1 s of other work, ``slow`` s of slow_step (all task compute)."""
    return {
        "wall_time": (1.0 + slow / 2) * d,
        "peak_memory": 1e9,
        "activity.compute": (1.0 + slow) * d,
        "activity.idle": idle * d,
        "activity.serialize": 0.01 * d,
        "activity.disk_read": 0.0,
        "scheduler_cpu": 0.05 * d,
        "prefix.slow_step": (0.1 + slow) * d,
        "prefix.sum": 0.9 * d,
        "prefix.other": 0.001 * d,
        "bytes.transfer": 1e6 * d,
    }


def populate(store: Store, rounds: int = 8, *, paired: bool = True, slow: float = 2.0) -> None:
    for r in range(rounds):
        d = DRIFT[r % len(DRIFT)] if paired else 1.0 + 0.01 * (r % 3)
        rnd = r if paired else None
        add_run(store, "base", rnd, {"test_a": breakdown(d, 0.0), "test_b": breakdown(d, 0.0)})
        cand = {"test_a": breakdown(d * 1.001, slow), "test_b": breakdown(d, 0.0)}
        add_run(store, "cand", rnd, cand)


def test_breakdown_metrics_never_join_the_verdict_family() -> None:
    store, bare = MemoryStore(), MemoryStore()
    populate(store)
    for r in range(8):  # the same pinned values, without any breakdown
        pinned = {"wall_time", "peak_memory"}
        for label, slow in (("base", 0.0), ("cand", 2.0)):
            d = DRIFT[r] * (1.001 if label == "cand" else 1.0)
            values = {
                "test_a": {k: v for k, v in breakdown(d, slow).items() if k in pinned},
                "test_b": {k: v for k, v in breakdown(DRIFT[r], 0.0).items() if k in pinned},
            }
            add_run(bare, label, r, values)
    cmp = compare_labels(store, "base", ["cand"])
    assert {r.metric for r in cmp.rows} == {"wall_time", "peak_memory"}
    assert not any(is_breakdown(m) for m in cmp.metrics)
    reference = compare_labels(bare, "base", ["cand"])
    # Same family size, so the same q-values: the breakdown did not dilute the correction.
    q = {(r.test, r.metric): r.comparison.qvalue for r in cmp.rows if r.comparison}
    q_bare = {(r.test, r.metric): r.comparison.qvalue for r in reference.rows if r.comparison}
    assert q == q_bare


@pytest.mark.parametrize("metric", ["activity.compute", "prefix.slow_step", "bytes.transfer"])
def test_asking_for_a_verdict_on_a_breakdown_metric_is_refused(metric: str) -> None:
    store = MemoryStore()
    populate(store, rounds=3)
    with pytest.raises(ConfigError, match=rf"--metric {metric}: breakdown metrics"):
        compare_labels(store, "base", ["cand"], metrics=("wall_time", metric))
    with pytest.raises(ConfigError, match="get no verdict of their own"):
        CompareOptions(metrics=(metric,))
    assert CompareOptions(metrics=("scheduler_cpu",)).metrics == ("scheduler_cpu",)
