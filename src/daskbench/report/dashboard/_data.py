"""The dashboard's data: compact JSON payloads per test, the run table, sparklines.

Size matters (100 tests x 365 runs x 6 metrics must stay well under 10 MB): values are rounded
to 5 significant digits, runs are referred to by their index in one shared run table
(``data/runs.js``), and everything is plain arrays. Payloads are JavaScript files that assign a
global (``window.DASHBOARD_TEST = {...}``) rather than JSON fetched at run time, so the pages
work when opened straight from disk (``file://`` forbids ``fetch``).

Breakdown metrics get no chart of their own (twenty per test would bury the pinned ones and
the budget): the activities go into one stacked chart per lineage (``activities``: names and
per-run seconds, 3 significant digits), and the change points of wall time carry the
components that moved most between their regimes (also in the page's change table).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from daskbench.history import Change, Detection, History, TestHistory
from daskbench.metrics import ACTIVITIES, ACTIVITY_PREFIX, get_metric, is_breakdown
from daskbench.models import Run

__all__ = [
    "PRIMARY_METRICS",
    "activities_payload",
    "chart_order",
    "js_assign",
    "primary_metric",
    "runs_payload",
    "test_payload",
]

# The metric shown in sparklines and the index: the first of these a test has.
PRIMARY_METRICS = ("wall_time", "peak_memory", "compute_time")
# Packages whose versions the hover shows first; others follow alphabetically.
KEY_PACKAGES = ("dask", "distributed", "numpy", "pandas", "pyarrow", "python")
MAX_PACKAGES = 12


def js_assign(name: str, payload: Any) -> str:
    """``window.NAME = <json>;``: loadable with a ``<script>`` tag, from ``file://`` too."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    # U+2028/2029 end a line in older JavaScript engines: escape them.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{name}={text};\n"


def _round(value: float | None, digits: int = 5) -> float | None:
    if value is None:
        return None
    return float(f"{value:.{digits}g}")


def primary_metric(metrics: Sequence[str]) -> str | None:
    for name in PRIMARY_METRICS:
        if name in metrics:
            return name
    return sorted(metrics)[0] if metrics else None


def chart_order(metrics: Sequence[str]) -> list[str]:
    """The order of a test's charts: wall time first, then memory, then the rest by name.

    >>> chart_order(["n_tasks", "avg_memory", "wall_time", "peak_memory", "compute_time"])
    ['wall_time', 'peak_memory', 'avg_memory', 'compute_time', 'n_tasks']
    """

    def rank(name: str) -> tuple[int, int, str]:
        if name == "wall_time":
            return (0, 0, name)
        if name in _MEMORY_FIRST:
            return (1, _MEMORY_FIRST.index(name), name)
        if get_metric(name).unit == "B":
            return (1, len(_MEMORY_FIRST), name)
        return (2, 0, name)

    return sorted(metrics, key=rank)


_MEMORY_FIRST = ("peak_memory", "avg_memory")


def _packages(run: Run) -> dict[str, str]:
    pkgs = {k: str(v) for k, v in run.environment.packages.items()}
    order = [k for k in KEY_PACKAGES if k in pkgs] + sorted(set(pkgs) - set(KEY_PACKAGES))
    return {k: pkgs[k] for k in order[:MAX_PACKAGES]}


def runs_payload(history: History) -> tuple[dict[str, Any], dict[str, int]]:
    """The shared run table and run id -> index in it.

    Times are Unix seconds, nudged so that runs of one label are strictly increasing (the
    chart's x axis needs that; two runs can start in the same second).
    """
    rows: list[list[Any]] = []
    index: dict[str, int] = {}
    for label in sorted(history.runs_by_label):
        last = -math.inf
        for run_id in history.runs_by_label[label]:
            run = history.runs[run_id]
            t = max(run.started_at.timestamp(), last + 1.0)
            last = t
            env = run.environment
            index[run_id] = len(rows)
            rows.append(
                [
                    run_id,
                    label,
                    round(t, 3),
                    env.git_commit or "",
                    env.python_version or "",
                    _packages(run),
                ]
            )
    return {"fields": ["id", "label", "t", "commit", "python", "packages"], "runs": rows}, index


