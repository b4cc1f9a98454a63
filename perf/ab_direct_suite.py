"""Do daskbench's verdicts on the shipped suite agree with a direct measurement of the same code?

A direct, warm, interleaved plain-dask measurement of shipped benchmarks under
``dataframe.shuffle.method`` tasks and p2p, to set beside ``daskbench ab tasks.yaml
p2p.yaml -m "dataframe or array"``. The benchmark functions of ``daskbench.suite`` are
called as plain functions on one LocalCluster with daskbench's defaults (``LocalCluster()``
sized to the machine, ``ci`` sizes): their set-up (inputs persisted) is not timed, and
their ``with benchmark():`` block is timed with ``time.perf_counter`` and nothing else (no
daskbench measuring, no restarts). After one warm-up call per method, ``--rounds`` rounds
alternate the methods (ABBA). Prints per benchmark the median time per method and the ratio
p2p/tasks with its 95% interval (paired by round, daskbench's own t test on the logs), and
with ``--report`` the ratio and interval daskbench's A/B reported beside it.

    python perf/ab_direct_suite.py --rounds 10 --report daskbench-out/ab/report.json [--timeout 300]

An execution that does not finish within ``--timeout`` seconds ends the script with one line
on stderr and exit code 3, its cluster's processes killed: plain dask's p2p shuffle has hung
on this long-lived cluster here three times in ``--rounds 30`` or ``40`` (dask and distributed
2026.8.0), each after 96-107 p2p shuffles, the last in ``test_set_index``, the scheduler's last
words a shuffle "deactivated due to stimulus 'task-finished-...'"; ``--rounds 10`` completes.
A perf script must not wait for ever.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psutil
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).parent))
from _workloads import direct_abba
from daskbench.stats import compare
from daskbench.suite import test_dataframe
from daskbench.suite._sizing import Sizing

#: The benchmarks of `-m "dataframe or array"` whose code shuffles through the configured
#: method (the others either do not shuffle or name their method explicitly).
BENCHMARKS = (
    "test_groupby_few_groups",
    "test_groupby_many_groups",
    "test_drop_duplicates",
    "test_set_index",
    "test_merge_big_big",
)


class _Timer:
    """Stands in for daskbench's ``benchmark`` fixture: times the block, nothing else."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds = time.perf_counter() - start


def _hung(name: str, timeout: float) -> None:
    """The watchdog's end: one line, the cluster's processes killed, exit code 3."""
    print(
        f"ab_direct_suite: {name} did not finish within {timeout:g} s (plain dask hung); "
        "no figures",
        file=sys.stderr,
        flush=True,
    )
    for child in psutil.Process().children(recursive=True):
        child.kill()
    os._exit(3)


def _timed(fn: Callable[..., None], client: Client, sizing: Sizing, timeout: float) -> float:
    """One call of a suite benchmark function; the seconds of its measured block."""
    timer = _Timer()
    watchdog = threading.Timer(timeout, _hung, (fn.__name__, timeout))
    watchdog.daemon = True
    watchdog.start()
    try:
        fn(client=client, benchmark=timer, sizing=sizing)
    finally:
        watchdog.cancel()
    return timer.seconds


def measure(rounds: int, timeout: float) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {}
    with (
        LocalCluster(dashboard_address=None, processes=True) as cluster,
        Client(cluster) as client,
    ):
        sizing = Sizing.from_client(client, "ci")
        for name in BENCHMARKS:
            fn = getattr(test_dataframe, name)
            times[name] = direct_abba(partial(_timed, fn, client, sizing, timeout), rounds)
    return times


def _reported(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    rows = json.loads(path.read_text())["rows"]
    return {r["test"]: r for r in rows if r["metric"] == "wall_time"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--report", type=Path, default=None, help="report.json of daskbench ab")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds one execution may take"
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.timeout <= 0:
        parser.error("--rounds must be >= 1 and --timeout > 0")
    reported = _reported(args.report)
    started = time.perf_counter()
    times = measure(args.rounds, args.timeout)
    print(
        f"direct warm loop, {args.rounds} rounds (ABBA) per benchmark, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(
        f"{'benchmark':26s} {'tasks':>8s} {'p2p':>8s}  {'direct p2p/tasks [95% CI]':28s} "
        f"{'daskbench p2p/tasks [95% CI]':30s} {'verdict':13s} contains"
    )
    for name in BENCHMARKS:
        a, b = times[name]["tasks"], times[name]["p2p"]
        c = compare(a, b, paired=True)
        direct = f"{c.ratio:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]"
        row = reported.get(name)
        ours, verdict, contains = "", "", ""
        if row is not None:
            ours = f"{row['ratio']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            verdict = str(row["verdict"])
            contains = "yes" if row["ci_low"] <= c.ratio <= row["ci_high"] else "no"
        print(
            f"{name:26s} {statistics.median(a):7.3f}s {statistics.median(b):7.3f}s  "
            f"{direct:28s} {ours:30s} {verdict:13s} {contains}"
        )


if __name__ == "__main__":
    main()
