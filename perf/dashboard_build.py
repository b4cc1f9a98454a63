"""Dashboard build time and size for a year of nightly CI: 100 tests x 365 runs x 6 metrics,
plus the breakdown of every execution (20 more metrics per test: 8 activities, 3 byte
counters, 8 task prefixes and ``prefix.other``; ``--no-breakdown`` leaves it out).

Generates the history into a fresh SQLite database (runs with full environment fingerprints,
package upgrades every few weeks, about 1% failed results, a handful of real steps, one of
them carried by a task prefix and the transfer time, and one acknowledged change), then
times ``build_dashboard`` and measures the site. The issue's budget: built in <= 30 s, total
size <= 10 MB.

    python perf/dashboard_build.py [--tests 100] [--runs 365] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from daskbench.history import acknowledge, detect, load_history
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report.dashboard import build_dashboard
from daskbench.store import open_store

METRICS = (
    ("wall_time", "s", 1.0, 0.04),
    ("compute_time", "s", 3.0, 0.05),
    ("transfer_time", "s", 0.4, 0.08),
    ("peak_memory", "B", 2.0e9, 0.02),
    ("avg_memory", "B", 1.2e9, 0.03),
    ("n_tasks", "count", 1200.0, 0.0),
)
# The breakdown: (metric, unit, scale relative to wall_time, cv). Activities in thread-seconds
# (4 threads), bytes, and the task prefixes that cover 95% of task time, the rest in "other".
BREAKDOWN = (
    ("activity.compute", "s", 2.6, 0.05),
    ("activity.transfer", "s", 0.4, 0.08),
    ("activity.disk_read", "s", 0.05, 0.3),
    ("activity.disk_write", "s", 0.08, 0.3),
    ("activity.serialize", "s", 0.1, 0.1),
    ("activity.p2p", "s", 0.2, 0.1),
    ("activity.other", "s", 0.05, 0.1),
    ("activity.idle", "s", 0.9, 0.1),
    ("bytes.transfer", "B", 4.0e8, 0.05),
    ("bytes.disk_write", "B", 1.0e8, 0.3),
    ("bytes.disk_read", "B", 1.0e8, 0.3),
    *(
        (f"prefix.{name}", "s", share, 0.06)
        for name, share in (
            ("read_parquet", 0.6),
            ("shuffle-transfer", 0.5),
            ("shuffle-p2p", 0.4),
            ("assign", 0.3),
            ("getitem", 0.25),
            ("sum-chunk", 0.2),
            ("sum-agg", 0.1),
            ("groupby-chunk", 0.1),
            ("other", 0.05),
        )
    ),
)
CATEGORIES = ("dataframe", "array", "xarray", "io", "shuffle")
BUDGET_SECONDS, BUDGET_MB = 30.0, 10.0


def environment(i: int, rng: np.random.Generator) -> Environment:
    minor = 1 + i // 30  # a dask release about monthly
    return Environment(
        python_version="3.11.9",
        platform="Linux-6.1.0-x86_64-with-glibc2.36",
        cpu_model="AMD EPYC 7763 64-Core Processor",
        cpu_count=4,
        memory_total=16 * 2**30,
        packages={
            "dask": f"2025.{minor}.0",
            "distributed": f"2025.{minor}.0",
            "numpy": "2.1.3" if i < 200 else "2.2.0",
            "pandas": "2.2.3",
            "pyarrow": "18.1.0",
            "xarray": "2025.1.1",
            "zarr": "2.18.4",
            "scipy": "1.14.1",
            "cloudpickle": "3.1.0",
            "msgpack": "1.1.0",
        },
        dask_config={"distributed": {"worker": {"memory": {"target": 0.6}}}},
        cluster={"kind": "local", "workers": 2, "threads_per_worker": 2},
        git_commit=f"{int(rng.integers(0, 2**63)):016x}{i:08x}"[:40],
        git_dirty=False,
    )


def generate(
    url: str, n_tests: int, n_runs: int, seed: int, breakdown: bool = True
) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    tests = [f"test_{CATEGORIES[i % len(CATEGORIES)]}_{i:03d}" for i in range(n_tests)]
    base = {t: rng.uniform(0.3, 3.0) for t in tests}
    # A few real steps: (test, metric, run, factor).
    steps = [
        (tests[3], "wall_time", n_runs - 7, 1.15),
        (tests[3], "activity.transfer", n_runs - 7, 1.5),  # where test 3's time went
        (tests[3], "prefix.shuffle-transfer", n_runs - 7, 1.4),
        (tests[10], "peak_memory", n_runs - 6, 1.25),
        (tests[20], "wall_time", 120, 0.8),
        (tests[42], "compute_time", 250, 1.2),
    ]
    runs: list[Run] = []
    results: list[Result] = []
    for i in range(n_runs):
        at = t0 + timedelta(days=i)
        run = Run(
            f"nightly-{i:04d}",
            "nightly",
            at,
            at + timedelta(minutes=40),
            scale="ci",
            command="daskbench run",
            environment=environment(i, rng),
        )
        runs.append(run)
        for j, test in enumerate(tests):
            start = at + timedelta(seconds=20 * j)
            if rng.random() < 0.01:
                results.append(
                    Result(
                        run.id,
                        test,
                        0,
                        Outcome.FAILED,
                        start,
                        start + timedelta(seconds=3),
                        error="AssertionError: result mismatch",
                        path=f"test_{CATEGORIES[j % len(CATEGORIES)]}.py::{test}",
                    )
                )
                continue
            measured = []
            for metric, unit, scale, cv in METRICS + (BREAKDOWN if breakdown else ()):
                value = scale * base[test] * (1.0 + cv * rng.standard_normal())
                for s_test, s_metric, s_run, factor in steps:
                    if test == s_test and metric == s_metric and i >= s_run:
                        value *= factor
                if metric == "n_tasks":
                    value = float(round(value))
                measured.append(Measurement(metric, max(value, 0.0), unit))
            results.append(
                Result(
                    run.id,
                    test,
                    0,
                    Outcome.PASSED,
                    start,
                    start + timedelta(seconds=10),
                    tuple(measured),
                    path=f"test_{CATEGORIES[j % len(CATEGORIES)]}.py::{test}",
                )
            )
    with open_store(url) as store:
        for run in runs:
            store.add_run(run)
        store.add_results(results)
        acknowledge(store, tests[10], "peak_memory", runs[n_runs - 6].id, "bigger buffers, faster")
    return len(runs), len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the site here")
    parser.add_argument(
        "--breakdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store the 20 breakdown metrics per test too (default: on)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="daskbench-perf-") as tmp:
        url = f"sqlite:///{tmp}/history.db"
        t = time.perf_counter()
        n_runs, n_results = generate(url, args.tests, args.runs, args.seed, args.breakdown)
        extra = f" + {len(BREAKDOWN)} breakdown" if args.breakdown else ""
        print(
            f"history: {args.tests} tests x {n_runs} runs x {len(METRICS)}{extra} metrics "
            f"({n_results} results) written in {time.perf_counter() - t:.1f} s"
        )
        out = args.out or Path(tmp) / "site"
        with open_store(url) as store:
            t = time.perf_counter()
            detection = detect(load_history(store), store.acks())
            print(
                f"detect: {detection.histories} histories, {len(detection.changes)} change "
                f"points, {len(detection.failing)} new regressions in "
                f"{time.perf_counter() - t:.1f} s"
            )
            for change in detection.failing:
                where = (
                    "; ".join(f"{c.metric} {c.delta:+.3f} s" for c in change.breakdown)
                    or "no breakdown"
                )
                print(f"  {change.test} {change.metric} {change.percent_text}: {where}")
            built = build_dashboard(store, out)
        mb = built.bytes / 1e6
        print(f"dashboard build: {built.seconds:.1f} s (budget {BUDGET_SECONDS:.0f} s)")
        print(f"dashboard size: {mb:.2f} MB in {built.files} files (budget {BUDGET_MB:.0f} MB)")
        ok = built.seconds <= BUDGET_SECONDS and mb <= BUDGET_MB
        print("within budget" if ok else "OVER BUDGET")
        if args.out is not None:
            print(f"site kept in {out}")
        raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
