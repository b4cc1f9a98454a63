"""Where the time of a wall-time change point went: the breakdown before vs after it.

A wall-time step in a history is set next to the same step of its breakdown: for every
component in seconds (``activity.*``, ``scheduler_cpu``, ``prefix.*``), the median over the
runs of the regime before the change and over the runs of the regime after it (up to the
next change of the wall time). The components whose median moved most in absolute terms
(:func:`daskbench.stats.explaining`) are kept. These are descriptive medians: detection
judged the wall time; the breakdown says where to look.

    >>> from daskbench.history import TestHistory
    >>> th = TestHistory("main", "test_x", run_ids=["r1", "r2", "r3", "r4"],
    ...     values={"activity.compute": [1.0, 1.1, 3.0, 3.1], "activity.idle": [0.5] * 4,
    ...             "prefix.slow_step": [None, None, 2.0, 2.1]})
    >>> [(s.metric, s.before, s.after) for s in regime_breakdown(th, ["r1", "r2"], ["r3", "r4"])]
    [('prefix.slow_step', None, 2.05), ('activity.compute', 1.05, 3.05)]
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daskbench.metrics import attribution_metrics
from daskbench.stats import explaining

from ._series import TestHistory

__all__ = ["ComponentShift", "regime_breakdown"]

MAX_COMPONENTS = 5
SHARE = 0.8


@dataclass(frozen=True)
class ComponentShift:
    """Median seconds of one breakdown component before and after a change point.

    ``None``: the component has no value in that regime (a task prefix below the 95% cut,
    or not run); it then counts as 0 in ``delta``.
    """

    metric: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "delta_seconds": self.delta,
        }


def _median(
    th: TestHistory, metric: str, run_ids: Sequence[str], index: dict[str, int]
) -> float | None:
    column = th.values.get(metric, [])
    values = [v for r in run_ids if r in index and (v := column[index[r]]) is not None]
    return statistics.median(values) if values else None


def regime_breakdown(
    th: TestHistory,
    before: Sequence[str],
    after: Sequence[str],
    *,
    share: float = SHARE,
    limit: int = MAX_COMPONENTS,
) -> tuple[ComponentShift, ...]:
    """The components of ``th`` that moved most between the runs ``before`` and ``after``,
    largest absolute change first (empty without a breakdown)."""
    index = {run_id: i for i, run_id in enumerate(th.run_ids)}
    shifts = {
        metric: ComponentShift(
            metric, _median(th, metric, before, index), _median(th, metric, after, index)
        )
        for metric in attribution_metrics(th.metrics)
    }
    chosen = explaining({m: s.delta for m, s in shifts.items()}, share=share, limit=limit)
    return tuple(shifts[m] for m in chosen)
