"""Futures API workloads: round-trip latency, many small tasks, large graph submission."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from distributed import Client

from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.futures


def _inc(x: int) -> int:
    return x + 1


def test_future_roundtrip_latency(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Latency of one submit -> result round trip, repeated sequentially.

    Interactive use and dynamic task graphs wait on single futures; this isolates the fixed
    per-task cost of client, scheduler and worker (records ``roundtrip_latency``, median).
    """
    n = max(sizing.n_tasks(0.1), 20)
    latencies = []

    with benchmark():
        for i in range(n):
            start = time.perf_counter()
            result = client.submit(_inc, i, pure=False).result()
            latencies.append(time.perf_counter() - start)
            assert result == i + 1

    benchmark.record("roundtrip_latency", statistics.median(latencies), "s")
    assert len(latencies) == n


def test_client_map_many_tasks(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """``client.map`` over many tiny independent tasks (100k at large), then gather.

    Measures scheduler throughput for embarrassingly parallel task farms, where per-task
    overhead, not computation, dominates.
    """
    n = sizing.n_tasks(1.0)

    with benchmark():
        futures = client.map(_inc, range(n), pure=False)
        results = client.gather(futures)

    assert len(results) == n
    assert sum(results) == n * (n + 1) // 2


def test_large_graph_submission(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Build, submit and run a graph of many tiny array chunks reduced to one number.

    Graph construction, optimisation, serialisation and scheduler bookkeeping scale with
    the number of tasks, not with data; this catches overhead regressions in all of them.
    """
    import dask.array as da

    n_chunks, width = sizing.n_tasks(1.0), 10

    with benchmark():
        x = da.ones(n_chunks * width, chunks=width)
        total = float(((x + 1) * 2).sum().compute())

    assert total == 4.0 * n_chunks * width
