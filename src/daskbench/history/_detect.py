"""Regressions in a history: which steps are new, when the evidence declared them, who did it.

Every (label, test, metric) history is read in two ways:

* **Offline**, :func:`daskbench.stats.detect_change_points` finds the steps of the whole
  history, old ones too, and locates them. A step needs ``min_size`` runs on each side to be
  located this way, and shifts smaller than ``min_change`` are ignored.
* **Sequentially**, :func:`daskbench.stats.scan_tail` asks whether the newest runs have moved
  against the regime before them (the offline steps bound the regimes). Its boundary is
  calibrated so that a history without any change fails CI on a given night with probability
  ``false_alarm_rate``, although the same history is asked again every night: a large step is
  declared after a few runs, a small one after more, and one run never (it may be a spike).

Each step becomes a :class:`Change`:

* its *direction* follows the metric (``get_metric(name).lower_is_better``): up is a
  regression for times and memory, down for a throughput;
* it is *declared* when the sequential detector declares a regression starting within
  ``min_size`` runs of it tonight, or declared it within the last ``recent`` runs and its
  evidence is still at least ``HOLD`` (80%) of the threshold (so that CI does not go green
  for a night when evidence just past the threshold dips); ``detected_after`` is the number
  of runs of the new regime it took the first time (found by replaying the earlier nights). A
  declared step that the offline search cannot locate yet is placed at the sequential
  detector's likeliest start;
* it is *new* when it was first declared within the last ``recent`` runs of the label (a step
  never declared: when its first bad run is), so a regression fails CI for at most ``recent``
  runs, and then counts as known;
* it is *reverted* when the latest regime is back within ``min_change`` of the level before
  it (a regression fixed before anyone looked);
* it is *acknowledged* when an :class:`~daskbench.store.Ack` names the test, the metric and a
  run within ``min_size`` runs of the change (the detected position can move by a run or two
  as more data arrives, so the ack must not depend on the exact index).

Breakdown metrics (``activity.*``, ``prefix.*``, ``bytes.*``) are not histories of their own
here: a step in one of them is no verdict (twenty of them per test would multiply the false
alarms the rate above allows). Each ``wall_time`` change instead carries its ``breakdown``:
the components that moved most between the regimes on both sides (see ``_breakdown``).

A new, declared, unreverted, unacknowledged regression fails CI (:attr:`Change.failing`).
Evidence that is growing but not yet enough (at least half the boundary, and ``min_change``)
is reported as :class:`Pending`: watch, never a failure. A single bad last run is thus shown,
and cleared again by the normal runs that follow a spike.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from daskbench.errors import ConfigError
from daskbench.metrics import check_verdict_metrics, get_metric, is_breakdown
from daskbench.stats import MonitorSettings, Shift, declared_after, detect_change_points, scan_tail
from daskbench.store import Ack

from ._breakdown import ComponentShift, regime_breakdown
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
# Per history and night: 120 histories run nightly fail CI on at most 0.88 nights a year of noise.
DEFAULT_FALSE_ALARM_RATE = 2e-5
# A declared regression stays declared, for `recent` runs, while its evidence stays above this
# share of the threshold: evidence just past the threshold dips below it again on some of the
# next nights (a fifth of the small steps in perf/detect_nightly.py), and CI should not flicker.
HOLD = 0.8
#: The metric whose change points carry the breakdown of their regimes.
ATTRIBUTED_METRIC = "wall_time"


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
    declared: bool = False  # the sequential detector declares this regression tonight
    detected_after: int | None = None  # runs of the new regime it took to declare it first
    # wall_time: the breakdown components that moved most from the regime before to after
    breakdown: tuple[ComponentShift, ...] = ()

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
        """A new, declared, unacknowledged regression still in effect: what fails CI."""
        return (
            self.regression
            and self.declared
            and self.new
            and not self.reverted
            and self.ack is None
        )

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
    """The last runs are worse than the regime before them, but not yet enough to fail CI."""

    label: str
    test: str
    metric: str
    run_ids: tuple[str, ...]
    regime: float  # median of the current regime
    latest: float  # median of the pending runs
    evidence: float = 0.0  # the sequential detector's evidence for a shift at run_ids[0]
    threshold: float = math.inf  # the evidence that fails CI

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
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE

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


@dataclass(frozen=True)
class _Step:
    index: int  # first value of the new regime in the series
    before: float
    after: float
    pvalue: float
    tentative: bool = False  # the sequential detector's, kept only if declared


def detect_series(
    series: Series,
    history: History,
    acks: Sequence[Ack] = (),
    *,
    recent: int = DEFAULT_RECENT,
    min_size: int = DEFAULT_MIN_SIZE,
    min_change: float = DEFAULT_MIN_CHANGE,
    alpha: float = DEFAULT_ALPHA,
    monitor: MonitorSettings | None = None,
) -> tuple[list[Change], Pending | None]:
    """Changes and the pending tail of one series (see the module docstring)."""
    values = series.values
    if len(values) < 2:
        return [], None
    settings = monitor if monitor is not None else MonitorSettings()
    worse = "higher" if get_metric(series.metric).lower_is_better else "lower"
    found = [
        cp
        for cp in detect_change_points(values, alpha=alpha, min_size=min_size)
        if _relative(cp.before, cp.after) >= min_change
    ]
    breaks = [cp.index for cp in found]
    scan = scan_tail(values, worse=worse, breaks=breaks, settings=settings)
    steps = [_Step(cp.index, cp.before, cp.after, cp.pvalue) for cp in found]
    best = scan.strongest
    if (
        best is not None
        and best.runs >= settings.min_runs
        and best.evidence >= HOLD * best.threshold
        and _relative(best.before, best.after) >= min_change
        and not any(
            abs(cp.index - best.index) <= min_size and _worse(series.metric, cp.before, cp.after)
            for cp in found
        )
    ):
        # Too recent for the offline search: the sequential detector's likeliest start (kept
        # below if it is, or recently was, declared).
        pvalue = settings.pvalue(best.evidence, best.runs)
        steps.append(_Step(best.index, best.before, best.after, pvalue, tentative=True))
        steps.sort(key=lambda step: step.index)

    label_runs = history.runs_by_label[series.label]
    pos = history.position
    n_runs = len(label_runs)
    changes: list[Change] = []
    for step in steps:
        good, bad = series.run_ids[step.index - 1], series.run_ids[step.index]
        regression = _worse(series.metric, step.before, step.after)
        declared, after = False, None
        if regression:
            near = [
                s
                for s in scan.shifts
                if abs(s.index - step.index) <= min_size and s.runs >= settings.min_runs
            ]
            if any(s.evidence >= HOLD * s.threshold for s in near):
                after = _first_declared(series, step.index, worse, breaks, settings, min_size)
            if any(s.declared for s in near):
                declared = True
                after = after or len(values) - step.index
            elif after is not None:  # declared before, still strong: held within `recent`
                declared = pos[series.run_ids[step.index + after - 1]] >= n_runs - recent
        if step.tentative and not declared:
            continue  # a sequential candidate never declared: at most pending
        news = bad if after is None else series.run_ids[step.index + after - 1]
        changes.append(
            Change(
                label=series.label,
                test=series.test,
                metric=series.metric,
                index=step.index,
                last_good_run=good,
                first_bad_run=bad,
                before=step.before,
                after=step.after,
                pvalue=step.pvalue,
                regression=regression,
                new=pos[news] >= n_runs - recent,
                reverted=False,  # set below, against the latest regime
                ack=_matching_ack(acks, series, history, pos[good], pos[bad], min_size),
                runs_between=pos[bad] - pos[good] - 1,
                diff=history.runs[good].environment.diff(history.runs[bad].environment),
                declared=declared,
                detected_after=after,
            )
        )
    latest = changes[-1].after if changes else statistics.median(values)
    changes = [
        replace(
            c,
            reverted=c.regression
            and (
                not _worse(series.metric, c.before, latest)
                or _relative(c.before, latest) < min_change
            ),
        )
        for c in changes
    ]
    if best is not None and any(
        c.declared and abs(c.index - best.index) <= min_size for c in changes
    ):
        return changes, None  # the newest runs are a declared regression, not pending
    return changes, _pending(series, best, min_change)


def _first_declared(
    series: Series,
    index: int,
    worse: str,
    breaks: Sequence[int],
    settings: MonitorSettings,
    slack: int,
) -> int | None:
    """Runs of the regime starting at ``index`` the sequential detector needed to declare it,
    by replaying the nights since; ``None`` if it never did."""
    earlier = [b for b in breaks if b < index]
    return declared_after(
        series.values, index, worse=worse, breaks=earlier, settings=settings, slack=slack
    )


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


def _pending(series: Series, best: Shift | None, min_change: float) -> Pending | None:
    """The newest runs, when their evidence is at least half the boundary but not declared."""
    if (
        best is None
        or best.declared
        or best.evidence < best.threshold / 2.0
        or _relative(best.before, best.after) < min_change
    ):
        return None
    return Pending(
        series.label,
        series.test,
        series.metric,
        series.run_ids[best.index :],
        regime=best.before,
        latest=best.after,
        evidence=best.evidence,
        threshold=best.threshold,
    )


def _with_breakdown(changes: list[Change], series: Series, history: History) -> list[Change]:
    """``changes`` of one series, each with the breakdown of its regimes (between the
    neighbouring changes of the same series)."""
    th = history.tests.get((series.label, series.test))
    if th is None:
        return changes
    bounds = [0, *(c.index for c in changes), len(series.run_ids)]
    out = []
    for i, change in enumerate(changes):
        before = series.run_ids[bounds[i] : bounds[i + 1]]
        after = series.run_ids[bounds[i + 1] : bounds[i + 2]]
        out.append(replace(change, breakdown=regime_breakdown(th, before, after)))
    return out


def detect(
    history: History,
    acks: Iterable[Ack] = (),
    *,
    metrics: Iterable[str] | None = None,
    recent: int = DEFAULT_RECENT,
    min_size: int = DEFAULT_MIN_SIZE,
    min_change: float = DEFAULT_MIN_CHANGE,
    alpha: float = DEFAULT_ALPHA,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
) -> Detection:
    """Find the changes of every history in ``history``, and the regressions that fail CI.

    ``false_alarm_rate`` is the chance that one history without any change fails CI on one
    night: for ``H`` histories run ``N`` times a year, about ``H * N * false_alarm_rate``
    false-alarm nights a year.

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
    if not 0 < false_alarm_rate < 0.01:
        raise ConfigError(f"--false-alarm-rate must be in (0, 0.01), got {false_alarm_rate}")
    monitor = MonitorSettings(false_alarm_rate=false_alarm_rate)
    wanted = frozenset(check_verdict_metrics(metrics)) if metrics else None
    ack_list = list(acks)
    changes: list[Change] = []
    pending: list[Pending] = []
    all_series = [s for s in history.all_series(wanted) if not is_breakdown(s.metric)]
    for series in all_series:
        found, tail = detect_series(
            series,
            history,
            ack_list,
            recent=recent,
            min_size=min_size,
            min_change=min_change,
            alpha=alpha,
            monitor=monitor,
        )
        if series.metric == ATTRIBUTED_METRIC and found:
            found = _with_breakdown(found, series, history)
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
        false_alarm_rate=false_alarm_rate,
    )
