"""Scheduler-side task activity accounting for measured blocks.

This module is deliberately self-contained (it imports only the standard library, psutil
and distributed) so that it can be pickled *by value* to a scheduler that does not have
daskbench installed, e.g. a Kubernetes or Coiled cluster.

A *window* is one measured block. Tasks are charged to a window when their task group
belongs to the window's span (or a sub-span of it), so data generation before the block
and stray tasks of other clients are not counted. Per window the plugin sums the durations
workers report with every finished task (``startstops``: compute, transfer, disk-read,
disk-write, deserialize), counts finished and erred tasks, counts workers that leave or
join while the window is open (a block that lost a worker was not measured on the cluster
it was meant for), and samples the scheduler's own CPU time and resident memory.

At close, the window also reports the *breakdown* of the block (see :func:`breakdown`):
seconds per activity and per task prefix, and bytes transferred and spilled, from
distributed's fine-grained worker metrics. Task-thread activities come from the window's
span (``Span.cumulative_worker_metrics``: only this block's tasks); the activities of the
workers' event loops and background threads (fetching inputs, serving data, spilling by the
memory monitor) have no span, and come from the growth of the scheduler's cluster-wide
``cumulative_worker_metrics`` while the window was open.

Opening a window also freezes the scheduler process's heap (``gc.freeze``) until the window
closes, so that collections inside the block do not depend on the heap earlier benchmarks
left behind (see :mod:`._isolation`).
"""

from __future__ import annotations

import gc
import time
from collections import deque
from typing import Any

import psutil
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado.ioloop import PeriodicCallback

__all__ = ["PLUGIN_NAME", "TaskActivityPlugin", "breakdown", "start_window", "stop_window"]

PLUGIN_NAME = "daskbench-task-activity"
_STARTSTOP_ACTIONS = ("compute", "transfer", "disk-read", "disk-write", "deserialize")
_MAX_WINDOWS = 64  # bound the state a forgotten window can leave behind

# -- the breakdown: distributed's fine-grained metric labels -> daskbench activities ----------
# Labels of (de)serialization wherever they happen (tasks, transfers, spilling, P2P comms).
_SERIALIZE_LABELS = frozenset(
    {"serialize", "deserialize", "compress", "decompress", "pickle", "unpickle", "offload"}
)
# Contexts of the workers' event loops and background threads that daskbench charges.
_BACKGROUND_CONTEXTS = frozenset({"gather-dep", "get-data", "memory-monitor", "p2p"})
# The span's synthetic remainder: daskbench computes idle time over the whole block instead.
_SPAN_REMAINDER = ("execute", "N/A", "idle or other spans", "seconds")


def _task_activity(label: str) -> str:
    """The activity of a task thread's ``("execute", prefix, label, "seconds")`` metric."""
    if label in ("thread-cpu", "thread-noncpu"):
        return "compute"
    if label.startswith("p2p-"):  # p2p-shard-partition-cpu, p2p-get-output-noncpu, ...
        return "p2p"
    if label == "disk-read":  # inputs read back from the spill directory
        return "disk_read"
    if label == "disk-write":  # outputs spilled on the spot
        return "disk_write"
    if label in _SERIALIZE_LABELS:
        return "serialize"
    return "other"  # executor, cancelled, failed, other: the worker's overhead


def _background_activity(key: tuple[Any, ...]) -> str | None:
    """The activity of a seconds metric outside task threads, or None when not charged.

    ``gather-dep``: a worker fetching inputs; ``get-data``: a worker serving them (its
    network time is the fetcher's too: not counted twice); ``memory-monitor``: spilling
    when memory passes the target; ``p2p``: the shuffle's background threads (``foreground``
    repeats the tasks' own p2p-* metrics; ``idle`` is waiting, not work).
    """
    context, label = key[0], key[-2]
    if label in _SERIALIZE_LABELS:
        return "serialize" if context in _BACKGROUND_CONTEXTS else None
    if context == "gather-dep":
        return "disk_write" if label == "disk-write" else "transfer"
    if context == "get-data":
        return "disk_read" if label == "disk-read" else None
    if context == "memory-monitor":
        return "disk_write" if label == "disk-write" else None
    if context == "p2p" and len(key) == 4:
        where = key[1]
        if where == "background-comms" and label == "send":
            return "transfer"
        if where == "background-disk" and label != "idle":
            return "p2p"
    return None


