"""Instrumentation overhead: the same workload with and without daskbench measuring it.

Interleaved pairs (the order inside each pair alternates) on one LocalCluster; prints the
median ratio measured/bare of the workload's wall time. Two ratios per workload:

- in-block: wall time of the workload itself while measured (MemorySampler polling, span
  annotation, the scheduler plugin's per-task accounting, distributed's fine-grained
  metrics feeding the breakdown) vs. bare. This is what a
  benchmark's ``wall_time`` pays. Goal: under 1%.
- with set-up: plus opening/closing the measurement window, flushing heartbeats and
  computing the breakdown (activities, task prefixes, bytes), which happen outside the
  measured block but lengthen a run.

The breakdown is always on (every measured execution records it); the script checks that
each measured execution did record it, so the figures include its cost.

    python perf/overhead.py            # 15 pairs per workload
    python perf/overhead.py --pairs 30
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import dask
import dask.array as da
from distributed import Client, LocalCluster

from daskbench.measure import Benchmark
from daskbench.stats import compare


def many_small_tasks(client: Client) -> Callable[[], object]:
    x = da.random.random((4000, 4000), chunks=100).persist()  # 1,600 chunks
    client.wait_for_workers(1)
    return lambda: (x + 1).sum().compute()


def shuffle(client: Client) -> Callable[[], object]:
    df = dask.datasets.timeseries(end="2000-01-31", freq="1s", seed=1).persist()

    def run() -> object:
        with dask.config.set({"dataframe.shuffle.method": "p2p"}):
            return df.shuffle("id").x.sum().compute()

    return run


def futures(client: Client) -> Callable[[], object]:
    return lambda: sum(client.gather(client.map(lambda i: i + 1, range(3000), pure=False)))


def bare(work: Callable[[], object]) -> tuple[float, float]:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    return elapsed, elapsed


def measured(client: Client, work: Callable[[], object]) -> tuple[float, float]:
    bench = Benchmark(client)
    start = time.perf_counter()
    with bench():
        work()
    total = time.perf_counter() - start
    names = {m.metric for m in bench.measurements}
    if not {"activity.compute", "activity.idle", "prefix.other", "bytes.transfer"} <= names:
        raise SystemExit(f"the breakdown is missing from a measured execution: {sorted(names)}")
    return bench.wall_time, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit="4GiB", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"{args.pairs} interleaved pairs per workload, 2 workers x 1 thread")
        print(
            f"{'workload':18} {'bare median':>12} {'in-block ratio':>15} {'with set-up':>12}"
            "  in-block ratio, paired estimate [95% CI]"
        )
        for name, make in (
            ("many small tasks", many_small_tasks),
            ("p2p shuffle", shuffle),
            ("3000 futures", futures),
        ):
            work = make(client)
            work()  # warm up: imports, first compilation, plugin registration
            measured(client, work)
            in_block, with_setup, bare_times, measured_times = [], [], [], []
            for i in range(args.pairs):
                if i % 2 == 0:
                    b, _ = bare(work)
                    m_block, m_total = measured(client, work)
                else:
                    m_block, m_total = measured(client, work)
                    b, _ = bare(work)
                bare_times.append(b)
                measured_times.append(m_block)
                in_block.append(m_block / b)
                with_setup.append(m_total / b)
            # daskbench's own comparison: paired by pair, so slow drift of the machine cancels.
            c = compare(bare_times, measured_times, paired=True, threshold=0.01)
            print(
                f"{name:18} {statistics.median(bare_times):>11.3f}s "
                f"{statistics.median(in_block):>15.4f} {statistics.median(with_setup):>12.4f}"
                f"  {c.ratio:.4f} [{c.ci_low:.4f}, {c.ci_high:.4f}] {c.verdict}"
            )


if __name__ == "__main__":
    main()
