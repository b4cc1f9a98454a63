"""Does a benchmark's measurement depend on the benchmarks that ran before it?

The contamination case of issue 9: an A/B of ``dataframe.shuffle.method`` tasks -> p2p over
three workloads run in this order: a shuffle, a shuffle-based groupby, an array reduction
(``perf/_workloads.py``). The array reduction does not shuffle, so the switch cannot change
it: its A/B must say so, whether or not the shuffles ran before it in the same process and
cluster. Prints the array's wall-time and peak-memory comparisons (p2p/tasks) for:

* ``before``: as the first release measured (no warm-up, no isolation: ``--warmup 0`` and
  ``DASKBENCH_ISOLATION=off``), after the two shuffling workloads;
* ``after``: daskbench's defaults, after the two shuffling workloads;
* ``alone``: daskbench's defaults, the array workload selected alone (the reference);
* the same three with ``--reset none`` (workers kept between benchmarks).

    python perf/isolation.py --rounds 10
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ab_fidelity import daskbench_ab

METRICS = ("wall_time", "peak_memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reset", nargs="+", default=["restart", "none"])
    args = parser.parse_args()
    off = {**os.environ, "DASKBENCH_ISOLATION": "off"}
    cases = [
        ("before", ["shuffle", "groupby", "array"], ["--warmup", "0"], off),
        ("after", ["shuffle", "groupby", "array"], [], None),
        ("alone", ["array"], [], None),
    ]
    print(f"{args.rounds} rounds; the array reduction's A/B p2p/tasks (it does not shuffle)")
    print(f"{'reset':8} {'case':7} {'metric':12} {'ratio [95% CI]':26} {'q':>7}  verdict")
    for reset in args.reset:
        for case, names, extra, env in cases:
            start = time.perf_counter()
            rows = daskbench_ab(
                names, args.rounds, [*extra, "--reset", reset], env=env, metrics=METRICS
            )
            for metric in METRICS:
                row = rows["array", metric]
                interval = f"{row['ratio']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
                print(
                    f"{reset:8} {case:7} {metric:12} {interval:26} {row['qvalue']:7.3g}  "
                    f"{row['verdict']}",
                    flush=True,
                )
            print(f"{'':8} ({case}: {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