def _byte_counter(key: tuple[Any, ...]) -> str | None:
    """The byte counter a ``(..., label, "bytes")`` metric adds to, or None."""
    context, label = key[0], key[-2]
    if label == "disk-write" and context in ("execute", "gather-dep", "memory-monitor"):
        return "disk_write"
    if label == "disk-read" and context in ("execute", "get-data"):
        return "disk_read"
    if context == "get-data" and label == "memory-read":
        return "transfer"  # served to a peer (or gathered by the client) from memory
    if context == "p2p" and key[1] == "background-comms" and label == "process":
        return "transfer"  # P2P shards sent
    return None


def breakdown(
    span_metrics: dict[Any, float], cluster_delta: dict[Any, float], nthreads: int
) -> dict[str, Any]:
    """Seconds by activity and task prefix, and bytes, of one window.

    ``span_metrics``: the window span's ``cumulative_worker_metrics`` (this block's tasks);
    ``cluster_delta``: growth of the scheduler's ``cumulative_worker_metrics`` during the
    window (read only for contexts that have no span). Task-thread seconds ("thread") add up
    to the tasks' total thread time, which is also the sum over "prefixes"; "background"
    seconds overlap with them (other threads and the event loop).

    >>> out = breakdown({("execute", "inc", "thread-cpu", "seconds"): 2.0,
    ...                  ("execute", "inc", "disk-read", "bytes"): 10},
    ...                 {("gather-dep", "network", "seconds"): 0.5}, 4)
    >>> out["thread"], out["background"], out["prefixes"], out["bytes"]
    ({'compute': 2.0}, {'transfer': 0.5}, {'inc': 2.0}, {'disk_read': 10.0})
    """
    thread: dict[str, float] = {}
    background: dict[str, float] = {}
    prefixes: dict[str, float] = {}
    nbytes: dict[str, float] = {}

    def add(into: dict[str, float], name: str, value: float) -> None:
        into[name] = into.get(name, 0.0) + float(value)

    def bytes_of(key: tuple[Any, ...], value: float) -> None:
        counter = _byte_counter(key)
        if counter is not None:
            add(nbytes, counter, value)

    for key, value in span_metrics.items():
        if not value or not isinstance(key, tuple) or len(key) != 4 or key == _SPAN_REMAINDER:
            continue
        context, where, label, unit = key
        if unit == "bytes":
            bytes_of(key, value)
        elif unit == "seconds" and context == "execute":
            add(thread, _task_activity(label), value)
            add(prefixes, str(where), value)
        elif unit == "seconds" and context == "p2p":
            activity = _background_activity(key)
            if activity is not None:
                add(background, activity, value)
    for key, value in cluster_delta.items():
        # execute and p2p metrics are the span's (above); the rest has no span.
        if not value or not isinstance(key, tuple) or key[0] in ("execute", "p2p"):
            continue
        if key[-1] == "bytes":
            bytes_of(key, value)
        elif key[-1] == "seconds":
            activity = _background_activity(key)
            if activity is not None:
                add(background, activity, value)
    return {
        "thread": thread,
        "background": background,
        "prefixes": prefixes,
        "bytes": nbytes,
        "nthreads": int(nthreads),
    }


class _Window:
    __slots__ = (
        "cpu_start",
        "durations",
        "erred",
        "metrics_start",
        "n_tasks",
        "peak_rss",
        "sampler",
        "span_id",
        "workers_added",
        "workers_lost",
    )

    def __init__(self, span_id: str, metrics_start: dict[Any, float]) -> None:
        self.span_id = span_id
        self.durations = dict.fromkeys(_STARTSTOP_ACTIONS, 0.0)
        self.n_tasks = 0
        self.erred = 0
        proc = psutil.Process()
        times = proc.cpu_times()
        self.cpu_start = times.user + times.system
        self.peak_rss = proc.memory_info().rss
        self.metrics_start = metrics_start
        self.sampler: PeriodicCallback | None = None
        self.workers_lost = 0
        self.workers_added = 0


