"""The machine's own noise floor: how much a fixed CPU loop, with no Dask at all, varies.

Every benchmark's wall time carries the speed of the machine it ran on. On a shared or
virtualised host that speed is not constant, and no sizing, warm-up or isolation of the
workload can remove what the host itself adds. This script measures it: ``--procs``
processes (default: one per core, as the workers of the default LocalCluster) time the same
CPU kernel (a numpy sort and a pure-Python sum, ~20 ms) back to back for ``--seconds``.

For windows of T seconds it prints the noise of one "run" that measures for T seconds
(the CV of the window's mean log time, from the differences of *adjacent* windows: the most
favourable pairing an A/B can have), and the MDE that noise alone allows at ``--rounds``
paired rounds in a family of ``--family`` comparisons, with daskbench's own planning formula
(:func:`daskbench.stats.planned_mde`, as ``daskbench noise`` uses). A benchmark that measures
for T seconds per round cannot be less noisy than this, whatever it runs.

    python perf/host_noise.py                  # 300 s, 2 processes
    python perf/host_noise.py --seconds 120 --procs 1
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import time

import numpy as np

from daskbench.stats import planned_mde

WINDOWS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)


def _kernel(data: np.ndarray) -> None:
    np.sort(data)
    sum(range(300_000))


def _time_loop(seconds: float, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    data = np.random.default_rng(0).random(1_000_000)
    _kernel(data)  # warm
    out: list[tuple[float, float]] = []
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        t0 = time.perf_counter()
        _kernel(data)
        out.append((now, time.perf_counter() - t0))
    queue.put(out)


def _window_means(stamps: np.ndarray, logs: np.ndarray, width: float) -> np.ndarray:
    """Mean log time of all processes' calls that started in each window of ``width`` s."""
    index = ((stamps - stamps.min()) // width).astype(int)
    means = [logs[index == i].mean() for i in range(int(index.max())) if (index == i).any()]
    return np.array(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--family", type=int, default=40)
    args = parser.parse_args()

    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_time_loop, args=(args.seconds, queue)) for _ in range(args.procs)]
    for p in procs:
        p.start()
    samples = [queue.get() for _ in procs]
    for p in procs:
        p.join()

    stamps = np.array([t for s in samples for t, _ in s])
    times = np.array([d for s in samples for _, d in s])
    logs = np.log(times)
    q10, q50, q90 = np.quantile(times, [0.1, 0.5, 0.9]) * 1e3
    print(
        f"host noise: {args.procs} process(es) x {args.seconds:.0f} s, {times.size} calls of a "
        f"fixed CPU kernel: median {q50:.1f} ms, 10%-90% {q10:.1f}-{q90:.1f} ms "
        f"(x{q90 / q10:.2f})"
    )
    need = {
        goal: next(
            (
                cv / 1000
                for cv in range(1, 1000)
                if planned_mde(cv / 1000, args.rounds, family_size=args.family) > goal
            ),
            math.nan,
        )
        for goal in (0.10, 0.25)
    }
    print(
        f"an MDE of 10% at {args.rounds} rounds in a family of {args.family} needs a run CV "
        f"below {need[0.10]:.1%}; 25% needs below {need[0.25]:.1%}"
    )
    mde_head = f"MDE @{args.rounds}"
    print(f"{'measured s per run':>19}  {'windows':>7}  {'run CV':>7}  {mde_head:>8}")
    for width in WINDOWS:
        means = _window_means(stamps, logs, width)
        if means.size < 6:
            continue
        n = means.size // 2 * 2
        diffs = means[1:n:2] - means[0:n:2]  # adjacent windows as the A and B of one round
        sigma = float(np.std(diffs, ddof=1)) / math.sqrt(2.0)
        cv = math.sqrt(math.expm1(sigma * sigma))
        mde = planned_mde(cv, args.rounds, family_size=args.family)
        print(f"{width:>19.0f}  {means.size:>7d}  {cv:>7.1%}  {mde:>8.1%}")
    trace = _window_means(stamps, logs, 5.0)
    print(
        "5-s window means over time (ms): "
        + " ".join(f"{math.exp(m) * 1e3:.0f}" for m in trace[:60])
    )


if __name__ == "__main__":
    main()
