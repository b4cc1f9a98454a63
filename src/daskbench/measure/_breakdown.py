"""Where the time of one measured block went: activities, task prefixes, bytes.

The scheduler plugin sums distributed's fine-grained worker metrics of a block
(:func:`~daskbench.measure._scheduler_plugin.breakdown`); this module turns those sums into
ordinary measurements, so that export, compare, detect and the dashboard treat them like any
other metric:

* ``activity.<name>`` (seconds, summed over the cluster's threads like ``compute_time``):
  ``compute``, ``p2p``, ``disk_read``, ``disk_write``, ``serialize`` and ``other`` are what
  task threads did; ``idle`` is the rest of the threads' time during the block
  (``wall_time x threads`` minus the tasks' thread time: waiting for inputs, for the
  scheduler, for the client). ``transfer`` (and the background part of the others) happens
  on the workers' event loops and background threads, overlapping with task threads. The
  scheduler's CPU time is the ``scheduler_cpu`` metric.
* ``prefix.<task prefix>`` (seconds): the task thread time of each prefix, largest first,
  until they account for >= 95% of the total; the rest is ``prefix.other``. A prefix below
  the cut is not recorded (its time is in ``prefix.other``).
* ``bytes.transfer``, ``bytes.disk_write``, ``bytes.disk_read``: bytes sent between workers
  (or gathered by the client), spilled to disk and read back.

    >>> totals = {"thread": {"compute": 3.0, "other": 0.5}, "background": {"transfer": 1.0},
    ...           "prefixes": {"inc": 3.3, "sum": 0.2}, "bytes": {"transfer": 2048.0},
    ...           "nthreads": 2}
    >>> values = breakdown_values(totals, wall_time=2.0)
    >>> values["activity.compute"], values["activity.transfer"], values["activity.idle"]
    (3.0, 1.0, 0.5)
    >>> values["prefix.inc"], values["prefix.sum"], values["prefix.other"]
    (3.3, 0.2, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daskbench.metrics import (
    ACTIVITIES,
    ACTIVITY_PREFIX,
    BYTES_PREFIX,
    OTHER_PREFIX,
    PREFIX_COVERAGE,
    TASK_PREFIX,
)

__all__ = ["breakdown_values", "top_prefixes"]


def top_prefixes(seconds: Mapping[str, float], coverage: float = PREFIX_COVERAGE) -> list[str]:
    """The largest prefixes that together account for >= ``coverage`` of the total.

    Ties are broken by name, so the same times always give the same prefixes.

    >>> top_prefixes({"a": 90.0, "b": 6.0, "c": 4.0})
    ['a', 'b']
    >>> top_prefixes({"a": 0.0})
    []
    """
    total = sum(v for v in seconds.values() if v > 0)
    if total <= 0:
        return []
    chosen: list[str] = []
    covered = 0.0
    for name, value in sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= coverage * total or value <= 0:
            break
        chosen.append(name)
        covered += value
    return chosen


def breakdown_values(totals: Mapping[str, Any], wall_time: float) -> dict[str, float]:
    """Metric name -> value of one block, from the plugin's ``breakdown`` and its wall time."""
    thread: Mapping[str, float] = totals.get("thread", {})
    background: Mapping[str, float] = totals.get("background", {})
    prefixes: Mapping[str, float] = totals.get("prefixes", {})
    nbytes: Mapping[str, float] = totals.get("bytes", {})
    nthreads = int(totals.get("nthreads", 0))
    values: dict[str, float] = {}
    task_time = sum(thread.values())
    for name in ACTIVITIES:
        if name == "idle":
            # Clamped: with a clock step or a worker joining, thread time may exceed it.
            value = max(0.0, wall_time * nthreads - task_time)
        else:
            value = thread.get(name, 0.0) + background.get(name, 0.0)
        values[f"{ACTIVITY_PREFIX}{name}"] = value
    chosen = top_prefixes(prefixes)
    for name in chosen:
        # A task prefix literally named "other" joins the remainder (same name).
        if name != OTHER_PREFIX:
            values[f"{TASK_PREFIX}{name}"] = prefixes[name]
    kept = set(chosen) - {OTHER_PREFIX}
    values[f"{TASK_PREFIX}{OTHER_PREFIX}"] = sum(
        (v for k, v in prefixes.items() if k not in kept), 0.0
    )
    for name in ("transfer", "disk_write", "disk_read"):
        values[f"{BYTES_PREFIX}{name}"] = float(nbytes.get(name, 0.0))
    return values