class TaskActivityPlugin(SchedulerPlugin):
    """Charges finished tasks to the open measurement windows whose span they belong to."""

    name = PLUGIN_NAME

    def __init__(self, rss_interval: float = 0.05) -> None:
        self.rss_interval = rss_interval
        self.scheduler: Any = None
        self.windows: dict[str, _Window] = {}
        # span id -> window key (or None), memoised: a span's ancestry never changes.
        self._span_owner: dict[str, str | None] = {}
        self._closed: deque[str] = deque(maxlen=_MAX_WINDOWS)

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def _owner(self, span_id: str | None) -> str | None:
        if span_id is None or not self.windows:
            return None
        try:
            return self._span_owner[span_id]
        except KeyError:
            pass
        owner = None
        ext = self.scheduler.extensions.get("spans")
        span = ext.spans.get(span_id) if ext is not None else None
        watched = {w.span_id: key for key, w in self.windows.items()}
        while span is not None:
            if span.id in watched:
                owner = watched[span.id]
                break
            span = span.parent
        self._span_owner[span_id] = owner
        return owner

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if not self.windows or start != "processing" or finish not in ("memory", "erred"):
            return
        ts = self.scheduler.tasks.get(key)
        if ts is None:
            return
        owner = self._owner(ts.group.span_id)
        if owner is None:
            return
        window = self.windows[owner]
        if finish == "erred":
            window.erred += 1
            return
        window.n_tasks += 1
        for ss in kwargs.get("startstops") or ():
            action = ss.get("action")
            if action in window.durations:
                window.durations[action] += ss["stop"] - ss["start"]

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        for window in self.windows.values():
            window.workers_lost += 1

    def add_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        for window in self.windows.values():
            window.workers_added += 1

    def restart(self, scheduler: Any, **kwargs: Any) -> None:
        self._span_owner.clear()

    def open_window(self, key: str, span_id: str, *, freeze: bool = True) -> None:
        if freeze:
            gc.freeze()
        if len(self.windows) >= _MAX_WINDOWS:
            oldest = next(iter(self.windows))
            self.close_window(oldest)
        window = _Window(span_id, dict(self.scheduler.cumulative_worker_metrics))
        proc = psutil.Process()

        def sample_rss() -> None:
            window.peak_rss = max(window.peak_rss, proc.memory_info().rss)

        window.sampler = PeriodicCallback(sample_rss, self.rss_interval * 1000)
        window.sampler.start()
        self.windows[key] = window
        # A new watched span may own spans memoised as unowned: forget the memo.
        self._span_owner.clear()

    def close_window(self, key: str) -> dict[str, Any]:
        if not self.windows.keys() - {key}:
            gc.unfreeze()
        window = self.windows.pop(key)
        self._span_owner.clear()
        if window.sampler is not None:
            window.sampler.stop()
        proc = psutil.Process()
        times = proc.cpu_times()
        window.peak_rss = max(window.peak_rss, proc.memory_info().rss)
        start = window.metrics_start
        delta = {
            name: value - start.get(name, 0)
            for name, value in self.scheduler.cumulative_worker_metrics.items()
            if isinstance(name, tuple)
        }
        ext = self.scheduler.extensions.get("spans")
        span = ext.spans.get(window.span_id) if ext is not None else None
        # No span on the scheduler: the block submitted no tasks.
        span_metrics = dict(span.cumulative_worker_metrics) if span is not None else {}
        return {
            "n_tasks": window.n_tasks,
            "n_erred": window.erred,
            "durations": dict(window.durations),
            "breakdown": breakdown(span_metrics, delta, self.scheduler.total_nthreads),
            "scheduler_cpu": times.user + times.system - window.cpu_start,
            "scheduler_peak_memory": window.peak_rss,
            "workers_lost": window.workers_lost,
            "workers_added": window.workers_added,
            "closed_at": time.time(),
        }


def start_window(dask_scheduler: Any, key: str, span_id: str, freeze: bool = True) -> None:
    """Run on the scheduler: open window ``key`` charging tasks of span ``span_id``."""
    dask_scheduler.plugins[PLUGIN_NAME].open_window(key, span_id, freeze=freeze)


def stop_window(dask_scheduler: Any, key: str) -> dict[str, Any]:
    """Run on the scheduler: close window ``key`` and return its totals."""
    return dask_scheduler.plugins[PLUGIN_NAME].close_window(key)  # type: ignore[no-any-return]
