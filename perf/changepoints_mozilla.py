"""``detect_change_points`` against apache-otava on real Firefox series with triaged alerts.

Data: ``shared/data/mozilla-perf`` (33 windows of Perfherder series, 3,521 values, 42 alerts
triaged by Mozilla's performance sheriffs; see its README). Every alert row is a true change
point; no alert is "invalid" in this set. The recovery of 4967327 and other unalerted shifts
therefore count as false positives for both tools.

Scoring, the same for both tools: a detection matches an alert within +-5 values (the margin
commonly used in TCPDBench-style evaluations), one-to-one, closest pairs first. Precision,
recall and F1 are pooled over all windows ("micro"); the mean of per-window F1 ("macro") is
also shown. Otava runs in its own venv (see ``_otava.py``): with its command-line defaults
(window 50, max p-value 0.001) and on a small grid, whose best F1 is picked *on these labels*
(an advantage daskbench does not get: its defaults were tuned on synthetic data only).

    python perf/changepoints_mozilla.py [--data PATH] [--margin 5]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

import _otava
from daskbench.stats import detect_change_points

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mozilla-perf"


def load(data: Path) -> tuple[list[str], list[np.ndarray], list[list[int]]]:
    alerts: dict[str, list[int]] = {}
    with (data / "alerts.csv").open() as f:
        for row in csv.DictReader(f):
            alerts.setdefault(row["signature_id"], []).append(int(row["index"]))
    names, series, truth = [], [], []
    for path in sorted((data / "series").glob("*.csv")):
        with path.open() as f:
            values = [float(row["value"]) for row in csv.DictReader(f)]
        names.append(path.stem)
        series.append(np.asarray(values))
        truth.append(sorted(alerts.get(path.stem, [])))
    return names, series, truth


def n_matched(truth: list[int], found: list[int], margin: int) -> int:
    pairs = sorted(
        (abs(t - f), i, j)
        for i, t in enumerate(truth)
        for j, f in enumerate(found)
        if abs(t - f) <= margin
    )
    used_t: set[int] = set()
    used_f: set[int] = set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return len(used_t)


def score(truth: list[list[int]], found: list[list[int]], margin: int) -> str:
    tp = fp = fn = 0
    f1s = []
    for t, f in zip(truth, found, strict=True):
        m = n_matched(t, f, margin)
        tp, fp, fn = tp + m, fp + len(f) - m, fn + len(t) - m
        p = m / len(f) if f else 1.0
        r = m / len(t) if t else 1.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (
        f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  macro-F1 {np.mean(f1s):.3f}"
        f"  (TP {tp}, FP {fp}, FN {fn})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--margin", type=int, default=5)
    args = parser.parse_args()
    _names, series, truth = load(args.data)
    print(
        f"{len(series)} windows, {sum(s.size for s in series)} values, "
        f"{sum(map(len, truth))} alerts; match margin +-{args.margin} values"
    )

    rows: list[tuple[str, str]] = []
    found = [[cp.index for cp in detect_change_points(s)] for s in series]
    rows.append(("daskbench (defaults: alpha=0.05, min_size=5)", score(truth, found, args.margin)))
    for alpha in (0.01, 0.2):
        found = [[cp.index for cp in detect_change_points(s, alpha=alpha)] for s in series]
        rows.append((f"daskbench alpha={alpha}", score(truth, found, args.margin)))
    found = [[cp.index for cp in detect_change_points(s, min_change=0.02)] for s in series]
    rows.append(("daskbench min_change=0.02", score(truth, found, args.margin)))

    otava_found, _, _ = _otava.run(series)
    rows.append(("otava (defaults: window=50, p=0.001)", score(truth, otava_found, args.margin)))
    best: tuple[float, str, str] | None = None
    for window in (20, 30, 50, 100):
        for pvalue in (0.001, 0.01, 0.05):
            if (window, pvalue) == (50, 0.001):
                continue
            otava_found, _, _ = _otava.run(series, window_len=window, max_pvalue=pvalue)
            text = score(truth, otava_found, args.margin)
            f1 = float(text.split("F1 ")[1].split()[0])
            if best is None or f1 > best[0]:
                best = (f1, f"otava best of grid: window={window}, p={pvalue}", text)
    assert best is not None
    rows.append((best[1], best[2]))
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:{width}s}  {text}")


if __name__ == "__main__":
    main()
