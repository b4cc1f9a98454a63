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

__all__ = ["PLUGIN_NAME", "TaskActivityPlugin", "start_window", "stop_window"]

PLUGIN_NAME = "daskbench-task-activity"
_STARTSTOP_ACTIONS = ("compute", "transfer", "disk-read", "disk-write", "deserialize")
# Activities of distributed's fine-grained metrics charged to spilling / serialization.
_SPILL_ACTIVITIES = frozenset({"disk-read", "disk-write"})
_SERIALIZE_ACTIVITIES = frozenset({"serialize", "deserialize", "pickle", "unpickle"})
_MAX_WINDOWS = 64  # bound the state a forgotten window can leave behind


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
        spill = serialize = 0.0
        now = self.scheduler.cumulative_worker_metrics
        for name, value in now.items():
            delta = value - window.metrics_start.get(name, 0)
            if not delta or not isinstance(name, tuple) or name[-1] != "seconds":
                continue
            # Keys look like (context, [span id,] [prefix,] activity, unit); p2p's own
            # disk buffer is shuffling, not spilling.
            activity = name[-2]
            if activity in _SPILL_ACTIVITIES and name[0] != "p2p":
                spill += delta
            elif activity in _SERIALIZE_ACTIVITIES:
                serialize += delta
        return {
            "n_tasks": window.n_tasks,
            "n_erred": window.erred,
            "durations": dict(window.durations),
            "fine_spill_seconds": spill,
            "fine_serialize_seconds": serialize,
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
