"""The ``benchmark`` object: measures one block of a benchmark against the cluster.

    >>> def test_sum(client, benchmark):            # doctest: +SKIP
    ...     x = da.random.random((10_000, 10_000)).persist()   # not measured
    ...     with benchmark():
    ...         total = x.sum().compute()                      # measured
    ...     benchmark.record("elements_per_s", x.size / benchmark.wall_time, unit="1/s",
    ...                      lower_is_better=False)
    ...     assert 0.49 < total / x.size < 0.51

Only the block is measured: wall time, cluster-wide worker memory (distributed's
``MemorySampler``), and the activity of the tasks submitted inside the block (tagged with a
``distributed.spans.span`` and charged by :mod:`._scheduler_plugin`), including the
breakdown of the block's time by activity and task prefix (:mod:`._breakdown`).

With ``performance_report=path``, Dask's own performance report (HTML) of one block is
written to ``path``: the block numbered ``performance_report_block`` (counting from 0; the
pytest plugin passes the number of warm-ups, so that it is the first measured execution).
The report's collection is set up before the block's window opens and rendered after it
closes, so neither the block's wall time nor the scheduler's measured CPU pays for them;
the scheduler's task stream recording during the block is the only cost inside it.

The plugin calls the test function several times per round (warm-up executions, then one or
more measured ones); :meth:`Benchmark.new_execution` resets the object in between. Before
every block the cluster's health is checked (``check``) and the processes are settled
(:mod:`._isolation`); a worker lost during the block makes it an error, never a measurement.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import cloudpickle
from distributed import Client
from distributed.diagnostics.memory_sampler import MemorySampler
from distributed.spans import span

from daskbench.cluster import ClusterState
from daskbench.errors import BenchmarkError, DegradedClusterError
from daskbench.measure import _isolation, _scheduler_plugin
from daskbench.measure._breakdown import breakdown_values
from daskbench.metrics import get_metric, register_metric
from daskbench.models import Measurement

__all__ = ["Benchmark", "ensure_plugin"]

# A 1 s block gets ~10 samples. The scheduler's view of worker memory is refreshed by
# heartbeats (every 0.5 s on small clusters), so sampling faster buys nothing.
DEFAULT_MEMORY_INTERVAL = 0.1


def _plugin_installed(dask_scheduler: Any) -> bool:
    return _scheduler_plugin.PLUGIN_NAME in dask_scheduler.plugins


def ensure_plugin(client: Client) -> None:
    """Install the task-activity plugin on the scheduler once (it survives restarts)."""
    if client.run_on_scheduler(_plugin_installed):
        return
    # By value: the scheduler may not have daskbench installed (remote clusters).
    cloudpickle.register_pickle_by_value(sys.modules[_scheduler_plugin.__name__])
    cloudpickle.register_pickle_by_value(sys.modules[_isolation.__name__])
    client.register_plugin(_scheduler_plugin.TaskActivityPlugin())


async def _flush_heartbeat(dask_worker: Any) -> None:
    # Fine-grained metrics (spill, serialization) reach the scheduler with heartbeats;
    # send one now so the window's totals include the end of the block.
    await dask_worker.heartbeat()


class Benchmark:
    """Measures one block (``with benchmark():``) and collects custom metrics."""

    def __init__(
        self,
        client: Client,
        *,
        memory_interval: float = DEFAULT_MEMORY_INTERVAL,
        check: Callable[[], ClusterState] | None = None,
        isolate: bool = True,
        performance_report: str | os.PathLike[str] | None = None,
        performance_report_block: int = 0,
        warn: Callable[[str], None] | None = None,
    ):
        self._client = client
        self._isolate = isolate
        self._report_path = Path(performance_report) if performance_report is not None else None
        self._report_block = performance_report_block
        self._blocks = 0  # blocks entered since this object was made (all executions)
        self._warn: Callable[[str], None] = warn or (lambda text: print(text, file=sys.stderr))
        self._memory_interval = memory_interval
        self._check = check
        self._measurements: dict[str, Measurement] = {}
        self._entered = False
        self._completed = False
        #: The cluster's shape the last block started on (when a ``check`` is given).
        self.cluster_state: ClusterState | None = None

    def new_execution(self, client: Client | None = None) -> None:
        """Forget the previous execution (the plugin calls this before each one)."""
        if client is not None:
            self._client = client
        self._measurements = {}
        self._entered = False
        self._completed = False

    @property
    def measured(self) -> bool:
        """True once a ``with benchmark():`` block completed without raising."""
        return self._completed

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(self._measurements.values())

    @property
    def wall_time(self) -> float:
        """Wall time of the completed block, in seconds."""
        m = self._measurements.get("wall_time")
        if m is None:
            raise BenchmarkError("wall_time is known only after the `with benchmark():` block")
        return m.value

    def record(
        self, name: str, value: float, unit: str = "", *, lower_is_better: bool = True
    ) -> None:
        """Record a custom metric for this execution (e.g. rows per second)."""
        if name in self._measurements:
            raise BenchmarkError(f"metric {name!r} recorded twice in one benchmark")
        register_metric(name, unit, lower_is_better=lower_is_better)
        self._measurements[name] = Measurement(name, value, unit)

    def __call__(self) -> Any:
        return self._measure()

    @contextmanager
    def _measure(self) -> Iterator[None]:
        if self._entered:
            raise BenchmarkError("`with benchmark():` may be used only once per benchmark")
        self._entered = True
        self._blocks += 1
        client = self._client
        if self._check is not None:
            # DegradedClusterError: never measure on half a cluster.
            self.cluster_state = self._check()
        ensure_plugin(client)
        key = uuid.uuid4().hex
        sampler = MemorySampler()
        try:
            if self._isolate:
                _isolation.before_block(client)
            with span(f"daskbench-{key[:12]}") as span_id, self._report():
                client.run_on_scheduler(
                    _scheduler_plugin.start_window,
                    key=key,
                    span_id=span_id,
                    freeze=self._isolate,
                )
                closed = False
                try:
                    with sampler.sample(
                        key, client=client, measure="process", interval=self._memory_interval
                    ):
                        start = time.perf_counter()
                        with warnings.catch_warnings():
                            # dask-expr warns that annotations are ignored, but distributed
                            # still sends the span annotation with the graph: it is honoured.
                            warnings.filterwarnings(
                                "ignore",
                                message="Dask annotations .* detected",
                                category=UserWarning,
                            )
                            yield
                        elapsed = time.perf_counter() - start
                    client.run(_flush_heartbeat)
                    totals = client.run_on_scheduler(_scheduler_plugin.stop_window, key=key)
                    closed = True
                finally:
                    if not closed:
                        self._abandon(key)
        finally:
            if self._isolate:
                _isolation.after_block(client)
        lost = int(totals.get("workers_lost", 0))
        if lost:
            raise DegradedClusterError(
                f"degraded cluster: {lost} worker(s) left during the measured block"
            )
        self._store(elapsed, sampler.samples[key], totals)
        self._completed = True

    @contextmanager
    def _report(self) -> Iterator[None]:
        """Dask's performance report of this block when it is the one asked for.

        Entered before the window opens and rendered after it closed (the rendering's CPU is
        not charged to the scheduler). A report that cannot be made (e.g. no bokeh on the
        scheduler) is a warning, never the loss of the measurement; a block that raised
        writes none.
        """
        path = self._report_path
        if path is None or self._blocks - 1 != self._report_block:
            yield
            return
        from distributed import performance_report

        report = performance_report(filename=str(path))
        with self._client.as_current():
            try:
                report.__enter__()
            except Exception as exc:
                self._warn(f"daskbench: warning: performance report {path} not written: {exc}")
                yield
                return
            yield
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                report.__exit__(None, None, None)
            except Exception as exc:
                self._warn(f"daskbench: warning: performance report {path} not written: {exc}")

    def _abandon(self, key: str) -> None:
        # The block raised (or timed out): close the window, but never let a cluster
        # problem here hide the benchmark's own exception.
        with suppress(Exception):
            self._client.run_on_scheduler(_scheduler_plugin.stop_window, key=key)

    def _store(
        self, elapsed: float, samples: list[tuple[float, int]], totals: dict[str, Any]
    ) -> None:
        memory = [float(v) for _, v in samples]
        durations = totals["durations"]
        parts = breakdown_values(totals["breakdown"], elapsed)
        # Spilling comes only from the fine-grained metrics of distributed's SpillBuffer: the
        # "disk-write" startstop also fires whenever storing a result takes > 5 ms (GC,
        # sizeof), with no disk involved.
        spill = parts["activity.disk_read"] + parts["activity.disk_write"]
        # Without fine-grained metrics (disabled in the config), the startstops' share.
        serialize = parts["activity.serialize"] or durations["deserialize"]
        values = {
            "wall_time": elapsed,
            "avg_memory": sum(memory) / len(memory),
            "peak_memory": max(memory),
            "compute_time": durations["compute"],
            "transfer_time": durations["transfer"],
            "spill_time": spill,
            "serialize_time": serialize,
            "n_tasks": totals["n_tasks"],
            "scheduler_cpu": totals["scheduler_cpu"],
            "scheduler_peak_memory": totals["scheduler_peak_memory"],
            **parts,
        }
        for name, value in values.items():
            if name in self._measurements:
                raise BenchmarkError(f"custom metric {name!r} shadows a built-in metric")
            self._measurements[name] = Measurement(name, float(value), get_metric(name).unit)
