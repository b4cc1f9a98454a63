"""Metric registry: name -> unit, direction and formatter.

Built-in metrics are registered here; custom ones recorded with ``benchmark.record`` are
registered on first use with the unit the benchmark gave::

    >>> get_metric("peak_memory").format(3 * 2**30)
    '3.00 GiB'
    >>> get_metric("wall_time").lower_is_better
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from daskbench.errors import ConfigError

__all__ = [
    "CORE_METRICS",
    "Metric",
    "format_value",
    "get_metric",
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
    return _REGISTRY.get(name) or Metric(name, "")


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
