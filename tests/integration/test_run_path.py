"""``daskbench run`` as CI sees it: health gate, executions, order, signals, logs, failures.

Every test starts the real CLI in a subprocess on a real LocalCluster (or real ``dask
scheduler`` / ``dask worker`` processes) and reads the SQLite file it wrote.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from _daskbench_cli import daskbench as run_daskbench

from daskbench.models import Outcome, RunStatus
from daskbench.store import open_store

LOCAL = ["--workers", "2", "--threads-per-worker", "1", "--memory-limit", "1GiB"]

HEALTH = textwrap.dedent(
    '''
    import os
    import time


    def test_a_kills_a_worker(client, benchmark):
        """A task takes one worker down (as a segfault or the OOM killer would)."""
        victim = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
        with benchmark():
            # A lambda travels by value: workers need not import this file.
            doomed = client.submit(
                lambda: os._exit(1), pure=False, workers=[victim], allow_other_workers=False
            )
            # The task never finishes (only its dead worker may run it): the block ends
            # once the scheduler has seen that worker leave.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if victim not in client.scheduler_info(n_workers=-1)["workers"]:
                    break
                time.sleep(0.05)
            del doomed


    def test_b_counts_workers(client, benchmark):
        """Records how many workers it ran on."""
        with benchmark():
            n = len(client.scheduler_info(n_workers=-1)["workers"])
        benchmark.record("seen_workers", n, "count")
    '''
)

QUICK = textwrap.dedent(
    '''
    import os
    from pathlib import Path


    def test_quick(client, benchmark):
        """A tiny block; every call of the function is counted in a file."""
        calls = Path(os.environ["CALLS_FILE"])
        calls.write_text(str(int(calls.read_text() or 0) + 1) if calls.exists() else "1")
        with benchmark():
            client.submit(sum, [1, 2, 3], pure=False).result()
    '''
)

ORDERED = textwrap.dedent(
    """
    import pytest


    @pytest.mark.parametrize("i", range(6))
    def test_n(client, benchmark, i):
        with benchmark():
            client.submit(abs, -i, pure=False).result()
    """
)


def daskbench(*args: str, timeout: float = 600, **kwargs: Any) -> CompletedProcess[str]:
    return run_daskbench(*args, timeout=timeout, **kwargs)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "benchmarks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_no_benchmark_is_measured_on_a_degraded_cluster(tmp_path: Path) -> None:
    """After a worker dies, the next benchmark runs on the whole cluster again, or not at all."""
    _write(tmp_path, "test_health.py", HEALTH)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = daskbench("run", "benchmarks", "--db", db, "--repeat", "2", *LOCAL, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the killing benchmark failed
    with open_store(db) as store:
        results = store.results()
    counted = [r for r in results if r.test == "test_b_counts_workers"]
    assert len(counted) == 2
    for result in counted:
        if result.outcome is Outcome.PASSED:
            assert result.metrics["seen_workers"] == 2
            assert (result.workers, result.threads) == (2, 2)
        else:  # never passed on fewer workers: an error that says why
            assert result.outcome is Outcome.ERROR
            assert "degraded cluster" in (result.error or "")
    assert all(
        r.outcome is not Outcome.PASSED for r in results if r.test == "test_a_kills_a_worker"
    )


@pytest.fixture
def nanny_less_cluster(tmp_path: Path) -> Iterator[str]:
    """A real ``dask scheduler`` with two ``dask worker --no-nanny``: lost workers stay lost."""
    sched_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--port",
                "0",
                "--scheduler-file",
                str(sched_file),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        "--no-nanny",
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
        address = json.loads(sched_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_cluster_that_cannot_be_restored_makes_errors_not_results(
    tmp_path: Path, nanny_less_cluster: str
) -> None:
    _write(tmp_path, "test_health.py", HEALTH)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = daskbench(
        "run",
        "benchmarks",
        "--db",
        db,
        "--cluster",
        nanny_less_cluster,
        "--reset",
        "none",
        "--health-timeout",
        "1",  # nothing comes back here, however long it waits
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    with open_store(db) as store:
        (run,) = store.runs()
        results = {r.test: r for r in store.results()}
    counted = results["test_b_counts_workers"]
    assert counted.outcome is Outcome.ERROR
    assert (counted.error or "").startswith("degraded cluster: 1 of 2 workers")
    assert counted.workers == 1
    assert counted.measurements == ()
    assert run.status is RunStatus.COMPLETED


def test_warmups_and_min_time_executions(tmp_path: Path) -> None:
    _write(tmp_path, "test_quick.py", QUICK)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    calls = tmp_path / "calls"
    env = {"CALLS_FILE": str(calls)}
    args = ["run", "benchmarks", "--db", db, *LOCAL]
    proc = daskbench(*args, "--warmup", "2", "--label", "once", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls.read_text() == "3"  # two warm-ups, one measured execution
    proc = daskbench(
        *args,
        *("--min-time", "0.3", "--repeat", "2", "--label", "min"),
        *("--warmup", "0", "--reset", "none"),  # neither is the subject of this run
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open_store(db) as store:
        (once,) = store.results(label="once")
        executions = store.results(label="min")
    assert (once.repeat, once.execution) == (0, 0)
    for rnd in (0, 1):
        mine = [r for r in executions if r.repeat == rnd]
        assert [r.execution for r in mine] == list(range(len(mine)))
        assert len(mine) >= 2  # a tiny block cannot fill 0.3 s once
        assert sum(r.metrics["wall_time"] for r in mine) >= 0.3
        assert sum(r.metrics["wall_time"] for r in mine[:-1]) < 0.3  # and stops once it has
    # the log line says how many executions the median is over
    assert "(median of" in proc.stdout


MARKED = textwrap.dedent(
    """
    import pytest


    @pytest.mark.min_executions(3)
    def test_thrice(client, benchmark):
        with benchmark():
            client.submit(sum, [1, 2, 3], pure=False).result()


    def test_once(client, benchmark):
        with benchmark():
            client.submit(sum, [1, 2, 3], pure=False).result()
    """
)


def test_min_executions_marker_is_a_benchmarks_own_floor(tmp_path: Path) -> None:
    path = _write(tmp_path, "test_marked.py", MARKED)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["run", "benchmarks", *LOCAL, "--warmup", "0", "--reset", "none", "--repeat", "2"]
    proc = daskbench(*args, "--db", db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open_store(db) as store:
        results = store.results()
    for test, n in [("test_thrice", 3), ("test_once", 1)]:
        for rnd in (0, 1):
            mine = [r.execution for r in results if r.test == test and r.repeat == rnd]
            assert mine == list(range(n)), (test, rnd, mine)

    # A bad declaration stops the run before anything is created, in one line.
    path.write_text(MARKED.replace("min_executions(3)", "min_executions(0)"))
    bad = tmp_path / "bad.db"
    proc = daskbench(*args, "--db", f"sqlite:///{bad}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert "test_thrice: min_executions takes one integer from 1 to 100, got min_executions(0)" in (
        " ".join(output.split())
    )
    assert "Traceback" not in output
    assert not bad.exists()


def _order(db: str, label: str) -> list[str]:
    with open_store(db) as store:
        return [r.test for r in store.results(label=label)]


def test_order_file_reverse_random(tmp_path: Path) -> None:
    _write(tmp_path, "test_ordered.py", ORDERED)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    # Order is decided at collection: restarting workers between benchmarks is not the subject.
    base = ["run", "benchmarks", "--db", db, "--warmup", "0", "--reset", "none", *LOCAL]
    for label, extra in [
        ("file", []),
        ("reverse", ["--order", "reverse"]),
        ("random", ["--order", "random", "--seed", "11", "--repeat", "2"]),
        ("again", ["--order", "random", "--seed", "11", "--repeat", "2"]),
    ]:
        proc = daskbench(*base, "--label", label, *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [f"test_n[{i}]" for i in range(6)]
    assert _order(db, "file") == names
    assert _order(db, "reverse") == names[::-1]
    shuffled = _order(db, "random")
    assert shuffled == _order(db, "again")  # the seed reproduces the order
    assert sorted(shuffled[:6]) == sorted(shuffled[6:]) == names
    assert shuffled[:6] != names or shuffled[6:] != names
    with open_store(db) as store:
        (run,) = store.runs(label="random")
    assert run.environment.extra["seed"] == 11
    assert run.environment.extra["order"] == "random"


SLOW = textwrap.dedent(
    """
    import os
    import time
    from pathlib import Path


    def test_a_quick(client, benchmark):
        with benchmark():
            client.submit(abs, -1, pure=False).result()


    def test_b_forever(client, benchmark):
        with benchmark():
            Path(os.environ["INSIDE"]).touch()
            time.sleep(600)
    """
)


def _run_until_second_benchmark(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    _write(tmp_path, "test_slow.py", SLOW)
    db_path = tmp_path / "x.db"
    inside = tmp_path / "inside"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daskbench.cli",
            "run",
            "benchmarks",
            "--db",
            f"sqlite:///{db_path}",
            *LOCAL,
        ],
        env={**os.environ, "INSIDE": str(inside)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, like a CI job
    )
    deadline = time.monotonic() + 300
    while not inside.exists() and time.monotonic() < deadline:  # in the endless block
        time.sleep(0.5)
    time.sleep(1)
    return proc, db_path


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_keep_finished_results(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    proc, db_path = _run_until_second_benchmark(tmp_path)
    try:
        # As CI cancels a job (SIGTERM to the process), or as Ctrl-C does (SIGINT to the
        # whole process group, worker processes included).
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert "Traceback" not in err, err
    assert "interrupted" in err
    with open_store(f"sqlite:///{db_path}") as store:
        (run,) = store.runs()
        results = store.results()
    assert run.status is RunStatus.INTERRUPTED
    assert run.finished_at is not None
    # Every benchmark that started has a result: the one cut short says so.
    assert [(r.test, r.outcome) for r in results] == [
        ("test_a_quick", Outcome.PASSED),
        ("test_b_forever", Outcome.ERROR),
    ]
    assert results[1].error == f"interrupted ({sig.name}) during this benchmark"


def test_logs_say_what_runs(tmp_path: Path) -> None:
    """Off a terminal (CI), a line when each benchmark starts and ends."""
    _write(tmp_path, "test_ordered.py", ORDERED)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = daskbench("run", "benchmarks", "-k", "0 or 1", "--db", db, *LOCAL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("[1/2] start test_n[0] (round 1/1)")
    assert lines[start + 1].startswith("[1/2] passed test_n[0] (round 1/1) in ")
    assert lines[start + 2] == "[2/2] start test_n[1] (round 1/1)"
    assert lines[start + 3].startswith("[2/2] passed test_n[1] (round 1/1) in ")


def test_nothing_is_written_when_the_cluster_cannot_be_had(tmp_path: Path) -> None:
    _write(tmp_path, "test_ordered.py", ORDERED)
    for cluster, message in [
        ("tcp://127.0.0.1:9", "cannot connect to cluster"),
        ("nosuchmodule_x:make", "cannot import 'nosuchmodule_x'"),
    ]:
        proc = daskbench(
            "run",
            "benchmarks",
            "--db",
            "sqlite:///x.db",
            "--cluster",
            cluster,
            cwd=tmp_path,
            # Dask's connect timeout, which daskbench honours: 2 s, not 30 s, of knocking
            env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not (tmp_path / "x.db").exists()


CORRUPTING = textwrap.dedent(
    """
    import os
    import sqlite3


    def test_a_fine(client, benchmark):
        with benchmark():
            client.submit(abs, -1, pure=False).result()


    def test_b_breaks_the_database(client, benchmark):
        with benchmark():
            client.submit(abs, -2, pure=False).result()
        # From now on every write fails, as on a failing disk.
        with sqlite3.connect(os.environ["DB_FILE"]) as db:
            db.execute(
                "CREATE TRIGGER IF NOT EXISTS broken BEFORE INSERT ON results "
                "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
            )
    """
)


def test_a_failing_store_stops_the_run_with_its_cause_and_loses_nothing(tmp_path: Path) -> None:
    _write(tmp_path, "test_corrupting.py", CORRUPTING)
    db_path = tmp_path / "x.db"
    proc = daskbench(
        "run",
        "benchmarks",
        "--db",
        f"sqlite:///{db_path}",
        *LOCAL,
        cwd=tmp_path,
        env={"DB_FILE": str(db_path)},
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("daskbench: error: ")
    assert str(db_path) in error, error
    assert "simulated disk failure" in error, error
    assert "pytest could not run" not in proc.stderr
    (unsaved,) = tmp_path.glob("daskbench-unsaved-*.json")
    assert str(unsaved) in proc.stdout.replace("\n", "")
    (record,) = json.loads(unsaved.read_text())
    assert record["test"] == "test_b_breaks_the_database"
    assert record["outcome"] == "passed"
    assert record["wall_time"] > 0
    with sqlite3.connect(db_path) as db:
        assert db.execute("select test from results").fetchall() == [("test_a_fine",)]
        (status,) = db.execute("select status from runs").fetchone()
    assert status == "stopped"  # never "completed": an error stopped it
