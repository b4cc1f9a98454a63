"""The ``daskbench`` command end to end, by subprocess, on real clusters and SQLite files."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _daskbench_cli import daskbench

from daskbench.store import open_store

BENCH = textwrap.dedent(
    '''
    import dask.array as da


    def test_array_sum(client, benchmark):
        """Sum of a persisted random array."""
        x = da.random.random((1000, 1000), chunks=250).persist()
        with benchmark():
            total = x.sum().compute()
        benchmark.record("elements_per_s", x.size / benchmark.wall_time, unit="1/s",
                         lower_is_better=False)
        assert 0.45 < total / x.size < 0.55


    def test_many_futures(client, benchmark):
        """Round trip of 200 small futures."""
        with benchmark():
            total = sum(client.gather(client.map(lambda i: i + 1, range(200))))
        assert total == 20100
    '''
)
FAILING = textwrap.dedent(
    '''
    def test_wrong_answer(client, benchmark):
        """Fast because it is wrong."""
        with benchmark():
            value = client.submit(lambda: 41).result()
        assert value == 42
    '''
)
LOCAL = ["--workers", "2", "--threads-per-worker", "1", "--memory-limit", "1GiB"]


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "test_small.py").write_text(BENCH)
    return tmp_path


def test_run_repeat_then_export(bench_dir: Path) -> None:
    db = f"sqlite:///{bench_dir / 'x.db'}"
    # rounds and export are the subject here, not worker restarts (test_run_path has those)
    args = ["--repeat", "2", "--reset", "none", "--db", db, *LOCAL]
    proc = daskbench("run", "benchmarks", *args, cwd=bench_dir)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "test_array_sum" in proc.stdout
    assert "Traceback" not in proc.stderr

    exported = daskbench("export", "--db", db, "--format", "json", cwd=bench_dir)
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)
    assert sorted((r["test"], r["repeat"]) for r in records) == [
        ("test_array_sum", 0),
        ("test_array_sum", 1),
        ("test_many_futures", 0),
        ("test_many_futures", 1),
    ]
    # Round-robin: every benchmark once, then every benchmark again.
    assert [r["repeat"] for r in records] == [0, 0, 1, 1]
    for r in records:
        assert r["outcome"] == "passed"
        assert r["wall_time"] > 0
        assert r["peak_memory"] >= r["avg_memory"] > 0
        assert r["compute_time"] > 0
        assert r["n_tasks"] > 0
        assert r["dask_version"]
        assert r["distributed_version"]
        assert r["python_version"]
        assert r["label"] == "default"
        assert r["error"] is None
    assert all(r["elements_per_s"] > 0 for r in records if r["test"] == "test_array_sum")
    # A metric a benchmark did not record is null, never 0.
    assert all(r["elements_per_s"] is None for r in records if r["test"] == "test_many_futures")

    as_csv = daskbench("export", "--db", db, "--format", "csv", cwd=bench_dir)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 4
    assert {"run_id", "test", "wall_time", "elements_per_s"} <= set(rows[0])

    # daskbench noise reads the same runs: 2 repeats are too few to estimate a spread.
    noise = daskbench("noise", "--db", db, "--label", "default", "--format", "json",
                      cwd=bench_dir)  # fmt: skip
    assert noise.returncode == 0, noise.stderr
    doc = json.loads(noise.stdout)
    assert [(r["test"], r["n"], r["mde"]) for r in doc["rows"]] == [
        ("test_array_sum", 2, None),
        ("test_many_futures", 2, None),
    ]
    unknown = daskbench("noise", "--db", db, "--label", "nope", cwd=bench_dir)
    assert unknown.returncode != 0
    assert unknown.stderr.strip().splitlines() == [
        "daskbench: error: no runs with label 'nope' (labels: default)"
    ]


def test_failing_benchmark_is_recorded_and_fails_the_run(bench_dir: Path) -> None:
    (bench_dir / "benchmarks" / "test_failing.py").write_text(FAILING)
    db = f"sqlite:///{bench_dir / 'x.db'}"
    proc = daskbench("run", "benchmarks", "--db", db, "--label", "pr-42", *LOCAL, cwd=bench_dir)
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "failed test_wrong_answer (round 1): assert 41 == 42" in proc.stdout
    records = json.loads(daskbench("export", "--db", db, "--label", "pr-42", cwd=bench_dir).stdout)
    outcomes = {r["test"]: r["outcome"] for r in records}
    assert outcomes == {
        "test_array_sum": "passed",
        "test_many_futures": "passed",
        "test_wrong_answer": "failed",
    }
    wrong = next(r for r in records if r["test"] == "test_wrong_answer")
    assert wrong["wall_time"] is None
    assert "assert 41 == 42" in wrong["error"]


def test_list_shows_ids_and_first_docstring_line(bench_dir: Path) -> None:
    proc = daskbench("list", "benchmarks", cwd=bench_dir)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == [
        "test_array_sum     Sum of a persisted random array.",
        "test_many_futures  Round trip of 200 small futures.",
    ]
    filtered = daskbench("list", "benchmarks", "-k", "futures", cwd=bench_dir)
    assert filtered.stdout.splitlines() == ["test_many_futures  Round trip of 200 small futures."]


def test_shipped_suite_is_listed(tmp_path: Path) -> None:
    proc = daskbench("list", "--scale", "ci", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) >= 25
    assert any(line.startswith("test_shuffle[p2p]") for line in lines)
    assert all(len(line.split(None, 1)) == 2 for line in lines), "every benchmark has a docstring"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "benchmarks", "--db", "nosuch://x"], "nosuch://x"),
        (["run", "benchmarks", "--scale", "huge"], "'huge' is not one of"),
        (["run", "missing_dir"], "no such file or directory: missing_dir"),
        (["run", "benchmarks", "--cluster", "not a cluster"], "is not 'local'"),
        (["run", "benchmarks", "--repeat", "0"], "--repeat must be an integer >= 1"),
        (["run", "benchmarks", "--cluster", "nosuchmodule_x:make"], "cannot import"),
        (["export", "--db", "sqlite:///notes.db"], "notes.db"),
        (["export"], "Missing option '--db'"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(bench_dir: Path, args: list[str], message: str) -> None:
    (bench_dir / "notes.db").write_text("not a database at all\n" * 100)
    before = (bench_dir / "notes.db").read_bytes()
    proc = daskbench(*args, cwd=bench_dir, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("daskbench: error: ")
    assert message in lines[0]
    assert (bench_dir / "notes.db").read_bytes() == before
    default_db = bench_dir / "daskbench.db"
    if default_db.exists():  # opened before the cluster failed: it must hold no run
        with open_store(f"sqlite:///{default_db}") as store:
            assert store.runs() == []


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    proc = daskbench("db", "upgrade", "--db", db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "at revision" in proc.stdout
    with open_store(db) as store:
        assert store.runs() == []


@pytest.fixture
def real_scheduler(tmp_path: Path) -> Iterator[str]:
    """A real ``dask scheduler`` and ``dask worker`` (with nanny), as on a cluster."""
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [
        subprocess.Popen(
            [*dask, "--scheduler-file", str(sched_file), "--port", "0", "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        procs.append(
            subprocess.Popen(
                [
                    *[sys.executable, "-m", "distributed.cli.dask_worker"],
                    "--scheduler-file",
                    str(sched_file),
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "1GiB",
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield json.loads(sched_file.read_text())["address"]
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_run_on_an_existing_scheduler(bench_dir: Path, real_scheduler: str) -> None:
    db = f"sqlite:///{bench_dir / 'x.db'}"
    proc = daskbench("run", "benchmarks", "--db", db, "--cluster", real_scheduler, cwd=bench_dir)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    with open_store(db) as store:
        (run,) = store.runs()
        results = store.results(run_id=run.id)
    assert [r.outcome.value for r in results] == ["passed", "passed"]
    assert run.environment.cluster["kind"] == "address"
    assert run.environment.cluster["workers"] == 1
    # daskbench does not own this cluster: it is still running afterwards.
    from distributed import Client

    with Client(real_scheduler, timeout=10) as client:
        assert len(client.scheduler_info()["workers"]) == 1


def test_run_with_a_cluster_factory(bench_dir: Path) -> None:
    (bench_dir / "myclusters.py").write_text(
        "from distributed import LocalCluster\n\n"
        "def make():\n"
        "    return LocalCluster(n_workers=1, threads_per_worker=1, memory_limit='1GiB',\n"
        "                        dashboard_address=None)\n"
    )
    db = f"sqlite:///{bench_dir / 'x.db'}"
    proc = daskbench(
        "run",
        "benchmarks",
        "-k",
        "futures",
        "--db",
        db,
        "--cluster",
        "myclusters:make",
        cwd=bench_dir,
        env={"PYTHONPATH": str(bench_dir)},
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    with open_store(db) as store:
        (run,) = store.runs()
    assert run.environment.cluster["kind"] == "factory"
    assert run.environment.cluster["target"] == "myclusters:make"


def test_interrupted_run_keeps_finished_results(bench_dir: Path) -> None:
    (bench_dir / "benchmarks" / "test_zz_slow.py").write_text(
        "import os\n"
        "import time\n"
        "from pathlib import Path\n\n"
        "def test_zz_forever(client, benchmark):\n"
        "    with benchmark():\n"
        "        Path(os.environ['INSIDE']).touch()\n"
        "        time.sleep(600)\n"
    )
    db_path = bench_dir / "x.db"
    inside = bench_dir / "inside"
    command = [sys.executable, "-m", "daskbench.cli", "run", "benchmarks"]
    proc = subprocess.Popen(
        # restarts are not the subject (test_run_path's signal tests interrupt with them)
        [*command, "--db", f"sqlite:///{db_path}", "--reset", "none", *LOCAL],
        cwd=bench_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "INSIDE": str(inside)},
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not inside.exists():  # the slow one started
            time.sleep(0.2)
        with open_store(f"sqlite:///{db_path}") as store:
            finished = [r.test for r in store.results()]
        assert sorted(finished) == ["test_array_sum", "test_many_futures"]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in err
    with open_store(f"sqlite:///{db_path}") as store:
        (run,) = store.runs()
        results = store.results(run_id=run.id)
    assert {r.test: r.outcome.value for r in results if r.test != "test_zz_forever"} == {
        "test_array_sum": "passed",
        "test_many_futures": "passed",
    }
