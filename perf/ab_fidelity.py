"""Is a daskbench measurement what a direct measurement of the same code shows?

For three workloads (a dataframe shuffle, a shuffle-based groupby, an array reduction;
``perf/_workloads.py``), side by side on identical LocalClusters (2 workers x 1 thread,
4 GiB each), *interleaved round by round* so that both see the same machine:

* **direct**: plain dask, in a process of its own every round: a new cluster, each
  workload's input persisted, the code run once per method to warm up, then ``run()`` timed
  with ``time.perf_counter`` under ``dataframe.shuffle.method`` tasks and p2p (ABBA);
* **daskbench**: after each direct round, one round of ``daskbench ab tasks.yaml p2p.yaml``
  (``--repeat 1``, the two specs swapped every other round: ABBA again) on the same code
  written as benchmarks, with daskbench's defaults (fresh process per environment and
  round, workers restarted before every benchmark, two warm-up executions). The rounds go to
  one database and ``daskbench compare`` pairs them by round.

Nothing of one side is alive while the other measures. (Until this was so, the direct loop
kept its cluster, idle, through daskbench's rounds: an idle LocalCluster of 2 workers takes
~21% of a core here and made the groupby next to it 1.18x slower, ``perf/fresh_cluster.py``;
it was most of the gap once put down to fresh clusters.)

This host changes speed by ~1.4x every few seconds to minutes (``perf/host_noise.py``): two
phases measured one after the other (all direct rounds, then all daskbench rounds) compare
two different machines; interleaved, both medians sample the same ones.

Prints, per workload, daskbench's median wall time over the direct median for each method
(goal <= 1.05), and the A/B ratio p2p/tasks with its 95% interval from both (paired by round;
goal: daskbench's interval contains the direct estimate).

    python perf/ab_fidelity.py --rounds 10 [--ab-options "--reset none"] [--workloads groupby]
                               [--direct-restart]

``--direct-restart`` makes the direct loop follow daskbench's protocol by hand: before each
workload and method the workers are restarted, only that workload's input is persisted and it
runs twice unmeasured. Without it, one cluster holds every workload's input and runs them all,
which made the p2p groupby's median about 5% slower here (1.84 s against 1.74-1.80 s).
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
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import dask
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from _workloads import (
    BENCHMARKS,
    CLUSTER,
    METHODS,
    WORKLOADS,
    child_json,
    direct_abba,
    seconds,
)
from daskbench.ab._runner import abba_order
from daskbench.stats import compare


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


def _daskbench(where: Path, *args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "daskbench.cli", *args]
    proc = subprocess.run(command, cwd=where, capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 1):
        what = shlex.join(args[:1])
        sys.exit(f"daskbench {what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _ab(
    where: Path,
    bench: Path,
    methods: Sequence[str],
    repeat: int,
    out: Path,
    extra: list[str],
    *,
    metrics: Sequence[str] = ("wall_time",),
    env: dict[str, str] | None = None,
) -> None:
    """``daskbench ab`` of the method specs (in this order) on the workload benchmarks."""
    _daskbench(
        where,
        "ab",
        *[str(where / f"{method}.yaml") for method in methods],
        "--bench",
        str(bench),
        "--repeat",
        str(repeat),
        "--workers",
        str(CLUSTER["n_workers"]),
        "--threads-per-worker",
        str(CLUSTER["threads_per_worker"]),
        "--memory-limit",
        str(CLUSTER["memory_limit"]),
        *[arg for metric in metrics for arg in ("--metric", metric)],
        "--db",
        f"sqlite:///{where / 'ab.db'}",
        "--out",
        str(out),
        *extra,
        env=env,
    )


def _rows(report: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows of a report.json: (workload, metric) -> row."""
    rows = json.loads(report.read_text())["rows"]
    return {
        (row["test"].removeprefix("test_workload[").removesuffix("]"), row["metric"]): row
        for row in rows
    }


def daskbench_ab(
    names: list[str],
    rounds: int,
    extra: list[str],
    env: dict[str, str] | None = None,
    metrics: tuple[str, ...] = ("wall_time",),
) -> dict[tuple[str, str], dict[str, Any]]:
    """All rounds of ``daskbench ab tasks.yaml p2p.yaml`` in one call (``perf/isolation.py``):
    (workload, metric) -> report.json row."""
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        bench = write_bench(where, names)
        _ab(where, bench, METHODS, rounds, where / "out", extra, metrics=metrics, env=env)
        return _rows(where / "out" / "report.json")


def daskbench_round(where: Path, bench: Path, index: int, extra: list[str]) -> None:
    """One round of ``daskbench ab`` into ``where/ab.db``, the specs in ABBA order."""
    _ab(where, bench, abba_order(METHODS, index), 1, where / f"round{index:03d}", extra)


