"""Is plain dask on a freshly started process and cluster as fast as on a long-lived one?

The question behind the remaining gap of ``perf/ab_fidelity.py``: its direct loop runs every
round on one long-lived LocalCluster, while ``daskbench ab`` starts a new process and cluster
for every environment and round (it must: environments differ in packages and config). This
script takes daskbench out of the picture: per round, the shuffle-based groupby of
``perf/_workloads.py`` (2 workers x 1 thread, 4 GiB each) under ``dataframe.shuffle.method``
tasks and p2p (ABBA), timed

* **warm**: once per method on one long-lived cluster (warmed once per method first), and
* **fresh**: in a new Python process with a new cluster, as daskbench would run it: input
  persisted, ``--warmups`` executions, then three more, each timed.

Prints, per method, each fresh execution's median over the warm median.

    python perf/fresh_cluster.py --rounds 16 [--warmups 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import dask
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from _workloads import CLUSTER, METHODS, direct_abba, prepare_frame, run_groupby, seconds
from daskbench.ab._runner import abba_order

MORE = 3  # fresh executions after the warm-ups


def fresh(method: str, warmups: int) -> None:
    """In the child process: a new cluster, the input, every execution timed (JSON on stdout)."""
    with (
        dask.config.set({"dataframe.shuffle.method": method}),
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
        Client(cluster) as client,
    ):
        df = prepare_frame(client)
        times = [seconds(run_groupby, df) for _ in range(warmups + MORE)]
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--warmups", type=int, default=2)
    args = parser.parse_args()
    executions = args.warmups + MORE
    warm: dict[str, list[float]] = {m: [] for m in METHODS}
    new: dict[str, list[list[float]]] = {m: [[] for _ in range(executions)] for m in METHODS}
    started = time.perf_counter()
    with (
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
        Client(cluster) as client,
    ):
        measure = partial(seconds, run_groupby, prepare_frame(client))
        for r in range(args.rounds):
            for method, times in direct_abba(measure, 1, warm=r == 0, first=r).items():
                warm[method] += times
            for method in abba_order(METHODS, r):
                command = [sys.executable, __file__, "--child", method, str(args.warmups)]
                out = subprocess.run(command, capture_output=True, text=True, check=True)
                for i, value in enumerate(json.loads(out.stdout.strip().splitlines()[-1])):
                    new[method][i].append(value)
            print(
                f"  round {r + 1}/{args.rounds}: "
                + "; ".join(
                    f"{m} warm {warm[m][-1]:.2f} s, fresh "
                    + " ".join(f"{times[-1]:.2f}" for times in new[m])
                    for m in METHODS
                ),
                flush=True,
            )
    print(
        f"{args.rounds} rounds in {time.perf_counter() - started:.0f} s; groupby, fresh process "
        f"and cluster over the long-lived warm one, by execution ({args.warmups} warm-ups first)"
    )
    for method in METHODS:
        reference = statistics.median(warm[method])
        ratios = " ".join(f"{statistics.median(t) / reference:.3f}" for t in new[method])
        print(f"  {method:6} warm median {reference:.3f} s; fresh 1-{executions}: {ratios}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        fresh(sys.argv[2], int(sys.argv[3]))
    else:
        main()
