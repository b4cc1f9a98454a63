"""Soak test of the run path: benchmark executions with random faults, nothing lost.

N benchmarks (one execution each: ``--warmup 0``) on a LocalCluster of 2 workers; each one
draws its fault from a seeded generator:

==========  ================================================================================
none        a small computation (the majority)
exception   the block raises
kill        a task takes its worker down (``os._exit``), again on every retry
hang        a task sleeps past ``--timeout``
memory      a task allocates more than the worker's memory limit (the nanny kills it)
==========  ================================================================================

Every benchmark records how many workers it saw inside its block. Part way through, the run
is terminated with SIGTERM (as CI cancels a job) and the rest is resumed as a new run.
Prints executions attempted (started, from the log lines), recorded (results in the
database), lost (attempted but not recorded; goal 0), measured on a degraded cluster
(passed results that saw fewer workers than the run started with; goal 0), the outcomes per
fault, and SQLite's ``PRAGMA integrity_check``.

    python perf/soak.py --benchmarks 200
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

from daskbench.models import Outcome
from daskbench.store import open_store

FAULTS = {"none": 0.55, "exception": 0.1, "kill": 0.1, "hang": 0.1, "memory": 0.15}
MEMORY_LIMIT = "512MiB"
TIMEOUT = 8

BENCH = textwrap.dedent(
    """
    import os
    import random
    import time

    import pytest

    FAULTS = {faults!r}
    SEED = {seed}


    def fault_of(i):
        rng = random.Random(SEED * 100_003 + i)
        return rng.choices(list(FAULTS), weights=list(FAULTS.values()))[0]


    def _allocate(nbytes):
        block = bytearray(nbytes)
        block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
        time.sleep(5)
        return len(block)


    @pytest.mark.parametrize("i", range({n}))
    def test_fault(client, benchmark, i):
        fault = fault_of(i)
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        limit = min(w["memory_limit"] for w in workers)
        with benchmark():
            seen = len(client.scheduler_info(n_workers=-1)["workers"])
            if fault == "exception":
                raise RuntimeError("injected failure")
            if fault == "kill":
                client.submit(lambda: os._exit(1), pure=False).result()
            if fault == "hang":
                client.submit(time.sleep, 600, pure=False).result()
            if fault == "memory":
                client.submit(_allocate, int(limit * 1.3), pure=False).result()
            total = client.submit(sum, range(10_000), pure=False).result()
        benchmark.record("seen_workers", seen, "count")
        assert total == 49_995_000
    """
)


def fault_of(seed: int, i: int) -> str:
    rng = random.Random(seed * 100_003 + i)
    return rng.choices(list(FAULTS), weights=list(FAULTS.values()))[0]


def run(
    where: Path, db: str, ids: list[str], log: Path, stop_after: int | None
) -> tuple[int, float]:
    """Run ``ids``; with ``stop_after``, SIGTERM once that many results are stored."""
    command = [
        sys.executable,
        "-m",
        "daskbench.cli",
        "run",
        *ids,
        "--db",
        db,
        "--workers",
        "2",
        "--threads-per-worker",
        "1",
        "--memory-limit",
        MEMORY_LIMIT,
        "--timeout",
        str(TIMEOUT),
        "--warmup",
        "0",
    ]
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=where, stdout=out, stderr=subprocess.STDOUT)
        if stop_after is not None:
            path = Path(db.removeprefix("sqlite:///"))
            while proc.poll() is None:
                time.sleep(1)
                if path.exists():
                    with sqlite3.connect(path) as conn:
                        (count,) = conn.execute("select count(*) from results").fetchone()
                    if count >= stop_after:
                        proc.send_signal(signal.SIGTERM)
                        break
        code = proc.wait()
    return code, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stop-at", type=float, default=0.4, help="fraction before SIGTERM")
    args = parser.parse_args()
    n = args.benchmarks
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "bench").mkdir()
        bench = where / "bench" / "test_soak.py"
        bench.write_text(BENCH.format(faults=FAULTS, seed=args.seed, n=n))
        db_path = where / "soak.db"
        db = f"sqlite:///{db_path}"
        ids = [f"bench/test_soak.py::test_fault[{i}]" for i in range(n)]

        first_code, first_s = run(where, db, ids, where / "first.log", int(n * args.stop_at))
        with open_store(db, mode="read") as store:
            done = {r.test for r in store.results()}
        rest = [i for i in ids if i.split("::")[1] not in done]
        second_code, second_s = run(where, db, rest, where / "second.log", None)

        starts = re.compile(r"^\[\s*\d+/\d+\] start (\S+) \(round")
        attempted = [
            m.group(1)
            for log in ("first.log", "second.log")
            for line in (where / log).read_text().splitlines()
            if (m := starts.match(line))
        ]
        with open_store(db, mode="read") as store:
            runs = store.runs()
            results = store.results()
        with sqlite3.connect(db_path) as conn:
            (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()

    recorded = Counter(r.test for r in results)
    lost = [t for t in attempted if recorded[t] == 0]
    degraded = [
        r
        for r in results
        if r.outcome is Outcome.PASSED and (r.workers != 2 or r.metrics.get("seen_workers") != 2)
    ]
    never = [i for i in ids if i.split("::")[1] not in recorded]
    print(f"{n} benchmarks, seed {args.seed}, faults {FAULTS}")
    print(
        f"run 1: exit {first_code} after {first_s:.0f} s (SIGTERM at {args.stop_at:.0%}), "
        f"status {runs[0].status}; run 2: exit {second_code} after {second_s:.0f} s, "
        f"status {runs[-1].status}"
    )
    print(f"executions attempted: {len(attempted)}")
    print(f"recorded:             {len(results)}")
    print(f"lost:                 {len(lost)}  {lost[:5]}")
    print(f"never attempted:      {len(never)}")
    print(f"measured on a degraded cluster: {len(degraded)}")
    print(f"SQLite integrity_check: {integrity}")
    by_fault: dict[str, Counter[str]] = {}
    for r in results:
        index = int(r.test.removeprefix("test_fault[").removesuffix("]"))
        by_fault.setdefault(fault_of(args.seed, index), Counter())[r.outcome.value] += 1
    for fault in FAULTS:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(by_fault.get(fault, Counter()).items()))
        print(f"  {fault:10} {counts}")
    interrupted = [r for r in results if (r.error or "").startswith("interrupted")]
    print(f"  cut short by SIGTERM: {len(interrupted)} (recorded as error)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