def daskbench_rows(where: Path) -> dict[str, dict[str, Any]]:
    """``daskbench compare`` of all rounds (paired by round): workload -> report.json row."""
    out = where / "compare"
    _daskbench(
        where,
        "compare",
        "--db",
        f"sqlite:///{where / 'ab.db'}",
        "--baseline",
        METHODS[0],
        "--candidate",
        METHODS[1],
        "--metric",
        "wall_time",
        "--out",
        str(out),
    )
    return {name: row for (name, _), row in _rows(out / "report.json").items()}


def direct_round(
    names: list[str], index: int, restart: bool = False
) -> dict[str, dict[str, list[float]]]:
    """One round of the direct loop, in a process of its own (``--direct-round``): its cluster
    is gone before daskbench's round starts."""
    args = ["--direct-round", str(index), "--workloads", *names]
    times: dict[str, dict[str, list[float]]] = child_json(
        __file__, *args, *(["--direct-restart"] if restart else [])
    )
    return times


def _direct_child(names: list[str], index: int) -> None:
    """In the child: a new cluster, the inputs, one warm-up per method, one ABBA round (JSON)."""
    with (
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
        Client(cluster) as client,
    ):
        data = {name: WORKLOADS[name][0](client) for name in names}
        got = {
            name: direct_abba(partial(seconds, WORKLOADS[name][1], data[name]), 1, first=index)
            for name in names
        }
    print(json.dumps(got))


def _direct_restart_child(names: list[str], index: int) -> None:
    """In the child, daskbench's protocol by hand: for each workload and method (ABBA), the
    workers restarted, only that workload's input persisted, two warm-ups, one timed run."""
    with (
        LocalCluster(dashboard_address=None, **CLUSTER) as cluster,
        Client(cluster) as client,
    ):
        got: dict[str, dict[str, list[float]]] = {name: {} for name in names}
        for name in names:
            prepare, run = WORKLOADS[name]
            for method in abba_order(METHODS, index):
                client.restart()
                data = prepare(client)
                with dask.config.set({"dataframe.shuffle.method": method}):
                    for _ in range(2):
                        run(data)
                    got[name][method] = [seconds(run, data)]
                del data
    print(json.dumps(got))


def interleaved(
    names: list[str], rounds: int, extra: list[str], restart: bool = False
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, Any]], float, float]:
    """Direct times per workload and method, daskbench's rows, and the seconds each took."""
    spent = {"direct": 0.0, "daskbench": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        bench = write_bench(where, names)
        times: dict[str, dict[str, list[float]]] = {n: {m: [] for m in METHODS} for n in names}
        for r in range(rounds):
            t0 = time.perf_counter()
            measured = []
            for name, got in direct_round(names, r, restart).items():
                for method in METHODS:
                    times[name][method] += got[method]
                    measured.append(f"{name} {method} {got[method][-1]:.2f}")
            t1 = time.perf_counter()
            daskbench_round(where, bench, r, extra)
            t2 = time.perf_counter()
            spent["direct"] += t1 - t0
            spent["daskbench"] += t2 - t1
            print(
                f"  round {r + 1}/{rounds}: direct {t1 - t0:.0f} s ({', '.join(measured)} s), "
                f"daskbench {t2 - t1:.0f} s"
            )
        rows = daskbench_rows(where)
    return times, rows, spent["direct"], spent["daskbench"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument(
        "--ab-options",
        default="",
        help='extra options of daskbench ab, e.g. "--reset none --warmup 2"',
    )
    parser.add_argument(
        "--direct-restart",
        action="store_true",
        help="the direct loop restarts the workers and persists only the workload's input "
        "before each method, with two warm-ups (daskbench's protocol, by hand)",
    )
    parser.add_argument("--direct-round", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct_round is not None:
        child = _direct_restart_child if args.direct_restart else _direct_child
        child(list(args.workloads), args.direct_round)
        return
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: a paired interval needs three rounds")
    names = list(args.workloads)

    measured_directly, rows, t_direct, t_daskbench = interleaved(
        names, args.rounds, shlex.split(args.ab_options), args.direct_restart
    )

    options = f" (ab options: {args.ab_options})" if args.ab_options else ""
    if args.direct_restart:
        options += " (direct loop: --direct-restart)"
    print(
        f"{args.rounds} interleaved rounds; direct loop {t_direct:.0f} s, "
        f"daskbench ab {t_daskbench:.0f} s{options}"
    )
    print(
        f"{'workload':10} {'method':6} {'direct':>9} {'daskbench':>10} {'ratio':>6}   "
        f"{'A/B p2p/tasks: direct [95% CI]':34} {'daskbench [95% CI]':26} contains"
    )
    for name in names:
        row = rows[name]
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
