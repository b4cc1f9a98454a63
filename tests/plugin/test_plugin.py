"""The pytest plugin end to end, through pytester, against a real cluster and SQLite file.

Inner runs are subprocesses with their own LocalCluster, exactly as a user runs them: an
in-process run would share the interpreter (and its imported modules) with this one.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from daskbench.models import Outcome
from daskbench.store import open_store

pytest_plugins = ["pytester"]

BENCH = textwrap.dedent(
    '''
    import time

    import dask.array as da
    import pytest


    def test_sum(client, benchmark):
        """Sum of a random array."""
        x = da.random.random((1000, 1000), chunks=250).persist()
        with benchmark():
            total = x.sum().compute()
        benchmark.record("elements_per_s", x.size / benchmark.wall_time, unit="1/s",
                         lower_is_better=False)
        assert 0.4 < total / x.size < 0.6


    @pytest.mark.parametrize("n", [3, 30])
    def test_map(client, benchmark, n):
        """client.map round trip."""
        with benchmark():
            total = sum(client.gather(client.map(lambda i: i + 1, range(n))))
        assert total == n * (n + 1) // 2


    def test_wrong(client, benchmark):
        """Fast because it is wrong."""
        with benchmark():
            value = client.submit(lambda: 41).result()
        assert value == 42, "wrong answer"


    def test_skipped(client, benchmark):
        pytest.skip("not on this cluster")


    def test_never_measured(client, benchmark):
        """Asks for the fixture but never enters the block."""


    @pytest.fixture
    def broken_data():
        raise RuntimeError("data generation failed")


    def test_setup_error(client, benchmark, broken_data):
        with benchmark():
            pass


    def test_slow(client, benchmark):
        with benchmark():
            time.sleep(30)


    def test_not_a_benchmark():
        assert True
    '''
)


@pytest.fixture
def bench_run(pytester: pytest.Pytester, tmp_path: Path):
    pytester.makepyfile(test_bench=BENCH)
    db = tmp_path / "history.db"

    def run(*args: str) -> tuple[pytest.RunResult, str]:
        url = f"sqlite:///{db}"
        result = pytester.runpytest_subprocess(
            "-p",
            "no:benchmark",
            "-p",
            "no:cacheprovider",
            f"--daskbench-db={url}",
            "--daskbench-workers=2",
            "--daskbench-threads-per-worker=1",
            "--daskbench-memory-limit=1GiB",
            "--daskbench-label=plugin-test",
            *args,
        )
        return result, url

    return run


def test_outcomes_and_measurements_are_recorded(bench_run) -> None:
    # A generous timeout: a loaded machine must not turn these benchmarks into timeouts.
    # Warm-ups and worker restarts are not the subject (test_run_path covers them).
    result, url = bench_run(
        "-k",
        "not slow",
        "--daskbench-timeout=120",
        "--daskbench-warmup=0",
        "--daskbench-reset=none",
    )
    result.assert_outcomes(passed=4, failed=2, skipped=1, errors=1, deselected=1)
    with open_store(url) as store:
        (run,) = store.runs(label="plugin-test")
        results = {r.test: r for r in store.results(run_id=run.id)}
    assert run.finished_at is not None
    assert run.environment.cluster["workers"] == 2
    assert run.environment.packages["distributed"]
    # Plain tests without the benchmark fixture are not benchmarks.
    assert set(results) == {
        "test_sum",
        "test_map[3]",
        "test_map[30]",
        "test_wrong",
        "test_skipped",
        "test_never_measured",
        "test_setup_error",
    }
    outcomes = {name: r.outcome for name, r in results.items()}
    assert outcomes == {
        "test_sum": Outcome.PASSED,
        "test_map[3]": Outcome.PASSED,
        "test_map[30]": Outcome.PASSED,
        "test_wrong": Outcome.FAILED,
        "test_skipped": Outcome.SKIPPED,
        "test_never_measured": Outcome.FAILED,
        "test_setup_error": Outcome.ERROR,
    }
    summed = results["test_sum"].metrics
    assert summed["wall_time"] > 0
    assert summed["peak_memory"] >= summed["avg_memory"] > 0
    assert summed["compute_time"] > 0
    assert summed["n_tasks"] >= 16  # 16 chunks summed, plus the aggregation
    assert summed["elements_per_s"] > 0
    assert results["test_map[30]"].metrics["n_tasks"] == 30
    assert results["test_map[3]"].metrics["n_tasks"] == 3
    # Failed executions keep their error but no measurements (they must not feed statistics).
    wrong = results["test_wrong"]
    assert wrong.measurements == ()
    assert wrong.error is not None
    assert wrong.error.splitlines()[0].startswith("AssertionError: wrong answer")
    assert "data generation failed" in (results["test_setup_error"].error or "")
    assert "never completed" in (results["test_never_measured"].error or "")
    assert results["test_skipped"].error == "Skipped: not on this cluster"
    # Every measured execution records the shape of the cluster it ran on.
    assert {(r.workers, r.threads) for r in results.values() if r.outcome is Outcome.PASSED} == {
        (2, 2)
    }


def test_timeout_is_recorded(bench_run) -> None:
    # The block sleeps 30 s: 2 s tells a timeout from an early return, even on a loaded machine.
    result, url = bench_run("-k", "slow", "--daskbench-timeout=2", "--daskbench-warmup=0")
    result.assert_outcomes(failed=1, deselected=8)
    with open_store(url) as store:
        (slow,) = store.results(label="plugin-test")
    assert slow.outcome is Outcome.TIMEOUT
    assert "--timeout 2 s" in (slow.error or "")


def test_repeats_run_round_robin(bench_run, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result, url = bench_run(
        "-k",
        "test_sum or test_map",
        "--daskbench-repeat=3",
        "--daskbench-warmup=0",
        f"--daskbench-performance-report={reports}",
        "--daskbench-reset=none",  # the order is decided at collection, not by restarts
    )
    result.assert_outcomes(passed=9)
    with open_store(url) as store:
        results = store.results(label="plugin-test")
        (run,) = store.runs(label="plugin-test")
    order = [(r.repeat, r.test) for r in results]
    assert order == [
        (rnd, name) for rnd in range(3) for name in ("test_sum", "test_map[3]", "test_map[30]")
    ]
    assert {r.path for r in results} >= {"test_bench.py::test_map[3]"}
    # Every result carries the breakdown of its block.
    summed = results[0].metrics
    assert summed["activity.compute"] > 0
    assert summed["activity.idle"] >= 0
    assert sum(v for k, v in summed.items() if k.startswith("prefix.")) > 0
    # Dask's performance report: one per benchmark, of the first round, in the run's directory.
    assert run.environment.extra["performance_report"] == str(reports)
    files = {p.name: p for p in (reports / run.id).iterdir()}
    assert sorted(files) == [
        "test_map-3-008d5d7e.html",
        "test_map-30-e049bca1.html",
        "test_sum.html",
    ]
    second_round = min(r.started_at for r in results if r.repeat == 1)
    assert all(p.stat().st_mtime < second_round.timestamp() for p in files.values())


def test_bad_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:benchmark", "--daskbench-repeat=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--repeat must be an integer >= 1, got 0*"])


def test_plain_tests_touch_no_database(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:benchmark")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "daskbench.db").exists()