def _changes_of(changes: Sequence[Change], positions: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "pos": positions[c.first_bad_run],
            "pct": round(c.percent, 1) if math.isfinite(c.percent) else None,
            "kind": c.kind,
            "new": c.new,
            "failing": c.failing,
            "reverted": c.reverted,
            "ack": c.ack.reason if c.ack is not None else None,
            "good": c.last_good_run,
            "bad": c.first_bad_run,
            **(
                {"breakdown": [[s.metric, _round(s.before), _round(s.after)] for s in c.breakdown]}
                if c.breakdown
                else {}
            ),
        }
        for c in changes
    ]


def _regimes(th: TestHistory, metric: str, changes: Sequence[Change]) -> list[list[Any]]:
    """[start position, end position (exclusive), median] of each regime, for drawing."""
    series = th.series(metric)
    if not series.values:
        return []
    pos = {run_id: i for i, run_id in enumerate(th.run_ids)}
    bounds = [0, *(pos[c.first_bad_run] for c in changes), len(th.run_ids)]
    levels = [changes[0].before, *(c.after for c in changes)] if changes else []
    if not levels:
        ordered = sorted(series.values)
        mid = len(ordered) // 2
        levels = [ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0]
    return [[bounds[i], bounds[i + 1], _round(level)] for i, level in enumerate(levels)]


def activities_payload(th: TestHistory) -> dict[str, Any] | None:
    """Seconds per activity per run (aligned with the lineage's runs) for the stacked chart;
    activities that are never above 0 are left out. None without a breakdown.

    >>> th = TestHistory("main", "t", run_ids=["r1", "r2"], values={
    ...     "activity.compute": [1.0, 2.123456], "activity.idle": [0.5, None],
    ...     "activity.disk_read": [0.0, 0.0], "wall_time": [1.0, 1.5]})
    >>> activities_payload(th)
    {'names': ['compute', 'idle'], 'values': [[1.0, 2.12], [0.5, None]]}
    """
    names, values = [], []
    for name in ACTIVITIES:
        column = th.values.get(f"{ACTIVITY_PREFIX}{name}")
        if column and any(v for v in column):
            names.append(name)
            values.append([_round(v, 3) for v in column])
    return {"names": names, "values": values} if names else None


def test_payload(
    test: str,
    lineages: Sequence[TestHistory],
    detection: Detection,
    run_index: dict[str, int],
) -> dict[str, Any]:
    """Everything one test page draws: per label, per metric values and changes."""
    labels: dict[str, Any] = {}
    for th in lineages:
        positions = {run_id: i for i, run_id in enumerate(th.run_ids)}
        metrics: dict[str, Any] = {}
        charted = [m for m in th.metrics if not is_breakdown(m)]
        for metric in charted:
            changes = [
                c
                for c in detection.changes
                if c.label == th.label and c.test == th.test and c.metric == metric
            ]
            info = get_metric(metric)
            metrics[metric] = {
                "unit": info.unit,
                "lower": info.lower_is_better,
                "values": [_round(v) for v in th.values[metric]],
                "changes": _changes_of(changes, positions),
                "regimes": _regimes(th, metric, changes),
            }
        labels[th.label] = {
            "order": chart_order(charted),
            "runs": [run_index[r] for r in th.run_ids],
            "failed": [i for i, bad in enumerate(th.failed) if bad],
            "errors": {str(i): e for i, e in enumerate(th.errors) if e},
            "metrics": metrics,
        }
        activities = activities_payload(th)
        if activities is not None:
            labels[th.label]["activities"] = activities
    return {"test": test, "labels": labels}


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of the last ``width`` values (gaps skipped), no script needed."""
    points = [(i, v) for i, v in enumerate(values[-width:]) if v is not None]
    if len(points) < 2:
        return f'<svg class="spark" viewBox="0 0 {width} {height}"></svg>'
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = hi - lo or 1.0
    n = max(len(values[-width:]) - 1, 1)
    coords = " ".join(
        f"{i * (width - 2) / n + 1:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
        for i, v in points
    )
    x_last, y_last = coords.rsplit(" ", 1)[-1].split(",")
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
        f'<polyline points="{coords}"/><circle cx="{x_last}" cy="{y_last}" r="1.8"/></svg>'
    )
