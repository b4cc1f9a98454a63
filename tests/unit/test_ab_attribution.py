"""Breakdown metrics in A/B: never in the verdict family; the attribution of wall-time verdicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from daskbench._options import CompareOptions
from daskbench.ab._compare import ABComparison, Row, compare_labels
from daskbench.errors import ConfigError
from daskbench.metrics import get_metric, is_breakdown
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report._ab import (
    ReportContext,
    render_html,
    render_json,
    render_markdown,
    terminal_tables,
)
from daskbench.stats import SequentialDesign
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


def wall_row(cmp: ABComparison, test: str = "test_a") -> Row:
    return next(r for r in cmp.rows if r.test == test and r.metric == "wall_time")


@pytest.mark.parametrize("paired", [True, False])
def test_a_regression_is_attributed_to_the_prefix_and_compute(paired: bool) -> None:
    store = MemoryStore()
    populate(store, paired=paired)
    cmp = compare_labels(store, "base", ["cand"])
    assert cmp.paired is paired
    row = wall_row(cmp)
    assert row.verdict == "regressed"
    parts = {p.metric: p for p in row.attribution}
    # compute and slow_step moved by 2 s x drift; idle, serialize, the scheduler much less.
    assert list(parts)[:2] in (
        ["activity.compute", "prefix.slow_step"],
        ["prefix.slow_step", "activity.compute"],
    )
    assert len(parts) <= 5
    for name in ("activity.compute", "prefix.slow_step"):
        part = parts[name]
        assert part.verdict == "regressed"
        assert part.comparison is not None
        assert part.comparison.paired is paired
        assert part.comparison.qvalue is not None
        assert part.comparison.qvalue < 0.05
        assert part.comparison.ci_low > 1.0
        assert part.delta == pytest.approx(2.0, rel=0.35)
    assert "activity.disk_read" not in parts  # 0 in both arms: nothing to explain
    # Unchanged benchmarks and other metrics get no attribution.
    assert wall_row(cmp, "test_b").attribution == ()
    assert all(r.attribution == () for r in cmp.rows if r.metric != "wall_time")


def test_an_improvement_is_attributed_too_and_reports_show_it() -> None:
    store = MemoryStore()
    populate(store)
    swapped = compare_labels(store, "cand", ["base"])  # the other way round: faster
    row = wall_row(swapped)
    assert row.verdict == "improved"
    top = row.attribution[0]
    assert top.metric in ("activity.compute", "prefix.slow_step")
    assert top.delta < 0
    assert top.verdict == "improved"

    populate(regressed := MemoryStore())
    cmp = compare_labels(regressed, "base", ["cand"])
    ctx = ReportContext()
    data = json.loads(render_json(cmp, ctx))
    rows = {(r["test"], r["metric"]): r for r in data["rows"]}
    parts = rows[("test_a", "wall_time")]["attribution"]
    assert {p["metric"] for p in parts} >= {"activity.compute", "prefix.slow_step"}
    keys = {"metric", "ratio", "ci_low", "ci_high", "delta_seconds", "qvalue", "verdict"}
    assert all(set(p) == keys for p in parts)
    assert rows[("test_b", "wall_time")]["attribution"] == []
    md = render_markdown(cmp, ctx)
    assert "**Where the time went**" in md
    line = next(x for x in md.splitlines() if "`prefix.slow_step`" in x)
    assert line.startswith("| `test_a` | `prefix.slow_step` | +")
    assert "regressed" in line
    html = render_html(cmp, ctx)
    assert "<h3>Where the time went</h3>" in html
    assert "<code>prefix.slow_step</code>" in html
    console = Console(width=200, record=True)
    for table in terminal_tables(cmp, ctx):
        console.print(table)
    text = console.export_text()
    assert "Where the time went: cand vs base" in text
    assert any("prefix.slow_step" in x and "+" in x for x in text.splitlines())


def test_components_without_a_ratio_are_kept_with_their_difference() -> None:
    store = MemoryStore()
    for r in range(6):
        base = breakdown(DRIFT[r], 0.0)
        cand = breakdown(DRIFT[r], 2.0)
        del base["prefix.slow_step"]  # below the 95% cut in A
        cand["activity.disk_read"] = 3.0  # spilling only in B
        add_run(store, "base", r, {"test_a": base})
        add_run(store, "cand", r, {"test_a": cand})
    row = wall_row(compare_labels(store, "base", ["cand"]))
    parts = {p.metric: p for p in row.attribution}
    assert parts["prefix.slow_step"].comparison is None
    assert "not recorded in A" in parts["prefix.slow_step"].note
    assert parts["prefix.slow_step"].verdict == "not compared"
    assert parts["activity.disk_read"].delta == pytest.approx(3.0)
    assert parts["activity.disk_read"].note == "values of 0: no ratio"
    assert parts["activity.compute"].verdict == "regressed"
    assert parts["activity.disk_read"].to_dict()["ratio"] is None


def test_a_sequential_verdict_is_attributed_on_the_rounds_it_used() -> None:
    store = MemoryStore()
    populate(store)
    design = SequentialDesign(first=4, max_rounds=8, futility=0.0)
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time",), sequential=design)
    row = wall_row(cmp)
    assert row.verdict == "regressed"
    assert row.rounds_used is not None
    parts = {p.metric: p for p in row.attribution}
    compute = parts["activity.compute"].comparison
    assert compute is not None
    assert compute.n_a == compute.n_b == row.rounds_used
    assert compute.verdict == "regressed"
