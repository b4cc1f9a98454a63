"""Three workloads measured both by daskbench and by a direct plain-dask loop.

Used by ``perf/ab_fidelity.py`` (is a daskbench measurement what a direct measurement of the
same code shows?) and ``perf/isolation.py`` (does a benchmark's measurement depend on what
ran before it?). Each workload is a pair: ``prepare(client)`` builds and persists its input
(not measured) and ``run(data)`` is the measured code. ``shuffle`` and ``groupby`` go through
``dataframe.shuffle.method``; ``array`` does not shuffle at all.

Sizes are chosen for a few seconds each on 2 workers x 1 thread (the issue's setting).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
from distributed import Client, wait

from daskbench.ab._runner import abba_order
from daskbench.suite._datagen import random_frame

#: The LocalCluster of every script that uses these workloads (the issue's setting).
CLUSTER: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1, "memory_limit": "4GiB"}
ROWS = 4_000_000
PARTITIONS = 32
ARRAY_SIDE = 8_000


def _persist(client: Client, collection: Any) -> Any:
    collection = client.persist(collection)
    wait(collection)
    return collection


def prepare_frame(client: Client) -> Any:
    return _persist(client, random_frame(ROWS, PARTITIONS, n_keys=ROWS // 10, seed=3))


def run_shuffle(df: Any) -> Any:
    """An all-to-all shuffle on a scrambled key."""
    return int(df.shuffle("id").map_partitions(len).sum().compute())


def run_groupby(df: Any) -> Any:
    """Mean per key over 400,000 groups: a shuffle-based groupby (split_out)."""
    return len(df.groupby("id").x.mean(split_out=8).compute())


def prepare_array(client: Client) -> Any:
    x = da.random.default_rng(5).random((ARRAY_SIDE, ARRAY_SIDE), chunks=(1000, 1000))
    return _persist(client, x)


def run_array(x: Any) -> Any:
    """Global, per-column and per-row reductions; no shuffle."""
    return dask.compute(x.sum(), x.mean(axis=0), x.std(axis=1))


METHODS = ("tasks", "p2p")


def seconds(run: Callable[[Any], Any], data: Any) -> float:
    """Wall time of ``run(data)``, as the direct loops measure it."""
    start = time.perf_counter()
    run(data)
    return time.perf_counter() - start


def direct_abba(
    measure: Callable[[], float], rounds: int, *, first: int = 0
) -> dict[str, list[float]]:
    """The direct loop of the perf scripts: ``measure()`` (seconds) under each
    ``dataframe.shuffle.method``, once per method unrecorded to warm up, then ``rounds``
    rounds numbered from ``first`` in ABBA order (as ``daskbench ab`` orders its
    environments)."""
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for method in METHODS:
        with dask.config.set({"dataframe.shuffle.method": method}):
            measure()
    for r in range(first, first + rounds):
        for method in abba_order(METHODS, r):
            with dask.config.set({"dataframe.shuffle.method": method}):
                times[method].append(measure())
    return times


def child_json(script: str, *args: str) -> Any:
    """Run ``python script args...`` (a perf script's child mode, with a cluster of its own
    that is gone when it returns) and parse the JSON of its last line of output; exits with
    the child's stderr if it fails."""
    proc = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(
            f"{Path(script).name} {shlex.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: name -> (prepare, run)
WORKLOADS: dict[str, tuple[Callable[[Client], Any], Callable[[Any], Any]]] = {
    "shuffle": (prepare_frame, run_shuffle),
    "groupby": (prepare_frame, run_groupby),
    "array": (prepare_array, run_array),
}

#: The same workloads as daskbench benchmarks (written next to a copy of this module).
BENCHMARKS = """
import pytest

from _workloads import WORKLOADS


@pytest.mark.parametrize("name", {names!r})
def test_workload(client, benchmark, name):
    prepare, run = WORKLOADS[name]
    data = prepare(client)
    with benchmark():
        run(data)
"""
