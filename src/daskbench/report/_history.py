"""``daskbench detect`` output: plain text for terminals, markdown for GitHub, JSON for tools.

Every format says the same things in the same order: new regressions (what fails CI), with
the culprit range, what differs between the two fingerprints and, for wall time, where the
time went (the breakdown components that moved most between the regimes); acknowledged
changes; pending tails (watch); then older changes and improvements.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from typing import Any

from daskbench._secrets import mask_diff
from daskbench.history._breakdown import ComponentShift
from daskbench.history._detect import Change, ChangeStatus, Detection, Pending
from daskbench.history._series import History
from daskbench.metrics import get_metric
from daskbench.report._markdown import code, details, escape, table

__all__ = ["to_json", "to_markdown", "to_text"]

MAX_DIFF = 8  # fingerprint differences shown per change (all of them in JSON)


def _value(metric: str, value: float) -> str:
    return get_metric(metric).format(value)


def _pct(percent: float) -> str:
    return f"{percent:+.1f}%" if math.isfinite(percent) else "from 0"


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _diff_items(change: Change) -> list[str]:
    items = [f"{k}: {_short(a)} -> {_short(b)}" for k, (a, b) in mask_diff(change.diff).items()]
    if len(items) > MAX_DIFF:
        items = [*items[:MAX_DIFF], f"... {len(items) - MAX_DIFF} more"]
    return items


def _shift_text(shift: ComponentShift) -> str:
    """``prefix.slow_step +2.00 s (100.0 ms -> 2.10 s)``; ``-`` for no value in a regime."""
    sign = "+" if shift.delta > 0 else ""
    return (
        f"{shift.metric} {sign}{_value(shift.metric, shift.delta)} "
        f"({get_metric(shift.metric).format(shift.before)} -> "
        f"{get_metric(shift.metric).format(shift.after)})"
    )


def _run_text(history: History, run_id: str) -> str:
    run = history.runs[run_id]
    when = run.started_at.strftime("%Y-%m-%d %H:%M")
    commit = f", commit {run.revision[:12]}" if run.revision else ""
    return f"{run_id} ({when}{commit})"


def _ack_hint(change: Change) -> str:
    """The command that accepts ``change``, quoted for a shell (ids may hold ``[ <|``)."""
    target = shlex.join([change.test, "--metric", change.metric, "--run", change.first_bad_run])
    return f'daskbench ack --db <URL> {target} --reason "..."'


# How the text report names a change that is neither failing nor acknowledged.
_OTHER = {
    ChangeStatus.REVERTED: "reverted regression",
    ChangeStatus.OLD_REGRESSION: "older regression",
    ChangeStatus.NEW_IMPROVEMENT: "improvement",
    ChangeStatus.OLD_IMPROVEMENT: "older improvement",
}


def _headline(detection: Detection) -> str:
    failing = len(detection.failing)
    parts = [
        f"{failing} new regression{'s' if failing != 1 else ''}",
        f"{len(detection.acknowledged)} acknowledged",
        f"{len(detection.pending)} pending",
        f"{len(detection.changes)} change points in {detection.histories} histories",
    ]
    labels = ", ".join(detection.labels) or "none"
    recent = f"new = declared within the last {detection.recent} runs"
    return f"{'; '.join(parts)} (labels: {labels}; {recent})"


def _others(detection: Detection) -> list[Change]:
    shown = (ChangeStatus.NEW_REGRESSION, ChangeStatus.ACKNOWLEDGED)
    return [c for c in detection.changes if c.status not in shown]


# -- text -------------------------------------------------------------------------------------


def _change_lines(change: Change, history: History) -> list[str]:
    head = (
        f"{change.test}  {change.metric}  {_pct(change.percent)} "
        f"({_value(change.metric, change.before)} -> {_value(change.metric, change.after)}, "
        f"p={change.pvalue:.1g})  label {change.label}"
    )
    lines = [
        head,
        f"    first bad run  {_run_text(history, change.first_bad_run)}",
        f"    last good run  {_run_text(history, change.last_good_run)}",
    ]
    if change.runs_between:
        lines.append(f"    ({change.runs_between} run(s) in between without a passing result)")
    if change.detected_after is not None:
        lines.append(f"    declared after {change.detected_after} run(s) of the new regime")
    diff = _diff_items(change)
    lines.append("    changed: " + ("; ".join(diff) if diff else "nothing in the fingerprint"))
    if change.breakdown:
        lines.append("    where the time went: " + "; ".join(map(_shift_text, change.breakdown)))
    if change.ack is not None:
        lines.append(f"    acknowledged: {change.ack.reason} (run {change.ack.run_id})")
    return lines


def to_text(detection: Detection, history: History) -> str:
    out = [f"daskbench detect: {_headline(detection)}"]
    if detection.failing:
        out.append("")
        for change in detection.failing:
            first, *rest = _change_lines(change, history)
            out += [f"NEW REGRESSION  {first}", *rest, f"    to accept it: {_ack_hint(change)}"]
    if detection.acknowledged:
        out.append("")
        for change in detection.acknowledged:
            first, *rest = _change_lines(change, history)
            out += [f"acknowledged {change.kind}  {first}", *rest]
    if detection.pending:
        out.append("")
        for p in detection.pending:
            out.append(
                f"pending  {p.test}  {p.metric}  last {len(p.run_ids)} run(s) "
                f"{_pct(p.percent)} vs the regime (label {p.label}; evidence "
                f"{p.evidence:.1f}, fails at {p.threshold:.1f})"
            )
    others = _others(detection)
    if others:
        out.append("")
        for change in others:
            mostly = "; ".join(map(_shift_text, change.breakdown[:2]))
            out.append(
                f"{_OTHER[change.status]}  {change.test}  {change.metric}  {_pct(change.percent)} "
                f"at run {change.first_bad_run} (label {change.label})"
                + (f"; mostly {mostly}" if mostly else "")
            )
    return "\n".join(out)


# -- markdown ---------------------------------------------------------------------------------


def _md_run(history: History, run_id: str) -> str:
    run = history.runs[run_id]
    commit = f" @ {code(run.revision[:12])}" if run.revision else ""
    return f"{code(run_id)}{commit}"


def _md_rows(changes: Sequence[Change], history: History) -> list[list[str]]:
    return [
        [
            code(c.test),
            escape(c.metric),
            f"**{_pct(c.percent)}**",
            escape(f"{_value(c.metric, c.before)} → {_value(c.metric, c.after)}"),
            escape(c.label),
            _md_run(history, c.last_good_run),
            _md_run(history, c.first_bad_run),
            "<br>".join(escape(item) for item in _diff_items(c)) or "–",
            "<br>".join(escape(_shift_text(shift)) for shift in c.breakdown) or "–",
        ]
        for c in changes
    ]


_HEADERS = [
    "test",
    "metric",
    "change",
    "before → after",
    "label",
    "last good run",
    "first bad run",
    "what changed",
    "where the time went",
]


def to_markdown(detection: Detection, history: History) -> str:
    failing = detection.failing
    icon = ":x:" if failing else ":white_check_mark:"
    title = (
        f"{len(failing)} new performance regression{'s' if len(failing) != 1 else ''}"
        if failing
        else "no new performance regressions"
    )
    out = [f"### {icon} daskbench: {title}", "", escape(_headline(detection))]
    if failing:
        out += ["", table(_HEADERS, _md_rows(failing, history), align="llrlllll")]
        hints = "\n".join(_ack_hint(c) for c in failing)
        out += ["", "If a change is expected, acknowledge it:", "", f"```\n{hints}\n```"]
    if detection.acknowledged:
        rows = [
            [code(c.test), escape(c.metric), _pct(c.percent), escape(c.label), escape(c.ack.reason)]
            for c in detection.acknowledged
            if c.ack is not None
        ]
        out += [
            "",
            "#### Acknowledged",
            "",
            table(["test", "metric", "change", "label", "reason"], rows, align="llrll"),
        ]
    if detection.pending:
        rows = [
            [
                code(p.test),
                escape(p.metric),
                _pct(p.percent),
                f"{p.evidence:.1f} / {p.threshold:.1f}",
                escape(p.label),
                ", ".join(code(r) for r in p.run_ids),
            ]
            for p in detection.pending
        ]
        out += [
            "",
            "#### Pending (evidence growing, not enough to fail yet)",
            "",
            table(
                ["test", "metric", "vs regime", "evidence / needed", "label", "runs"],
                rows,
                align="llrrll",
            ),
        ]
    others = _others(detection)
    if others:
        body = table(_HEADERS, _md_rows(others, history), align="llrlllll")
        out += ["", details(f"{len(others)} other change points (older, improvements)", body)]
    return "\n".join(out)


# -- json -------------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    """JSON has no infinity: a change from exactly 0 has no ratio."""
    return value if math.isfinite(value) else None


def _change_json(change: Change, history: History) -> dict[str, Any]:
    def run(run_id: str) -> dict[str, Any]:
        r = history.runs[run_id]
        return {"id": run_id, "started_at": r.started_at.isoformat(), "revision": r.revision}

    return {
        "label": change.label,
        "test": change.test,
        "metric": change.metric,
        "kind": change.kind,
        "status": change.status,
        "before": change.before,
        "after": change.after,
        "ratio": _finite(change.ratio),
        "pvalue": change.pvalue,
        "new": change.new,
        "reverted": change.reverted,
        "failing": change.failing,
        "acknowledged": None
        if change.ack is None
        else {
            "run_id": change.ack.run_id,
            "reason": change.ack.reason,
            "author": change.ack.author,
            "created_at": change.ack.created_at.isoformat(),
        },
        "last_good_run": run(change.last_good_run),
        "first_bad_run": run(change.first_bad_run),
        "runs_between": change.runs_between,
        "declared": change.declared,
        "detected_after": change.detected_after,
        "diff": {k: [a, b] for k, (a, b) in mask_diff(change.diff).items()},
        "breakdown": [shift.to_dict() for shift in change.breakdown],
    }


def _pending_json(p: Pending) -> dict[str, Any]:
    return {
        "label": p.label,
        "test": p.test,
        "metric": p.metric,
        "runs": list(p.run_ids),
        "regime": p.regime,
        "latest": p.latest,
        "ratio": _finite(p.latest / p.regime) if p.regime else None,
        "evidence": p.evidence,
        "threshold": p.threshold,
    }


def to_json(detection: Detection, history: History) -> str:
    data = {
        "failing": len(detection.failing),
        "histories": detection.histories,
        "labels": list(detection.labels),
        "settings": {
            "recent": detection.recent,
            "min_size": detection.min_size,
            "min_change": detection.min_change,
            "alpha": detection.alpha,
            "false_alarm_rate": detection.false_alarm_rate,
        },
        "regressions": [_change_json(c, history) for c in detection.failing],
        "changes": [_change_json(c, history) for c in detection.changes],
        "pending": [_pending_json(p) for p in detection.pending],
    }
    return json.dumps(data, indent=2, default=str)
