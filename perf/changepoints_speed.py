"""Speed of ``detect_change_points`` against apache-otava on 500 series of 1,000 values.

The series come from the synthetic generator of ``changepoints_synthetic.py`` (a few steps,
spikes, bimodal or skewed noise) stretched to 1,000 values. Both tools see the same series;
otava runs in its own venv (see ``_otava.py``) and times itself inside the subprocess, so
neither figure includes interpreter start-up or data loading. The runs of the two tools
alternate, and both wall-clock and CPU time (``time.process_time``) are reported, medians over
``--repeats`` runs: on a shared machine CPU time is the fairer basis for the ratio.

    python perf/changepoints_speed.py [--series 500] [--points 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import _otava
from changepoints_synthetic import make_history
from daskbench.stats import detect_change_points


def make_series(rng: np.random.Generator, points: int) -> np.ndarray:
    """A synthetic history of exactly ``points`` values (histories joined end to end)."""
    parts: list[np.ndarray] = []
    total = 0
    while total < points:
        h = make_history(rng)
        # Rescale so that consecutive histories continue at the level where the last one ended.
        if parts:
            h.values *= parts[-1][-1] / h.values[0]
        parts.append(h.values)
        total += h.values.size
    return np.concatenate(parts)[:points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    series = [make_series(rng, args.points) for _ in range(args.series)]

    ours_wall: list[float] = []
    ours_cpu: list[float] = []
    otava_wall: list[float] = []
    otava_cpu: list[float] = []
    found = 0
    otava_found: list[list[int]] = []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        found = sum(len(detect_change_points(s)) for s in series)
        ours_wall.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        otava_found, wall, cpu = _otava.run(series, repeats=1)
        otava_wall += wall
        otava_cpu += cpu

    def show(name: str, wall: list[float], cpu: list[float], n_found: int) -> None:
        w, c = statistics.median(wall), statistics.median(cpu)
        print(
            f"{name:34s} wall {w:6.2f} s  cpu {c:6.2f} s  ({c / args.series * 1e3:5.2f} ms cpu"
            f" per series; {n_found} change points)  wall runs: "
            + ", ".join(f"{t:.2f}" for t in wall)
        )

    print(f"{args.series} series x {args.points} values, median of {args.repeats} repeats")
    show("daskbench detect_change_points", ours_wall, ours_cpu, found)
    show(
        f"apache-otava {_otava.OTAVA_VERSION} (defaults)",
        otava_wall,
        otava_cpu,
        sum(map(len, otava_found)),
    )
    print(
        f"speed-up: {statistics.median(otava_cpu) / statistics.median(ours_cpu):.1f}x (cpu), "
        f"{statistics.median(otava_wall) / statistics.median(ours_wall):.1f}x (wall)"
    )


if __name__ == "__main__":
    main()
