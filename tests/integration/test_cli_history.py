"""``daskbench import | detect | ack | dashboard`` end to end, as CI runs them (subprocesses).

The acceptance scenario of the history issue: a CSV history with a 15% step at a known run
fails ``detect --fail-on-regression`` naming the test, the metric and the run; the same history
without the step, or with one isolated spike, passes; acknowledging the step makes it pass.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

N_RUNS = 60
STEP_AT = 52  # first run of the slower regime: 8 runs show it, within the default --recent 10
TESTS = ("test_sum", "test_groupby", "test_shuffle")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from daskbench.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_history(path: Path, *, step: bool = False, spike: bool = False, seed: int = 7) -> None:
    """3 tests x 2 metrics x 60 nightly runs with 3 repeats each; 2-3% noise."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 1, 1, 2, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["test", "metric", "value", "timestamp", "label", "revision", "run_id"])
        for i in range(N_RUNS):
            stamp = (t0 + timedelta(days=i)).isoformat()
            for k, test in enumerate(TESTS):
                for _ in range(3):
                    wall = (1.0 + k) * rng.normal(1.0, 0.03)
                    if step and test == "test_groupby" and i >= STEP_AT:
                        wall *= 1.15
                    if spike and test == "test_sum" and i == 40:
                        wall *= 3.0
                    memory = 2e8 * (1 + k) * rng.normal(1.0, 0.02)
                    for metric, value in (("wall_time", wall), ("peak_memory", memory)):
                        out.writerow(
                            [test, metric, value, stamp, "nightly", f"{i:07x}", f"n{i:03d}"]
                        )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/history.db"


def imported(tmp_path: Path, db: str, **kw: bool) -> None:
    csv_path = tmp_path / "history.csv"
    write_history(csv_path, **kw)
    done = run_cli("import", "--db", db, "--format", "csv", str(csv_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"imported {N_RUNS} run(s), {N_RUNS * 9} result(s)")


def test_step_fails_ci_naming_test_metric_and_run_until_acknowledged(
    tmp_path: Path, db: str
) -> None:
    imported(tmp_path, db, step=True)
    bad_run, good_run = f"n{STEP_AT:03d}", f"n{STEP_AT - 1:03d}"

    done = run_cli("detect", "--db", db, "--fail-on-regression", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NEW REGRESSION  test_groupby  wall_time  +1" in done.stdout
    assert f"first bad run  {bad_run}" in done.stdout
    assert f"last good run  {good_run}" in done.stdout
    assert f"git_commit: {STEP_AT - 1:07x} -> {STEP_AT:07x}" in done.stdout
    assert "test_sum" not in done.stdout

    as_json = run_cli("detect", "--db", db, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0  # without --fail-on-regression it only reports
    data = json.loads(as_json.stdout)
    assert [(r["test"], r["metric"], r["first_bad_run"]["id"]) for r in data["regressions"]] == [
        ("test_groupby", "wall_time", bad_run)
    ]
    assert 1.10 < data["regressions"][0]["ratio"] < 1.20

    summary = tmp_path / "summary.md"
    as_md = run_cli(
        "detect", "--db", db, "--format", "markdown", "--output", str(summary), cwd=tmp_path
    )
    assert as_md.returncode == 0
    assert summary.read_text() == as_md.stdout
    assert "| `test_groupby` | wall\\_time | **+1" in as_md.stdout

    ack = run_cli(
        "ack", "--db", db, "test_groupby", "--metric", "wall_time", "--run", bad_run,
        "--reason", "exact groupby: slower by design", cwd=tmp_path,
    )  # fmt: skip
    assert ack.returncode == 0, ack.stderr
    done = run_cli("detect", "--db", db, "--fail-on-regression", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new regressions; 1 acknowledged" in done.stdout
    assert "acknowledged: exact groupby: slower by design" in done.stdout


def test_flat_history_passes(tmp_path: Path, db: str) -> None:
    imported(tmp_path, db)
    done = run_cli("detect", "--db", db, "--fail-on-regression", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("daskbench detect: 0 new regressions")


def test_isolated_spike_is_not_a_regression(tmp_path: Path, db: str) -> None:
    imported(tmp_path, db, spike=True)
    done = run_cli("detect", "--db", db, "--fail-on-regression", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "0 change points" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "--db", "{db}", "--format", "csv", "{missing}"], "cannot read"),
        (["detect", "--db", "{db}", "--label", "nope"], "no runs with label 'nope'"),
        (["detect", "--db", "{db}", "--recent", "3"], "--recent must be larger"),
        (["ack", "--db", "{db}", "test_x", "--metric", "m", "--run", "r", "--reason", "x"], "'r'"),
        (["detect", "--db", "nosuch://x"], "daskbench: error:"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, db: str, args: list[str], message: str
) -> None:
    filled = [a.format(db=db, missing=tmp_path / "missing.csv") for a in args]
    assert run_cli("db", "upgrade", "--db", db, cwd=tmp_path).returncode == 0  # an empty history
    done = run_cli(*filled, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("daskbench: error:")
    assert message in lines[0]


def test_bad_csv_names_file_line_and_column_and_writes_nothing(tmp_path: Path, db: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("test,metric,value,timestamp\ntest_a,wall_time,1.0,2025-01-01\n"
                    "test_a,wall_time,oops,2025-01-02\n")  # fmt: skip
    done = run_cli("import", "--db", db, "--format", "csv", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"daskbench: error: {path}:3: column 'value': not a number: 'oops'"
    )
    assert not (tmp_path / "history.db").exists()  # validated before the database is opened
    listed = run_cli("export", "--db", db, cwd=tmp_path)
    assert listed.returncode == 2
    assert "no history database at" in listed.stderr


def test_dashboard_command(tmp_path: Path, db: str) -> None:
    imported(tmp_path, db, step=True)
    out = tmp_path / "site"
    done = run_cli("dashboard", "--db", db, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dashboard: 3 test page(s)")
    assert (out / "index.html").is_file()
    assert (out / "tests" / "test_groupby.html").is_file()
    index = (out / "index.html").read_text()
    assert 'data-status="regressed"' in index
