"""Regressions in a history: change points, which of them are new, and who caused them.

For every (label, test, metric) history, :func:`daskbench.stats.detect_change_points` finds
the shifts of the typical value. Each shift becomes a :class:`Change`:

* its *direction* follows the metric (``get_metric(name).lower_is_better``): up is a
  regression for times and memory, down for a throughput;
* it is *new* when its first bad run is one of the last ``recent`` runs of the label. A step
  can only be confirmed once ``min_size`` runs show it (the statistics refuse shorter
  regimes, so that one spike is never a step); ``recent`` must therefore exceed ``min_size``,
  and ``recent - min_size`` is how many runs a new regression keeps failing CI before it
  counts as known;
* it is *reverted* when the latest regime is back within ``min_change`` of the level before
  it (a regression fixed before anyone looked);
* it is *acknowledged* when an :class:`~daskbench.store.Ack` names the test, the metric and a
  run within ``min_size`` runs of the change (the detected position can move by a run or two
  as more data arrives, so the ack must not depend on the exact index).

The last few runs of a history, too few to be a regime of their own, are checked separately:
if all of them are worse than the current regime they are reported as :class:`Pending` (watch,
never a failure). A single bad last run is thus shown, but fails nothing until ``min_size``
runs confirm it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from daskbench.errors import ConfigError
from daskbench.metrics import get_metric
from daskbench.stats import detect_change_points
from daskbench.store import Ack

from ._series import History, Series

__all__ = [
    "Change",
    "ChangeKind",
    "ChangeStatus",
    "Detection",
    "Pending",
    "TestStatus",
    "detect",
    "detect_series",
]

DEFAULT_RECENT = 10
DEFAULT_MIN_SIZE = 5
DEFAULT_MIN_CHANGE = 0.05
DEFAULT_ALPHA = 0.05


class ChangeKind(StrEnum):
    """Which way a change went, given the metric's direction."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"


class ChangeStatus(StrEnum):
    """What a change point means for CI, in report order (only the first fails it)."""

    NEW_REGRESSION = "new regression"  # new, unacknowledged, still in effect
    ACKNOWLEDGED = "acknowledged"
    REVERTED = "reverted"  # a regression whose latest regime is back to the level before
    OLD_REGRESSION = "older regression"  # before the last ``recent`` runs
    NEW_IMPROVEMENT = "new improvement"
    OLD_IMPROVEMENT = "older improvement"


class TestStatus(StrEnum):
    """One test's state in one label (the dashboard's badges)."""

    __test__ = False  # not a pytest test class, whatever its name

    FAILING = "failing"  # its latest run failed (known to the caller, not to detection)
    REGRESSED = "regressed"
    IMPROVED = "improved"
    STABLE = "stable"


@dataclass(frozen=True)
class Change:
    """One change point of one history, with its verdict and culprit range."""

    label: str
    test: str
    metric: str
    index: int  # first value of the new regime in the series
    last_good_run: str  # the run just before the change (for an improvement: "before")
    first_bad_run: str  # the first run of the new regime
    before: float
    after: float
    pvalue: float
    regression: bool  # worse, given the metric's direction
    new: bool
    reverted: bool
    ack: Ack | None = None
    runs_between: int = 0  # runs of the label between the two without a passed value
    diff: dict[str, tuple[Any, Any]] = field(
        default_factory=dict
    )  # fingerprint: key -> (good, bad)

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else float("inf")

    @property
    def percent(self) -> float:
        """Relative change in percent (+15.0 is 15% higher)."""
        return (self.ratio - 1.0) * 100.0

    @property
    def percent_text(self) -> str:
        """``+15.2%``; ``from 0`` for a change from exactly zero (it has no ratio)."""
        return f"{self.percent:+.1f}%" if math.isfinite(self.percent) else "from 0"

    @property
    def failing(self) -> bool:
        """A new, unacknowledged regression still in effect: what fails CI."""
        return self.regression and self.new and not self.reverted and self.ack is None

    @property
    def kind(self) -> ChangeKind:
        return ChangeKind.REGRESSION if self.regression else ChangeKind.IMPROVEMENT

    @property
    def status(self) -> ChangeStatus:
        if self.ack is not None:
            return ChangeStatus.ACKNOWLEDGED
        if self.regression:
            if self.reverted:
                return ChangeStatus.REVERTED
            return ChangeStatus.NEW_REGRESSION if self.new else ChangeStatus.OLD_REGRESSION
        return ChangeStatus.NEW_IMPROVEMENT if self.new else ChangeStatus.OLD_IMPROVEMENT


@dataclass(frozen=True)
class Pending:
    """The last runs are worse than the regime before them, but too few to be a step yet."""

    label: str
    test: str
    metric: str
    run_ids: tuple[str, ...]
    regime: float  # median of the current regime
    latest: float  # median of the pending runs

    @property
    def percent(self) -> float:
        return (self.latest / self.regime - 1.0) * 100.0 if self.regime else float("inf")


@dataclass(frozen=True)
class Detection:
    """Everything ``daskbench detect`` reports."""

    changes: tuple[Change, ...]
    pending: tuple[Pending, ...]
    histories: int
    labels: tuple[str, ...]
    recent: int
    min_size: int
    min_change: float
    alpha: float

    @property
    def failing(self) -> list[Change]:
        return [c for c in self.changes if c.failing]

    @property
    def acknowledged(self) -> list[Change]:
        return [c for c in self.changes if c.ack is not None]

    def status(self, label: str, test: str) -> TestStatus:
        """regressed / improved / stable for one test (failing runs are the caller's)."""
        mine = [c for c in self.changes if c.label == label and c.test == test and c.new]
        if any(c.failing for c in mine):
            return TestStatus.REGRESSED
        if any(not c.regression and not c.reverted for c in mine):
            return TestStatus.IMPROVED
        return TestStatus.STABLE


