"""Spilling: hold more data than the cluster's memory, then read all of it back.

At ``small`` and ``large`` the persisted array is 1.5x the cluster's total memory limit, so
workers must spill (their spill threshold is a fraction of the limit) and unspill it for
the reduction. At ``ci`` the data is tiny, so each worker's spill threshold is lowered for
the duration of the test (the plugin restarts workers afterwards); the same disk write and
read paths run, just with less data.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from distributed import Client, wait

from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.spill


def _lower_spill_threshold(dask_worker: Any, nbytes: int) -> bool:
    """Make the worker's SpillBuffer move data to disk above ``nbytes`` (ci only)."""
    from distributed.spill import SpillBuffer

    data = dask_worker.data
    if not isinstance(data, SpillBuffer):
        return False
    data.n = nbytes
    return True


def _spilled_bytes(dask_worker: Any) -> int:
    spilled = getattr(dask_worker.data, "spilled_total", None)
    return int(spilled.disk) if spilled is not None else 0


def test_spill_persist_and_reduce(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Persist an array 1.5x the cluster memory (spilling to disk), then reduce it.

    Out-of-core work depends on spilling being fast and on memory limits being respected;
    regressions show as slower disk I/O, paused workers or workers killed for memory.
    """
    import dask.array as da

    nbytes = sizing.spill_nbytes()
    side = sizing.chunk_side()
    rows = max(nbytes // (8 * side * 4), side)
    if sizing.is_ci:
        per_worker = nbytes // sizing.shape.n_workers
        lowered = client.run(_lower_spill_threshold, nbytes=per_worker // 4)
        if not all(lowered.values()):
            pytest.skip("workers do not use distributed's SpillBuffer")
    x = da.random.default_rng(21).random((rows, side * 4), chunks=(side, side))

    with benchmark():
        x = client.persist(x)
        wait(x)
        total = float(x.sum().compute())

    spilled = sum(client.run(_spilled_bytes).values())
    assert spilled > 0, "nothing was spilled: the workload did not exceed the spill threshold"
    n = x.size
    assert abs(total / n - 0.5) < 6 * math.sqrt(1 / 12 / n)
