"""``daskbench ab`` and ``daskbench compare`` as a user runs them: in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import open_store

TINY_BENCH = textwrap.dedent(
    '''
    def test_submit(client, benchmark):
        """One task round trip."""
        with benchmark():
            assert client.submit(sum, [1, 2, 3]).result() == 6


    def test_fails(client, benchmark):
        with benchmark():
            assert client.submit(lambda: 41).result() == 42
    '''
)


def daskbench(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daskbench.cli", *args],
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("name: b\npakages: [dask]\n", "b.yaml: pakages: unknown field"),
        ("name: b\ncluster: {workers: two}\n", "b.yaml: cluster.workers: expected an integer"),
        ("name: b\nenv: [X]\n", "b.yaml: env: expected a mapping"),
        ("name: a\n", "b.yaml: name: 'a' is also the name of a.yaml"),
        (
            "name: b\npackages: ['daskbench-no-such-package-xyz==0.0.1']\n",
            "b.yaml: packages: ",
        ),
    ],
)
def test_bad_spec_fails_before_running(tmp_path: Path, spec: str, expected: str) -> None:
    (tmp_path / "a.yaml").write_text("name: a\n")
    (tmp_path / "b.yaml").write_text(spec)
    (tmp_path / "bench.py").write_text("def test_never(benchmark):\n    raise SystemExit(1)\n")
    env_cache = tmp_path / "envs"
    proc = daskbench(
        "ab",
        "a.yaml",
        "b.yaml",
        "--bench",
        "bench.py",
        "--env-cache",
        str(env_cache),
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("daskbench: error: ")
    assert expected in lines[0]
    assert not (tmp_path / "daskbench-out" / "ab" / "logs").exists()  # nothing ran


def add_label(url: str, label: str, values: list[float]) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with open_store(url) as store:
        for i, v in enumerate(values):
            run = Run(
                id=f"{label}-{i}",
                label=label,
                started_at=t0 + timedelta(hours=i),
                environment=Environment(),
            )
            store.add_run(run)
            store.add_result(
                Result(
                    run_id=run.id,
                    test="test_x",
                    repeat=0,
                    outcome=Outcome.PASSED,
                    started_at=run.started_at,
                    finished_at=run.started_at + timedelta(seconds=v),
                    measurements=(Measurement("wall_time", v, "s"),),
                )
            )


def test_compare_existing_labels(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    add_label(url, "main", [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 1.0, 1.01])
    add_label(url, "branch", [1.5, 1.52, 1.48, 1.51, 1.49, 1.53, 1.5, 1.51])
    out = tmp_path / "rep"
    args = ["compare", "--db", url, "--baseline", "main", "--candidate", "branch"]
    proc = daskbench(*args, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "branch vs main: 1 regressed" in proc.stdout
    assert (out / "index.html").read_text().count("<svg") >= 1
    report = json.loads((out / "report.json").read_text())
    assert report["rows"][0]["verdict"] == "regressed"
    assert report["paired"] is False
    assert (out / "report.md").read_text().startswith("### daskbench compare")
    failing = daskbench(*args, "--out", str(out), "--fail-on-regression", cwd=tmp_path)
    assert failing.returncode == 1
    missing = daskbench(
        "compare", "--db", url, "--baseline", "main", "--candidate", "nope", cwd=tmp_path
    )
    assert missing.returncode == 2
    assert "no runs with label 'nope'" in missing.stderr


def test_ab_end_to_end_current_environment(tmp_path: Path) -> None:
    (tmp_path / "bench_tiny.py").write_text(TINY_BENCH)
    (tmp_path / "base.yaml").write_text("name: base\n")
    (tmp_path / "cand.yaml").write_text(
        "name: cand\nconfig: {distributed.scheduler.worker-saturation: 1.5}\nenv: {AB_FLAG: '1'}\n"
    )
    proc = daskbench(
        "ab",
        "base.yaml",
        "cand.yaml",
        "--bench",
        "bench_tiny.py",
        "--repeat",
        "2",
        "--confirm",
        "--confirm-rounds",
        "1",
        "--reset",
        "none",
        "--workers",
        "1",
        "--threads-per-worker",
        "1",
        "--out",
        "out",
        cwd=tmp_path,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cand vs base:" in proc.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["paired"] is True
    assert report["rounds"] == 3
    rows = {(r["test"], r["metric"]): r for r in report["rows"]}
    submit = rows[("test_submit", "wall_time")]
    # 3 rounds can never be significant: honest "inconclusive", no guess.
    assert submit["verdict"] == "inconclusive"
    assert submit["n_a"] == 3  # 2 rounds + 1 confirmation round of the inconclusive one
    assert submit["confirmed"] is True
    assert report["confirmed"] == ["test_submit"]
    assert rows[("test_fails", "wall_time")]["verdict"] == "not compared"
    assert rows[("test_fails", "wall_time")]["failed_b"] == 2
    with open_store(f"sqlite:///{tmp_path}/out/ab.db") as store:
        runs = store.runs()
    assert [(r.label, r.environment.extra["round"]) for r in runs] == [
        ("base", 0),
        ("cand", 0),
        ("cand", 1),
        ("base", 1),  # ABBA
        ("base", 2),
        ("cand", 2),
    ]
    cand = next(r for r in runs if r.label == "cand")
    assert cand.environment.dask_config["distributed.scheduler.worker_saturation"] == 1.5
    # ab's own --min-time default (1 s) reached every run: the one-task block executed
    # again until a second was measured (a plain run measures it once per round).
    with open_store(f"sqlite:///{tmp_path}/out/ab.db") as store:
        submits = store.results(run_id=cand.id, test="test_submit")
    measured = sum(r.value("wall_time") or 0.0 for r in submits)
    assert len(submits) > 1
    assert measured >= 1.0 or len(submits) == 100  # (at most 100 executions per round)
    assert (tmp_path / "out" / "report.md").read_text().startswith("### daskbench A/B")


SEQUENTIAL_BENCH = textwrap.dedent(
    '''
    import os
    import time


    def test_sum(client, benchmark):
        """B sleeps 10x as long inside the measured block: a large, steady effect."""
        delay = float(os.environ.get("AB_DELAY", "0.05"))
        with benchmark():
            time.sleep(delay)
            assert client.submit(sum, [1, 2, 3]).result() == 6


    def test_quiet(client, benchmark):
        with benchmark():
            assert client.submit(sum, [1, 2]).result() == 3
    '''
)


@pytest.mark.slow
def test_ab_max_repeat_adds_rounds_only_where_undecided(tmp_path: Path) -> None:
    (tmp_path / "bench_seq.py").write_text(SEQUENTIAL_BENCH)
    (tmp_path / "a.yaml").write_text("name: a\n")
    (tmp_path / "b.yaml").write_text("name: b\nenv: {AB_DELAY: '0.5'}\n")
    proc = daskbench(
        "ab",
        "a.yaml",
        "b.yaml",
        "--bench",
        "bench_seq.py",
        "-k",
        "test_sum or test_quiet",
        "--repeat",
        "3",
        "--max-repeat",
        "5",
        "--metric",
        "wall_time",
        "--warmup",
        "0",  # not the subject: B's 0.5 s sleep once per round instead of twice
        "--reset",
        "none",
        "--workers",
        "1",
        "--threads-per-worker",
        "1",
        "--out",
        "out",
        cwd=tmp_path,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rows = {r["test"]: r for r in report["rows"]}
    assert set(rows) == {"test_sum", "test_quiet"}
    slow = rows["test_sum"]
    # Much slower in every round: decided (3 pairs can just give the e-value of 40 a lone
    # change in a family of 2 needs), using no rounds after the decision.
    assert slow["verdict"] == "regressed", slow
    assert slow["stop"] == "decided"
    assert 3 <= slow["rounds_used"] <= 5
    assert slow["n_a"] == slow["n_b"] == slow["rounds_used"]
    assert slow["ratio"] > 2.0
    assert 3 <= report["rounds"] <= 5
    for row in report["rows"]:
        assert row["test_method"] == "sequential-t"
        assert row["stop"] in {"decided", "futile", "limit"}
        assert row["rounds_used"] <= report["rounds"]
        assert isinstance(row["noisy"], bool)
        assert row["noise_cv"] is None or row["noise_cv"] >= 0
    if report["rounds"] < 5:  # stopped early: only when nothing wanted more rounds
        assert all(r["stop"] in {"decided", "futile"} for r in report["rows"])
    # Rounds after the first batch ran exactly the benchmarks still undecided.
    with open_store(f"sqlite:///{tmp_path}/out/ab.db") as store:
        runs = {r.id: r.environment.extra["round"] for r in store.runs()}
        ran: dict[int, set[str]] = {}
        for result in store.results():
            ran.setdefault(runs[result.run_id], set()).add(result.test)
    assert ran[0] == ran[1] == ran[2] == {"test_sum", "test_quiet"}
    for rnd in range(3, report["rounds"]):  # (-k selects by substring: names must differ)
        assert ran[rnd] == {t for t, r in rows.items() if r["rounds_used"] > rnd}, rnd
    assert report["confirmed"] == sorted(t for t, r in rows.items() if r["rounds_used"] > 3)
    assert "undecided" in proc.stdout or report["rounds"] == 3


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--repeat", "5", "--max-repeat", "3"], "--max-repeat 3 must be at least --repeat 5"),
        (["--confirm", "--max-repeat", "8"], "--confirm is short for --max-repeat"),
        (["--confirm-rounds", "2"], "--confirm-rounds needs --confirm"),
    ],
)
def test_sequential_flags_fail_before_running(
    tmp_path: Path, flags: list[str], expected: str
) -> None:
    (tmp_path / "a.yaml").write_text("name: a\n")
    (tmp_path / "b.yaml").write_text("name: b\n")
    proc = daskbench("ab", "a.yaml", "b.yaml", *flags, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"daskbench: error: {lines[0].removeprefix('daskbench: error: ')}"]
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()  # nothing created, nothing run


SLOW_STEP_BENCH = textwrap.dedent(
    '''
    import os
    import time

    from dask import delayed

    DELAY = float(os.environ.get("SLOW_STEP_DELAY", "0"))


    def slow_step(i):
        """Real work in both arms; B also sleeps inside each task."""
        if DELAY:
            time.sleep(DELAY)
        return sum(range(100_000)) + i


    def combine(parts):
        return sum(parts)


    def test_pipeline(client, benchmark):
        total = delayed(combine)([delayed(slow_step)(i) for i in range(8)])
        with benchmark():
            total.compute()
    '''
)


def test_compare_attributes_a_regression_to_the_sleeping_prefix_and_compute(
    tmp_path: Path,
) -> None:
    """Must show (issue 13): 8 tasks of slow_step sleep 50 ms each in B; the report puts the
    wall-time regression on prefix.slow_step and on task compute time, each with its own
    ratio, interval and q-value."""
    (tmp_path / "bench_slow.py").write_text(SLOW_STEP_BENCH)
    url = f"sqlite:///{tmp_path}/h.db"
    run = ["run", "bench_slow.py", "--db", url, "--repeat", "5", "--reset", "none"]
    run += ["--workers", "1", "--threads-per-worker", "2"]
    for label, delay in (("main", "0"), ("sleepy", "0.05")):
        proc = daskbench(*run, "--label", label, cwd=tmp_path, env={"SLOW_STEP_DELAY": delay})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = daskbench(
        "compare", "--db", url, "--baseline", "main", "--candidate", "sleepy", "--out", "rep",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    rows = {r["metric"]: r for r in report["rows"]}
    assert set(rows) == {"wall_time", "peak_memory", "avg_memory"}  # no breakdown verdicts
    wall = rows["wall_time"]
    assert wall["verdict"] == "regressed"
    parts = {p["metric"]: p for p in wall["attribution"]}
    assert report["rows"][0]["attribution"][0]["metric"] in ("prefix.slow_step", "activity.compute")
    for name in ("prefix.slow_step", "activity.compute"):
        part = parts[name]
        assert part["verdict"] == "regressed", part
        assert part["qvalue"] < 0.05
        assert part["ci_low"] > 1.0
        # 8 sleeps of 50 ms on task threads (thread-seconds, not wall time).
        assert 0.3 < part["delta_seconds"] < 1.0, part
    assert all(r["attribution"] == [] for r in report["rows"] if r["metric"] != "wall_time")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| `test_pipeline` | `prefix.slow_step` | +" in md
    assert "Where the time went: sleepy vs main" in proc.stdout