def _worse(metric: str, before: float, after: float) -> bool:
    lower = get_metric(metric).lower_is_better
    return after > before if lower else after < before


def _relative(before: float, after: float) -> float:
    if before == 0.0:
        return 0.0 if after == 0.0 else float("inf")
    return abs(after / before - 1.0)


def detect_series(
    series: Series,
    history: History,
    acks: Sequence[Ack] = (),
    *,
    recent: int = DEFAULT_RECENT,
    min_size: int = DEFAULT_MIN_SIZE,
    min_change: float = DEFAULT_MIN_CHANGE,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[list[Change], Pending | None]:
    """Changes and the pending tail of one series (see the module docstring)."""
    values = series.values
    if len(values) < 2:
        return [], None
    found = [
        cp
        for cp in detect_change_points(values, alpha=alpha, min_size=min_size)
        if _relative(cp.before, cp.after) >= min_change
    ]
    label_runs = history.runs_by_label[series.label]
    pos = history.position
    n_runs = len(label_runs)
    latest = found[-1].after if found else statistics.median(values)
    changes: list[Change] = []
    for cp in found:
        good, bad = series.run_ids[cp.index - 1], series.run_ids[cp.index]
        regression = _worse(series.metric, cp.before, cp.after)
        reverted = regression and (
            not _worse(series.metric, cp.before, latest)
            or _relative(cp.before, latest) < min_change
        )
        ack = _matching_ack(acks, series, history, pos[good], pos[bad], min_size)
        changes.append(
            Change(
                label=series.label,
                test=series.test,
                metric=series.metric,
                index=cp.index,
                last_good_run=good,
                first_bad_run=bad,
                before=cp.before,
                after=cp.after,
                pvalue=cp.pvalue,
                regression=regression,
                new=pos[bad] >= n_runs - recent,
                reverted=reverted,
                ack=ack,
                runs_between=pos[bad] - pos[good] - 1,
                diff=history.runs[good].environment.diff(history.runs[bad].environment),
            )
        )
    start = found[-1].index if found else 0
    return changes, _pending(series, start, min_size, min_change)


def _matching_ack(
    acks: Sequence[Ack], series: Series, history: History, good: int, bad: int, slack: int
) -> Ack | None:
    for ack in acks:
        if ack.test != series.test or ack.metric != series.metric:
            continue
        run = history.runs.get(ack.run_id)
        if run is None or run.label != series.label:
            continue
        if good - slack < history.position[ack.run_id] <= bad + slack:
            return ack
    return None


def _pending(series: Series, start: int, min_size: int, min_change: float) -> Pending | None:
    """The longest tail of fewer than ``min_size`` values, all clearly worse than the regime."""
    values = series.values
    best: Pending | None = None
    for tail in range(1, min_size):
        regime = values[start : len(values) - tail]
        if len(regime) < min_size:
            break
        level = statistics.median(regime)
        spread = 1.4826 * statistics.median(abs(v - level) for v in regime)
        margin = max(3.0 * spread, abs(level) * min_change)
        recent = values[len(values) - tail :]
        lower = get_metric(series.metric).lower_is_better
        if not all((v > level + margin) if lower else (v < level - margin) for v in recent):
            break
        best = Pending(
            series.label,
            series.test,
            series.metric,
            series.run_ids[len(values) - tail :],
            regime=level,
            latest=statistics.median(recent),
        )
    return best


def detect(
    history: History,
    acks: Iterable[Ack] = (),
    *,
    metrics: Iterable[str] | None = None,
    recent: int = DEFAULT_RECENT,
    min_size: int = DEFAULT_MIN_SIZE,
    min_change: float = DEFAULT_MIN_CHANGE,
    alpha: float = DEFAULT_ALPHA,
) -> Detection:
    """Run change-point detection over every history in ``history``.

    >>> from daskbench.store import open_store
    >>> from daskbench.history import load_history
    >>> with open_store("memory://") as store:
    ...     detect(load_history(store)).failing
    []
    """
    if recent <= min_size:
        raise ConfigError(
            f"--recent must be larger than min_size={min_size} (a step needs {min_size} runs "
            f"to be confirmed), got {recent}"
        )
    if min_change < 0:
        raise ConfigError(f"--min-change must be >= 0, got {min_change}")
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be in (0, 1), got {alpha}")
    wanted = frozenset(metrics) if metrics else None
    ack_list = list(acks)
    changes: list[Change] = []
    pending: list[Pending] = []
    all_series = history.all_series(wanted)
    for series in all_series:
        found, tail = detect_series(
            series,
            history,
            ack_list,
            recent=recent,
            min_size=min_size,
            min_change=min_change,
            alpha=alpha,
        )
        changes.extend(found)
        if tail is not None:
            pending.append(tail)
    return Detection(
        changes=tuple(changes),
        pending=tuple(pending),
        histories=len(all_series),
        labels=tuple(sorted(history.runs_by_label)),
        recent=recent,
        min_size=min_size,
        min_change=min_change,
        alpha=alpha,
    )
