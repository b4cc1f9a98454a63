"""Measurement of a block against a real LocalCluster: scoping, task activity, spilling."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import dask.array as da
import pytest
from distributed import Client, LocalCluster

from daskbench.errors import BenchmarkError
from daskbench.measure import Benchmark
from daskbench.metrics import ACTIVITIES


@pytest.fixture
def client(dask_cluster: LocalCluster) -> Iterator[Client]:
    with Client(dask_cluster) as c:
        yield c


def test_only_the_block_is_measured(client: Client) -> None:
    x = da.ones((2000, 2000), chunks=500).persist()  # 16 tasks, before the block
    client.gather(client.map(lambda i: i, range(50)))  # 50 more, before the block
    bench = Benchmark(client)
    with bench():
        total = client.gather(client.map(lambda i: i * 2, range(25)))
    assert sum(total) == 600
    metrics = {m.metric: m for m in bench.measurements}
    assert metrics["n_tasks"].value == 25
    assert metrics["wall_time"].value > 0
    assert metrics["compute_time"].value > 0
    assert metrics["peak_memory"].value >= metrics["avg_memory"].value > 0
    assert metrics["peak_memory"].unit == "B"
    assert metrics["scheduler_peak_memory"].value > 0
    assert metrics["scheduler_cpu"].value >= 0
    assert x.sum().compute() == 4_000_000


def test_block_used_twice_or_metric_recorded_twice_is_an_error(client: Client) -> None:
    bench = Benchmark(client)
    with bench():
        client.submit(lambda: 1).result()
    with pytest.raises(BenchmarkError, match="only once"), bench():
        pass
    bench.record("rows_per_s_measure_test", 10.0, "1/s", lower_is_better=False)
    with pytest.raises(BenchmarkError, match="recorded twice"):
        bench.record("rows_per_s_measure_test", 11.0, "1/s", lower_is_better=False)


def test_failed_block_records_nothing_and_closes_its_window(client: Client) -> None:
    bench = Benchmark(client)
    with pytest.raises(ZeroDivisionError), bench():
        client.submit(lambda: 1 / 0).result()
    assert not bench.measured
    assert bench.measurements == ()
    windows = client.run_on_scheduler(
        lambda dask_scheduler: len(dask_scheduler.plugins["daskbench-task-activity"].windows)
    )
    assert windows == 0


def test_every_heap_is_frozen_during_a_block_and_only_then(client: Client) -> None:
    # Objects from before the block are not the collector's work inside it: in the client
    # (for a LocalCluster also the scheduler's process) and on every worker, also when the
    # block raises; outside blocks nothing stays frozen.
    def frozen() -> tuple[int, list[int]]:
        return gc.get_freeze_count(), list(client.run(gc.get_freeze_count).values())

    assert frozen() == (0, [0, 0])
    bench = Benchmark(client)
    with bench():
        here, workers = frozen()
        client.submit(lambda: 1).result()
    assert here > 0
    assert len(workers) == 2
    assert min(workers) > 0
    assert frozen() == (0, [0, 0])
    seen: list[int] = []

    def fail() -> None:
        seen.append(min(frozen()[1]))
        client.submit(lambda: 1 / 0).result()

    with pytest.raises(ZeroDivisionError), Benchmark(client)():
        fail()
    assert seen[0] > 0
    assert frozen() == (0, [0, 0])
    with Benchmark(client, isolate=False)():
        assert frozen() == (0, [0, 0])


def test_spilling_is_measured() -> None:
    # 1 worker with a small memory limit; ~2.5x its spill target is persisted, so most
    # chunks go to disk and the measured reduction has to read them back.
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, memory_limit="500MiB", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        x = da.random.random((6000, 6000), chunks=(500, 6000)).persist()  # 288 MB in 12 chunks
        client.wait_for_workers(1)
        bench = Benchmark(client)
        with bench():
            total = x.sum().compute()
        assert 0.49 < total / x.size < 0.51
        m = {x.metric: x.value for x in bench.measurements}
        assert m["spill_time"] > 0
        # Spilled by the memory monitor during the block, or read back by the tasks (which
        # one depends on timing): either way the breakdown has the disk's time and bytes.
        assert m["activity.disk_read"] + m["activity.disk_write"] > 0
        assert m["bytes.disk_read"] + m["bytes.disk_write"] >= 50 * 2**20
        assert m["spill_time"] == pytest.approx(m["activity.disk_read"] + m["activity.disk_write"])


def sleepy_inc(x: int) -> int:
    time.sleep(0.25)
    return x + 1


def quick_double(x: int) -> int:
    return 2 * x


def test_a_sleep_in_one_prefix_is_that_prefixs_time_and_compute(client: Client) -> None:
    bench = Benchmark(client)
    with bench():
        doubled = client.map(quick_double, range(20))
        total = sum(client.gather(client.map(sleepy_inc, doubled)))
    assert total == 400
    m = {x.metric: x.value for x in bench.measurements}
    slept = 20 * 0.25
    # The sleep is task time of its prefix, and compute (non-CPU time of the task function).
    assert slept <= m["prefix.sleepy_inc"] < slept + 1.5
    assert m["prefix.sleepy_inc"] > 0.9 * (m["prefix.sleepy_inc"] + m.get("prefix.quick_double", 0))
    assert slept <= m["activity.compute"] < slept + 1.5
    assert m["activity.compute"] == pytest.approx(m["compute_time"], rel=0.05, abs=0.05)
    # Task thread activities and idle time add up to the threads' time during the block.
    threads = 2
    thread_time = sum(m[f"activity.{a}"] for a in ACTIVITIES if a != "transfer")
    assert thread_time == pytest.approx(m["wall_time"] * threads, rel=0.02)
    assert m["bytes.transfer"] > 0  # results gathered by the client
    assert m["bytes.disk_write"] == m["bytes.disk_read"] == 0


def test_performance_report_of_the_chosen_block_only(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "test_x.html"
    bench = Benchmark(client, performance_report=report, performance_report_block=1)
    with bench():  # block 0: a warm-up
        client.submit(quick_double, 1).result()
    assert not report.exists()
    bench.new_execution()
    with bench():  # block 1: the first measured execution
        client.submit(quick_double, 2).result()
    assert bench.measured
    assert report.stat().st_size > 10_000
    assert "<html" in report.read_text()[:2000].lower()
    report.unlink()
    bench.new_execution()
    with bench():
        client.submit(quick_double, 3).result()
    assert not report.exists()
