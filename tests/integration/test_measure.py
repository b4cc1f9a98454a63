"""Measurement of a block against a real LocalCluster: scoping, task activity, spilling."""

from __future__ import annotations

from collections.abc import Iterator

import dask.array as da
import pytest
from distributed import Client, LocalCluster

from daskbench.errors import BenchmarkError
from daskbench.measure import Benchmark


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
        metrics = bench.measurements
        spill = next(m.value for m in metrics if m.metric == "spill_time")
        assert spill > 0
