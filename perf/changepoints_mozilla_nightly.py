"""Sequential detection on real Firefox series: how soon after each expert alert, and at what cost.

Data: ``shared/data/mozilla-perf`` (33 windows, 3,521 values, 42 triaged alerts: 8 regressions,
34 improvements; see ``changepoints_mozilla.py``). Each window is replayed as if a run arrived
at a time, and after each value the two detectors of ``daskbench detect`` look at the history
so far, in both directions (so that improvements count as alerts too):

* **sequential**: ``scan_tail`` with the offline change points as regime breaks, default
  settings (``false_alarm_rate`` 2e-5 per history and run): a shift is declared when a
  declared candidate starts within +-5 values of an alert;
* **offline**: ``detect_change_points`` (defaults) finding a change point within +-5 values.

For each alert: the number of values from the alert's index on (1 = the alerted value itself)
when the detector first had it, within 60 values. "Other declarations" are declared shifts
(distinct starts, merged within +-5) that no alert explains; unalerted recoveries and shifts in
these windows count there too, so it is an upper bound of the false alarms.

    python perf/changepoints_mozilla_nightly.py [--data PATH]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np

from daskbench.stats import MonitorSettings, detect_change_points, scan_tail

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mozilla-perf"
MARGIN = 5
HORIZON = 60
START = 20  # values before the first look


def load(data: Path) -> list[tuple[str, np.ndarray, list[int]]]:
    alerts: dict[str, list[int]] = {}
    with (data / "alerts.csv").open() as f:
        for row in csv.DictReader(f):
            alerts.setdefault(row["signature_id"], []).append(int(row["index"]))
    out = []
    for path in sorted((data / "series").glob("*.csv")):
        with path.open() as f:
            values = np.array([float(row["value"]) for row in csv.DictReader(f)])
        out.append((path.stem, values, sorted(alerts.get(path.stem, []))))
    return out


def replay(values: np.ndarray, settings: MonitorSettings) -> tuple[dict[int, int], dict[int, int]]:
    """First night each start was declared (sequential) / found (offline): start -> night."""
    sequential: dict[int, int] = {}
    offline: dict[int, int] = {}
    for n in range(START, values.size + 1):
        prefix = values[:n]
        cps = detect_change_points(prefix)
        breaks = [cp.index for cp in cps]
        for cp in cps:
            offline.setdefault(cp.index, n)
        for worse in ("higher", "lower"):
            for shift in scan_tail(prefix, worse=worse, breaks=breaks, settings=settings).shifts:
                if shift.declared:
                    sequential.setdefault(shift.index, n)
    return sequential, offline


def delay(found: dict[int, int], alert: int) -> int | None:
    nights = [night for start, night in found.items() if abs(start - alert) <= MARGIN]
    first = min(nights, default=None)
    return None if first is None or first - alert > HORIZON else first - alert


def unexplained(found: dict[int, int], alerts: list[int]) -> int:
    starts = sorted(s for s in found if all(abs(s - a) > MARGIN for a in alerts))
    groups = 0
    last = None
    for s in starts:
        if last is None or s - last > MARGIN:
            groups += 1
        last = s
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    settings = MonitorSettings()
    windows = load(args.data)
    delays: dict[str, list[int | None]] = {"sequential": [], "offline": []}
    other = {"sequential": 0, "offline": 0}
    for _name, values, alerts in windows:
        sequential, offline = replay(values, settings)
        for name, found in (("sequential", sequential), ("offline", offline)):
            delays[name] += [delay(found, a) for a in alerts if a >= START]
            other[name] += unexplained(found, alerts)
    n_values = sum(v.size for _, v, _ in windows)
    print(
        f"{len(windows)} windows, {n_values} values; alerts after the first {START} values: "
        f"{len(delays['sequential'])}; match +-{MARGIN}, horizon {HORIZON} values"
    )
    for name, got in delays.items():
        hit = [d + 1 for d in got if d is not None]  # values with the change, incl. the alerted
        quartiles = statistics.quantiles(hit, n=4) if len(hit) > 1 else [math_nan()] * 3
        print(
            f"{name:10s}  alerts detected {len(hit)}/{len(got)}; values to detection: median "
            f"{statistics.median(hit):.0f} [q25 {quartiles[0]:.0f}, q75 {quartiles[2]:.0f}]; "
            f"other declarations {other[name]}"
        )
    paired = [
        (s + 1, o + 1)
        for s, o in zip(delays["sequential"], delays["offline"], strict=True)
        if s is not None and o is not None
    ]
    if paired:
        earlier = sum(s < o for s, o in paired)
        later = sum(s > o for s, o in paired)
        print(
            f"alerts both detected: {len(paired)}; sequential earlier on {earlier}, later on "
            f"{later}; median difference {statistics.median(o - s for s, o in paired):+.0f} "
            "values (offline - sequential)"
        )


def math_nan() -> float:
    return float("nan")


if __name__ == "__main__":
    main()
