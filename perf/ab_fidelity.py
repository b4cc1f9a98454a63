"""Is a daskbench measurement what a direct measurement of the same code shows?

For three workloads (a dataframe shuffle, a shuffle-based groupby, an array reduction;
``perf/_workloads.py``), side by side on identical LocalClusters (2 workers x 1 thread,
4 GiB each):

* **direct**: plain dask in one warm process: each workload's input is persisted, the code
  runs once per method to warm up, then N rounds alternate ``dataframe.shuffle.method``
  tasks and p2p (ABBA), timing ``run()`` with ``time.perf_counter``;
* **daskbench**: ``daskbench ab tasks.yaml p2p.yaml --repeat N`` on the same code written as
  benchmarks, with daskbench's defaults (fresh process per environment and round, workers
  restarted before every benchmark, one warm-up execution).

Prints, per workload, daskbench's median wall time over the direct median for each method
(goal <= 1.05), and the A/B ratio p2p/tasks with its 95% interval from both (paired by round;
goal: daskbench's interval contains the direct estimate).

    python perf/ab_fidelity.py --rounds 10 [--ab-options "--reset none"]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from _workloads import BENCHMARKS, METHODS, WORKLOADS, direct_abba
from daskbench.stats import compare

CLUSTER = {"n_workers": 2, "threads_per_worker": 1, "memory_limit": "4GiB"}


def _seconds(run: Callable[[Any], Any], data: Any) -> float:
    start = time.perf_counter()
    run(data)
    return time.perf_counter() - start


def direct(names: list[str], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per workload and method, the wall times of ``rounds`` warm, interleaved runs."""
    times: dict[str, dict[str, list[float]]] = {}
    with (
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,  # type: ignore[arg-type]
        Client(cluster) as client,
    ):
        for name in names:
            prepare, run = WORKLOADS[name]
            data = prepare(client)
            times[name] = direct_abba(partial(_seconds, run, data), rounds)
            del data
    return times


def write_bench(where: Path, names: list[str]) -> Path:
    bench = where / "bench"
    bench.mkdir()
    shutil.copy(Path(__file__).parent / "_workloads.py", bench / "_workloads.py")
    (bench / "test_workloads.py").write_text(BENCHMARKS.format(names=names))
    for method in METHODS:
        (where / f"{method}.yaml").write_text(
            f"name: {method}\nconfig: {{dataframe.shuffle.method: {method}}}\n"
        )
    return bench


def daskbench_ab(
    names: list[str],
    rounds: int,
    extra: list[str],
    env: dict[str, str] | None = None,
    metrics: tuple[str, ...] = ("wall_time",),
) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of report.json of ``daskbench ab tasks.yaml p2p.yaml``: (workload, metric) -> row."""
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        bench = write_bench(where, names)
        out = where / "out"
        command = [
            sys.executable,
            "-m",
            "daskbench.cli",
            "ab",
            str(where / "tasks.yaml"),
            str(where / "p2p.yaml"),
            "--bench",
            str(bench),
            "--repeat",
            str(rounds),
            "--workers",
            "2",
            "--threads-per-worker",
            "1",
            "--memory-limit",
            "4GiB",
            *[arg for metric in metrics for arg in ("--metric", metric)],
            "--out",
            str(out),
            *extra,
        ]
        proc = subprocess.run(
            command, cwd=where, capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode not in (0, 1):
            sys.exit(f"daskbench ab failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        report = json.loads((out / "report.json").read_text())
    return {
        (row["test"].removeprefix("test_workload[").removesuffix("]"), row["metric"]): row
        for row in report["rows"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument(
        "--ab-options",
        default="",
        help='extra options of daskbench ab, e.g. "--reset none --warmup 2"',
    )
    args = parser.parse_args()
    names = list(args.workloads)

    t0 = time.perf_counter()
    measured_directly = direct(names, args.rounds)
    t1 = time.perf_counter()
    rows = daskbench_ab(names, args.rounds, shlex.split(args.ab_options))
    t2 = time.perf_counter()

    options = f" (ab options: {args.ab_options})" if args.ab_options else ""
    print(
        f"{args.rounds} rounds; direct loop {t1 - t0:.0f} s, daskbench ab {t2 - t1:.0f} s{options}"
    )
    print(
        f"{'workload':10} {'method':6} {'direct':>9} {'daskbench':>10} {'ratio':>6}   "
        f"{'A/B p2p/tasks: direct [95% CI]':34} {'daskbench [95% CI]':26} contains"
    )
    for name in names:
        row = rows[name, "wall_time"]
        a, b = row["a"], row["b"]  # per round: tasks (A) and p2p (B)
        d = measured_directly[name]
        mine = compare(d["tasks"], d["p2p"], paired=True)
        inside = row["ci_low"] <= mine.ratio <= row["ci_high"]
        for i, method in enumerate(METHODS):
            ours = statistics.median(a if method == "tasks" else b)
            theirs = statistics.median(d[method])
            ab_text = (
                f"{mine.ratio:.3f} [{mine.ci_low:.3f}, {mine.ci_high:.3f}]"
                if i == 0
                else f"({mine.verdict})"
            )
            cmp_text = (
                f"{row['ratio']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
                if i == 0
                else f"({row['verdict']})"
            )
            print(
                f"{name if i == 0 else '':10} {method:6} {theirs:8.3f}s {ours:9.3f}s "
                f"{ours / theirs:6.3f}   {ab_text:34} {cmp_text:26} "
                f"{('yes' if inside else 'NO') if i == 0 else ''}"
            )


if __name__ == "__main__":
    main()
