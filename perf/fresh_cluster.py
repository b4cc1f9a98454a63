"""Is plain dask slower on a freshly started process and cluster, or next to an idle one?

``daskbench ab`` starts a new process and cluster for every environment and round (it must:
environments differ in packages and config), while a direct loop can run every round on one
long-lived cluster. This script takes daskbench out of the picture and asks what that
difference costs. Per round, the shuffle-based groupby of ``perf/_workloads.py`` (2 workers
x 1 thread, 4 GiB each) runs in a new Python process with a new cluster, as daskbench would
run it: input persisted, ``--warmups`` executions, then three timed ones. Rounds alternate
(ABBA) between

* **alone**: nothing else runs; the same cluster then goes on for ``--age`` more executions
  and three more are timed at the end: the same cluster, older, and
* **next to an idle cluster**: a second LocalCluster of the same shape, its input persisted
  and warmed once, stays alive (idle) in this process while the new one measures, as the
  direct loop's cluster did beside daskbench in the first versions of
  ``perf/ab_fidelity.py``. The idle cluster's CPU use is printed.

Prints the medians and the two ratios: idle neighbour / alone, and older / fresh (paired by
round).

    python perf/fresh_cluster.py --rounds 12 [--warmups 2] [--age 12] [--method tasks]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import dask
import psutil
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from _workloads import CLUSTER, METHODS, child_json, prepare_frame, run_groupby, seconds
from daskbench.ab._runner import abba_order

TIMED = 3  # executions timed after the warm-ups, and at the end of the older cluster
KINDS = ("alone", "beside")  # rounds, in ABBA order


def child(method: str, warmups: int, age: int) -> None:
    """In the child process: a new cluster, the input, the executions (JSON on stdout)."""
    with (
        dask.config.set({"dataframe.shuffle.method": method}),
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
        Client(cluster) as client,
    ):
        df = prepare_frame(client)
        times = [seconds(run_groupby, df) for _ in range(warmups + TIMED + age)]
    fresh = times[warmups : warmups + TIMED]
    print(json.dumps({"fresh": fresh, "older": times[-TIMED:] if age >= TIMED else []}))


def run_child(method: str, warmups: int, age: int) -> dict[str, list[float]]:
    got: dict[str, list[float]] = child_json(__file__, "--child", method, str(warmups), str(age))
    return got


def cpu_seconds() -> float:
    """CPU time of this process and its live children (the idle cluster's processes)."""
    me = psutil.Process()
    return sum(sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--age", type=int, default=12, help="further executions (>= 3)")
    parser.add_argument("--method", choices=METHODS, default="tasks")
    args = parser.parse_args()
    if args.rounds < 4 or args.age < TIMED:
        parser.error(f"--rounds must be >= 4 (two of each kind), --age >= {TIMED}")
    alone: list[float] = []
    beside: list[float] = []
    aged: list[float] = []  # per alone round: median older / median fresh
    idle_cpu: list[float] = []
    started = time.perf_counter()
    with dask.config.set({"dataframe.shuffle.method": args.method}):
        for r in range(args.rounds):
            if abba_order(KINDS, r // 2)[r % 2] == "alone":  # alone, beside, beside, alone
                got = run_child(args.method, args.warmups, args.age)
                alone += got["fresh"]
                aged.append(statistics.median(got["older"]) / statistics.median(got["fresh"]))
                what = "alone:  " + " ".join(f"{t:.2f}" for t in got["fresh"])
                what += "; older: " + " ".join(f"{t:.2f}" for t in got["older"])
            else:
                with (
                    LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
                    Client(cluster) as client,
                ):
                    seconds(run_groupby, prepare_frame(client))
                    cpu0, wall0 = cpu_seconds(), time.perf_counter()
                    got = run_child(args.method, args.warmups, 0)
                    idle_cpu.append((cpu_seconds() - cpu0) / (time.perf_counter() - wall0))
                beside += got["fresh"]
                what = "beside: " + " ".join(f"{t:.2f}" for t in got["fresh"])
                what += f" (the idle cluster used {idle_cpu[-1]:.0%} of a core)"
            print(f"  round {r + 1}/{args.rounds}: {what}", flush=True)
    a, b = statistics.median(alone), statistics.median(beside)
    print(
        f"{args.rounds} rounds in {time.perf_counter() - started:.0f} s; groupby "
        f"({args.method}), plain dask, a new process and cluster per round, executions "
        f"{args.warmups + 1}-{args.warmups + TIMED} timed after {args.warmups} warm-ups"
    )
    print(
        f"  next to an idle cluster (using {statistics.median(idle_cpu):.0%} of a core): "
        f"{b:.3f} s vs alone {a:.3f} s: {b / a:.3f}"
    )
    print(
        f"  the same clusters {args.age} executions older / fresh (median over "
        f"{len(aged)} rounds): {statistics.median(aged):.3f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
