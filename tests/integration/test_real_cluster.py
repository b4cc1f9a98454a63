"""``daskbench run`` against real multi-process clusters, and the cluster fingerprint it stores.

A ``dask scheduler`` and two ``dask worker`` processes (with nannies, so restarts work) on
loopback with random ports, as on a real cluster; every process is in its own session and
is killed with its children at the end, whatever happened. Then a ``module:callable``
factory that starts a real cluster (the way dask-kubernetes, dask-jobqueue or Coiled plug in).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dask
import distributed
import pytest

from daskbench.store import open_store

BENCH = textwrap.dedent(
    '''
    import dask.array as da


    def test_array_sum(client, benchmark):
        """Sum of a persisted random array."""
        x = da.random.random((400, 400), chunks=100).persist()
        with benchmark():
            total = x.sum().compute()
        assert 0.4 < total / x.size < 0.6


    def test_futures(client, benchmark):
        """Round trip of 50 small futures on both workers."""
        with benchmark():
            total = sum(client.gather(client.map(lambda i: i + 1, range(50))))
        assert total == 1275
    '''
)
FAKE_NUMBA = "Metadata-Version: 2.1\nName: numba\nVersion: 0.0.1\n"
START_TIMEOUT = 120.0


def daskbench(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "daskbench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process group (the nanny's worker too), then SIGKILL what is left."""
    for proc in procs:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group, e.g. the worker
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@contextmanager
def dask_cluster(
    tmp: Path, *, worker_paths: tuple[str | None, ...] = (None, None)
) -> Iterator[str]:
    """``dask scheduler`` + one ``dask worker`` per entry of ``worker_paths`` (a directory
    prepended to that worker's PYTHONPATH, or None); yields the scheduler address."""
    sched_file = tmp / "scheduler.json"
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(args: list[str], name: str, env: dict[str, str] | None = None) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dask", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **(env or {})},
                    start_new_session=True,  # its own process group: killed as a whole
                )
            )

    try:
        spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(sched_file), "--idle-timeout", "600"],
            "scheduler",
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        address = None
        while address is None:  # the file can exist before it is completely written
            assert procs[0].poll() is None, (logs / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
            with suppress(OSError, ValueError, KeyError):
                address = json.loads(sched_file.read_text())["address"]
        for i, path in enumerate(worker_paths):
            env = None
            if path is not None:
                env = {
                    "PYTHONPATH": os.pathsep.join(
                        filter(None, (path, os.environ.get("PYTHONPATH")))
                    )
                }
            spawn(
                ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--memory-limit",
                 "1GiB", "--no-dashboard", "--name", f"w{i}", "--death-timeout", "60"],
                f"worker-{i}",
                env,
            )  # fmt: skip
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(len(worker_paths), timeout=START_TIMEOUT)
        yield address
    finally:
        _stop(procs)


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "test_tiny.py").write_text(BENCH)
    return tmp_path


def stored_run(db: str):
    with open_store(db) as store:
        (run,) = store.runs()
        return run, store.results(run_id=run.id)


def check_fingerprint(cluster: dict, *, workers: int) -> None:
    assert cluster["workers"] == workers
    assert cluster["threads"] == workers
    assert cluster["memory_limit"] == workers * 2**30
    assert cluster["hosts"] == 1
    assert cluster["workers.python"] == platform.python_version()
    assert cluster["workers.packages.dask"] == dask.__version__
    assert cluster["workers.packages.distributed"] == distributed.__version__
    assert cluster["scheduler.python"] == platform.python_version()
    assert cluster["scheduler.packages.distributed"] == distributed.__version__
    assert cluster["workers.cpu_count"] == os.cpu_count()
    assert cluster["workers.memory_total"] > 2**30
    assert cluster["workers.cpu_model"]


def test_run_against_scheduler_and_two_worker_processes(bench_dir: Path) -> None:
    # The second worker sees a package the client and the first worker lack: a mismatch.
    fake = bench_dir / "fake-site"
    (fake / "numba-0.0.1.dist-info").mkdir(parents=True)
    (fake / "numba-0.0.1.dist-info" / "METADATA").write_text(FAKE_NUMBA)
    db = f"sqlite:///{bench_dir / 'x.db'}"
    with dask_cluster(bench_dir, worker_paths=(None, str(fake))) as address:
        proc = daskbench("run", "benchmarks", "--cluster", address, "--repeat", "2",
                         "--db", db, cwd=bench_dir)  # fmt: skip
        assert proc.returncode == 0, proc.stderr + proc.stdout
        with distributed.Client(address, timeout=30) as client:  # not ours: still running
            assert len(client.scheduler_info()["workers"]) == 2
    run, results = stored_run(db)
    assert sorted((r.test, r.repeat, r.outcome.value) for r in results) == [
        ("test_array_sum", 0, "passed"), ("test_array_sum", 1, "passed"),
        ("test_futures", 0, "passed"), ("test_futures", 1, "passed"),
    ]  # fmt: skip
    assert all(r.value("wall_time") > 0 for r in results)
    cluster = run.environment.cluster
    assert cluster["kind"] == "address"
    check_fingerprint(cluster, workers=2)

    # The mismatch: printed once as a warning, stored with the run, exported.
    expected = "numba: client missing; workers 0.0.1 ×1, missing ×1"
    assert proc.stderr.count("daskbench: warning: version mismatch:") == 1
    assert f"daskbench: warning: version mismatch: {expected}" in proc.stderr
    assert cluster["version_mismatches"] == [expected]
    assert cluster["workers.packages.numba"] == "0.0.1 ×1, missing ×1"

    exported = daskbench("export", "--db", db, "--format", "json", cwd=bench_dir)
    assert exported.returncode == 0, exported.stderr
    record = json.loads(exported.stdout)[0]
    assert record["cluster_workers"] == 2
    assert record["cluster_threads"] == 2
    assert record["cluster_memory_limit"] == 2 * 2**30
    assert record["worker_python_version"] == platform.python_version()
    assert record["worker_dask_version"] == dask.__version__
    assert record["worker_distributed_version"] == distributed.__version__
    assert record["version_mismatches"] == expected


FACTORY = textwrap.dedent(
    """
    from pathlib import Path

    from distributed import LocalCluster


    def make():
        # A real cluster: a scheduler and two worker processes with nannies.
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="1GiB",
                               processes=True, dashboard_address=None)
        Path("factory-address.txt").write_text(cluster.scheduler_address)
        return cluster
    """
)


def test_run_with_a_factory_that_starts_a_real_cluster(bench_dir: Path) -> None:
    (bench_dir / "mycluster.py").write_text(FACTORY)
    db = f"sqlite:///{bench_dir / 'x.db'}"
    path = os.pathsep.join(filter(None, (str(bench_dir), os.environ.get("PYTHONPATH"))))
    proc = daskbench("run", "benchmarks", "--cluster", "mycluster:make", "--db", db,
                     cwd=bench_dir, env={"PYTHONPATH": path})  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    run, results = stored_run(db)
    assert [r.outcome.value for r in results] == ["passed", "passed"]
    assert (run.environment.cluster["kind"], run.environment.cluster["target"]) == (
        "factory",
        "mycluster:make",
    )
    check_fingerprint(run.environment.cluster, workers=2)
    assert run.environment.cluster["version_mismatches"] == []
    assert "version mismatch" not in proc.stderr
    # daskbench created this cluster, so it closed it.
    address = (bench_dir / "factory-address.txt").read_text()
    with pytest.raises(OSError):
        distributed.Client(address, timeout=3)
