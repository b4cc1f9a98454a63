"""Metric registry: name -> unit, direction and formatter.

Built-in metrics are registered here; custom ones recorded with ``benchmark.record`` are
registered on first use with the unit the benchmark gave::

    >>> get_metric("peak_memory").format(3 * 2**30)
    '3.00 GiB'
    >>> get_metric("wall_time").lower_is_better
    True

The *breakdown* of every execution (where the time went, see
:mod:`daskbench.measure._breakdown`) is made of ordinary metrics too: ``activity.<name>``
and ``bytes.<name>`` are registered here, and every ``prefix.<task prefix>`` is known as a
family (seconds of that prefix's tasks)::

    >>> get_metric("prefix.shuffle-transfer").unit
    's'
    >>> breakdown_part("activity.compute"), breakdown_part("prefix.sum-agg")
    (('activity', 'compute'), ('prefix', 'sum-agg'))
    >>> breakdown_part("scheduler_cpu"), breakdown_part("wall_time")
    (('activity', 'scheduler'), None)

Breakdown metrics never get a verdict of their own (they would dilute the false discovery
rate of the pinned metrics and flood the reports); they *attribute* the verdicts of
``wall_time``: :func:`is_breakdown` tells them apart, :func:`check_verdict_metrics` refuses
them where verdicts are asked for, :func:`attribution_metrics` lists the components in
seconds that can explain a change of wall time::

    >>> is_breakdown("prefix.sum-agg"), is_breakdown("scheduler_cpu")
    (True, False)
    >>> attribution_metrics(["wall_time", "prefix.inc", "activity.idle", "scheduler_cpu",
    ...                      "bytes.transfer", "activity.compute"])
    ['activity.compute', 'activity.idle', 'scheduler_cpu', 'prefix.inc']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from daskbench.errors import ConfigError

__all__ = [
    "ACTIVITIES",
    "ACTIVITY_METRICS",
    "ACTIVITY_PREFIX",
    "BREAKDOWN_METRICS",
    "BYTES_PREFIX",
    "CORE_METRICS",
    "OTHER_PREFIX",
    "PREFIX_COVERAGE",
    "TASK_PREFIX",
    "Metric",
    "attribution_metrics",
    "breakdown_part",
    "check_verdict_metrics",
    "format_value",
    "get_metric",
    "is_breakdown",
    "metric_names",
    "register_metric",
]


def _format_seconds(value: float) -> str:
    a = abs(value)
    if a >= 100:
        return f"{value:.0f} s"
    if a >= 1:
        return f"{value:.2f} s"
    if a >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def _format_bytes(value: float) -> str:
    a = abs(value)
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if a >= factor:
            return f"{value / factor:.2f} {unit}"
    return f"{value:.0f} B"


def format_value(value: float | None, unit: str) -> str:
    """Human-readable ``value`` in ``unit``; ``-`` for a missing value."""
    if value is None:
        return "-"
    if unit == "s":
        return _format_seconds(value)
    if unit == "B":
        return _format_bytes(value)
    if unit in ("", "count"):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"
    return f"{value:.4g} {unit}"


_NON_NEGATIVE_UNITS = ("s", "B", "count")


@dataclass(frozen=True, slots=True)
class Metric:
    """What a metric means: its unit, which direction is better, a description.

    ``positive``: every real value is > 0 (a measured block always takes time and memory),
    so values are compared as ratios; 0 or less is a broken measurement.
    """

    name: str
    unit: str
    lower_is_better: bool = True
    description: str = ""
    positive: bool = False

    def format(self, value: float | None) -> str:
        return format_value(value, self.unit)

    def invalid(self, value: float) -> str | None:
        """Why ``value`` cannot be a measurement of this metric, or None if it can.

        >>> get_metric("wall_time").invalid(0.0)
        'wall_time must be > 0 (it is compared as a ratio), got 0'
        >>> get_metric("spill_time").invalid(0.0) is None
        True
        """
        if self.positive and value <= 0:
            return f"{self.name} must be > 0 (it is compared as a ratio), got {value:g}"
        if self.unit in _NON_NEGATIVE_UNITS and value < 0:
            return f"{self.name} is in {self.unit!r} and cannot be negative, got {value:g}"
        return None


_REGISTRY: dict[str, Metric] = {}


def register_metric(
    name: str,
    unit: str = "",
    *,
    lower_is_better: bool = True,
    description: str = "",
    positive: bool = False,
) -> Metric:
    """Register (or return the identical existing) metric; conflicting units are an error."""
    existing = _REGISTRY.get(name)
    metric = Metric(
        name,
        unit,
        lower_is_better,
        description or (existing.description if existing else ""),
        positive or (existing.positive if existing else False),
    )
    if existing is not None:
        if existing.unit != unit or existing.lower_is_better != lower_is_better:
            raise ConfigError(
                f"metric {name!r} is registered with unit {existing.unit!r} "
                f"(lower_is_better={existing.lower_is_better}), got unit {unit!r} "
                f"(lower_is_better={lower_is_better})"
            )
        return existing
    _REGISTRY[name] = metric
    return metric


def get_metric(name: str) -> Metric:
    """The registered metric, or an unregistered one (no unit, lower is better)."""
    metric = _REGISTRY.get(name)
    if metric is not None:
        return metric
    if name.startswith(TASK_PREFIX) and len(name) > len(TASK_PREFIX):
        prefix = name[len(TASK_PREFIX) :]
        what = "tasks below the 95% cut" if prefix == OTHER_PREFIX else f"{prefix!r} tasks"
        return Metric(name, "s", description=f"task thread time of {what}")
    return Metric(name, "")


def metric_names() -> list[str]:
    return list(_REGISTRY)


CORE_METRICS: tuple[Metric, ...] = (
    register_metric(
        "wall_time", "s", description="wall-clock time of the measured block", positive=True
    ),
    register_metric(
        "avg_memory", "B", description="mean cluster-wide worker process memory", positive=True
    ),
    register_metric(
        "peak_memory", "B", description="peak cluster-wide worker process memory", positive=True
    ),
    register_metric("compute_time", "s", description="task execution time summed over tasks"),
    register_metric("transfer_time", "s", description="time spent fetching task inputs"),
    register_metric("spill_time", "s", description="disk read + disk write time of spilling"),
    register_metric("serialize_time", "s", description="(de)serialization time summed"),
    register_metric("n_tasks", "count", description="tasks completed in the measured block"),
    register_metric("scheduler_cpu", "s", description="scheduler process CPU seconds"),
    register_metric(
        "scheduler_peak_memory", "B", description="peak scheduler process memory", positive=True
    ),
)


# -- the breakdown of an execution (measure/_breakdown.py computes it) -------------------------
ACTIVITY_PREFIX = "activity."
TASK_PREFIX = "prefix."
BYTES_PREFIX = "bytes."
#: The remainder of the task prefixes below the cut: ``prefix.other``.
OTHER_PREFIX = "other"
#: Task prefixes are recorded, largest first, until they cover this share of task time.
PREFIX_COVERAGE = 0.95

_ACTIVITY_TEXT = {
    "compute": "task code on worker threads (CPU and non-CPU time of the task functions)",
    "transfer": "fetching task inputs from other workers and sending P2P shuffle shards",
    "disk_read": "reading spilled data back from disk",
    "disk_write": "spilling data to disk",
    "serialize": "(de)serialization and (de)compression: transfers, spilling, tasks",
    "p2p": "P2P shuffle work in tasks (partitioning, assembling) and its disk buffer",
    "other": "worker overhead around tasks (executor, cancelled tasks, other)",
    "idle": "worker threads not running a task during the block (wall_time x threads "
    "minus task thread time)",
}
#: The activities stored as ``activity.<name>``, in the order reports show them.
ACTIVITIES: tuple[str, ...] = tuple(_ACTIVITY_TEXT)
#: Every activity of the breakdown -> its metric (the scheduler's is ``scheduler_cpu``).
ACTIVITY_METRICS: dict[str, str] = {
    **{name: f"{ACTIVITY_PREFIX}{name}" for name in ACTIVITIES},
    "scheduler": "scheduler_cpu",
}
_BYTES_TEXT = {
    "transfer": "bytes sent by workers: to other workers, P2P shards, results to the client",
    "disk_write": "bytes spilled to disk",
    "disk_read": "bytes read back from the spill directory",
}
BREAKDOWN_METRICS: tuple[Metric, ...] = (
    *(
        register_metric(f"{ACTIVITY_PREFIX}{name}", "s", description=text)
        for name, text in _ACTIVITY_TEXT.items()
    ),
    *(
        register_metric(f"{BYTES_PREFIX}{name}", "B", description=text)
        for name, text in _BYTES_TEXT.items()
    ),
)
_METRIC_ACTIVITY = {metric: name for name, metric in ACTIVITY_METRICS.items()}


def breakdown_part(name: str) -> tuple[str, str] | None:
    """``("activity", name)``, ``("prefix", task prefix)`` or ``("bytes", name)`` for a
    breakdown metric, else None."""
    if name in _METRIC_ACTIVITY:
        return "activity", _METRIC_ACTIVITY[name]
    for kind, prefix in (("prefix", TASK_PREFIX), ("bytes", BYTES_PREFIX)):
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind, name[len(prefix) :]
    return None


def is_breakdown(name: str) -> bool:
    """Whether ``name`` is a breakdown metric (``activity.*``, ``prefix.*``, ``bytes.*``)."""
    return any(
        name.startswith(prefix) and len(name) > len(prefix)
        for prefix in (ACTIVITY_PREFIX, TASK_PREFIX, BYTES_PREFIX)
    )


def check_verdict_metrics(names: Iterable[str], flag: str = "--metric") -> tuple[str, ...]:
    """``names`` if none is a breakdown metric, else a ConfigError naming the first.

    >>> check_verdict_metrics(["wall_time", "activity.compute"])
    Traceback (most recent call last):
    ...
    daskbench.errors.ConfigError: --metric activity.compute: breakdown metrics ...
    """
    names = tuple(names)
    for name in names:
        if is_breakdown(name):
            raise ConfigError(
                f"{flag} {name}: breakdown metrics (activity.*, prefix.*, bytes.*) get no "
                "verdict of their own; reports show them as the attribution of wall_time changes"
            )
    return names


def attribution_metrics(names: Iterable[str]) -> list[str]:
    """The components in seconds among ``names`` that can explain a change of wall time:
    the activities (in report order, the scheduler's CPU time last), then the task prefixes
    by name."""
    present = set(names)
    activities = [m for m in ACTIVITY_METRICS.values() if m in present]
    prefixes = sorted(m for m in present if m.startswith(TASK_PREFIX) and is_breakdown(m))
    return activities + prefixes
