"""Importing real asv and pytest-benchmark results, then ``detect`` and ``compare`` on them.

The result files are produced here, by running asv and pytest-benchmark on a tiny git
project whose benchmark sleeps for a time read from a file (or the environment): 1 ms for
five commits, then 3 ms. ``detect`` must flag the slow last run as pending (one run is not a
step yet), and ``compare`` must call the slow side regressed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from _daskbench_cli import daskbench

from daskbench.models import Outcome
from daskbench.store import open_store

pytestmark = pytest.mark.slow

DELAYS_MS = (1, 1, 1, 1, 1, 3)  # per commit: the last one is 3x slower
ASV_BENCH = textwrap.dedent(
    """
    import time
    from pathlib import Path

    DELAY = float((Path(__file__).parent.parent / "delay_ms.txt").read_text()) / 1000


    class TimeSuite:
        params = ([1, 2], ["a"])
        param_names = ["n", "s"]
        rounds = 1
        repeat = 5
        number = 1
        warmup_time = 0

        def time_sleep(self, n, s):
            time.sleep(DELAY * n)


    def peakmem_list():
        [0] * 100_000


    def track_items():
        return 42


    track_items.unit = "items"


    def time_broken():
        raise ValueError("boom")
    """
)
PYTEST_BENCH = textwrap.dedent(
    """
    import os
    import time

    import pytest

    DELAY = float(os.environ["DELAY_MS"]) / 1000


    def test_sleep(benchmark):
        benchmark.pedantic(time.sleep, args=(DELAY,), rounds=10, iterations=1)


    @pytest.mark.parametrize("n", [100, 1000])
    def test_sum(benchmark, n):
        benchmark.pedantic(sum, args=(range(n),), rounds=20, iterations=5)
    """
)


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> str:
    done = subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode in ok, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def git_project(root: Path, files: dict[str, str]) -> list[str]:
    """A git repository with one commit per entry of DELAYS_MS (1 day apart); their hashes."""
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    run("git", "init", "-q", "-b", "main", cwd=root)
    commits = []
    for i, delay in enumerate(DELAYS_MS):
        (root / "delay_ms.txt").write_text(str(delay))
        run("git", "add", "-A", cwd=root)
        date = f"2026-01-{i + 1:02d}T02:00:00+00:00"
        run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
            "--allow-empty", "-m", f"commit {i}", cwd=root,
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})  # fmt: skip
        commits.append(run("git", "rev-parse", "HEAD", cwd=root).strip())
    return commits


# -- asv ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsvResults:
    results: Path
    commits: list[str]
    env_name: str

    def label(self, machine: str) -> str:
        return f"{machine}/{self.env_name}"


@pytest.fixture(scope="module")
def asv_results(tmp_path_factory: pytest.TempPathFactory) -> AsvResults:
    """asv run on each commit as machine ``nightly`` (samples recorded), and on the last one
    as machine ``pr-7`` (a PR job)."""
    pytest.importorskip("asv")
    root = tmp_path_factory.mktemp("asv") / "project"
    conf = {
        "version": 1, "project": "tiny", "project_url": "https://example.com", "repo": ".",
        "branches": ["main"], "environment_type": "existing", "benchmark_dir": "benchmarks",
        "results_dir": "results", "html_dir": "html",
    }  # fmt: skip
    commits = git_project(
        root,
        {
            "asv.conf.json": json.dumps(conf),
            "benchmarks/__init__.py": "",
            "benchmarks/bench.py": ASV_BENCH,
        },
    )
    home = root.parent / "home"  # asv keeps its machine file in $HOME
    home.mkdir()
    env = {"HOME": str(home)}
    asv = [sys.executable, "-m", "asv"]
    for machine in ("nightly", "pr-7"):
        # asv stores only what differs from the machine it runs on: describe another one.
        described = ["--os", "TestOS 1.0", "--arch", "testarch", "--cpu", "Test CPU @ 1GHz",
                     "--num_cpu", "64", "--ram", "8GB"]  # fmt: skip
        run(*asv, "machine", "--yes", "--machine", machine, *described, cwd=root, env=env)
    for i, commit in enumerate(commits):
        run("git", "checkout", "-q", commit, cwd=root)
        last = i == len(commits) - 1
        only = [] if last else ["-b", "time_sleep"]  # the full set once: keep it quick
        for machine in ("nightly", "pr-7") if last else ("nightly",):
            # Exit 2: a benchmark failed (time_broken, on purpose); results are written.
            run(*asv, "run", "--python=same", "--record-samples", "--machine", machine,
                "--set-commit-hash", commit, *only, cwd=root, env=env, ok=(0, 2))  # fmt: skip
    (result_file,) = (root / "results" / "pr-7").glob(f"{commits[-1][:8]}-*.json")
    env_name = json.loads(result_file.read_text())["env_name"]
    return AsvResults(root / "results", commits, env_name)


def test_asv_results_then_detect_and_compare(asv_results: AsvResults, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    first = daskbench("import", "--db", db, "--format", "asv", str(asv_results.results),
                      cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    # 5 nightly runs of time_sleep (2 parameter sets x 5 samples), then 2 full runs:
    # time_sleep 10 + peakmem 1 + track 1 + broken 1.
    assert first.stdout.startswith("imported 7 run(s), 76 result(s), 74 measurement(s) from")
    again = daskbench("import", "--db", db, "--format", "asv", str(asv_results.results),
                      cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("imported 0 run(s), 0 result(s), 0 measurement(s)")
    assert "already in the history: 7 run(s), 76 result(s)" in again.stdout

    nightly = asv_results.label("nightly")
    with open_store(db) as store:
        assert store.labels() == sorted([nightly, asv_results.label("pr-7")])
        runs = store.runs(label=nightly)
        last = runs[-1]
        results = store.results(run_id=last.id)
    assert [r.revision for r in runs] == asv_results.commits  # ordered by commit date
    assert last.id == f"{nightly}@{asv_results.commits[-1][:12]}"
    env = last.environment
    assert (env.cpu_model, env.cpu_count, env.memory_total) == ("Test CPU @ 1GHz", 64, 8 * 10**9)
    assert env.platform == "TestOS 1.0 testarch"
    assert env.extra["hostname"] == "nightly"
    assert env.extra["asv_env_name"] == asv_results.env_name
    by_test: dict[str, list] = {}
    for r in results:
        by_test.setdefault(r.test, []).append(r)
    assert sorted(by_test) == [
        "bench.TimeSuite.time_sleep[1-a]", "bench.TimeSuite.time_sleep[2-a]",
        "bench.peakmem_list", "bench.time_broken", "bench.track_items",
    ]  # fmt: skip
    sleeps = by_test["bench.TimeSuite.time_sleep[2-a]"]
    assert [r.repeat for r in sleeps] == [0, 1, 2, 3, 4]  # the recorded samples
    assert all(0.005 < r.value("wall_time") < 0.5 for r in sleeps)  # 2 x 3 ms, loaded machine
    (peak,) = by_test["bench.peakmem_list"]
    assert peak.measurements[0].metric == "peak_memory"
    assert peak.measurements[0].unit == "B"
    (track,) = by_test["bench.track_items"]
    assert (track.value("track"), track.measurements[0].unit) == (42.0, "items")
    (broken,) = by_test["bench.time_broken"]
    assert broken.outcome is Outcome.FAILED
    assert broken.measurements == ()

    exported = daskbench("export", "--db", db, "--label", nightly, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)
    assert {r["git_commit"] for r in records} == set(asv_results.commits)

    # detect and compare work on the imported history.
    pr = asv_results.label("pr-7")

    detect = daskbench("detect", "--db", db, "--fail-on-regression", cwd=tmp_path)
    # One slow run is not evidence of a step (the sequential detector needs several): nothing
    # fails, and every imported history (4 nightly + 4 pr-7 series with values) was examined.
    assert detect.returncode == 0, detect.stdout + detect.stderr
    assert detect.stdout.startswith("daskbench detect: 0 new regressions;"), detect.stdout
    assert "in 8 histories" in detect.stdout, detect.stdout
    assert nightly in detect.stdout

    compare = daskbench("compare", "--db", db, "--baseline", nightly, "--candidate", pr,
                        "--out", str(tmp_path / "cmp"), cwd=tmp_path)  # fmt: skip
    assert compare.returncode == 0, compare.stdout + compare.stderr
    report = json.loads((tmp_path / "cmp" / "report.json").read_text())
    text = json.dumps(report)
    assert "bench.TimeSuite.time_sleep[1-a]" in text
    verdicts = {
        (row["test"], row["metric"]): row["verdict"]
        for row in _rows(report)
        if row["test"].startswith("bench.TimeSuite.time_sleep")
    }
    assert verdicts == {
        ("bench.TimeSuite.time_sleep[1-a]", "wall_time"): "regressed",
        ("bench.TimeSuite.time_sleep[2-a]", "wall_time"): "regressed",
    }


def _rows(report: dict) -> list[dict]:
    """Comparison rows of a compare report.json, wherever the report nests them."""
    found: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if {"test", "metric", "verdict"} <= node.keys():
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report)
    return found


# -- pytest-benchmark -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pytest_benchmark_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pytest session per commit, autosaved to ``.benchmarks`` (raw data from the second
    session on: the first keeps the stats only)."""
    root = tmp_path_factory.mktemp("pb") / "project"
    git_project(root, {"test_bench.py": PYTEST_BENCH})
    commits = run("git", "rev-list", "--reverse", "HEAD", cwd=root).split()
    for i, (commit, delay) in enumerate(zip(commits, DELAYS_MS, strict=True)):
        run("git", "checkout", "-q", commit, cwd=root)
        save = ["--benchmark-save-data"] if i else []
        run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
            "no:daskbench", "test_bench.py", "--benchmark-autosave",
            f"--benchmark-storage=file://{root / '.benchmarks'}", *save,
            cwd=root, env={"DELAY_MS": str(delay)})  # fmt: skip
    return root / ".benchmarks"


def test_pytest_benchmark_files_become_a_history(pytest_benchmark_runs: Path, tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'h.db'}"
    files = sorted(pytest_benchmark_runs.rglob("*.json"))
    assert len(files) == len(DELAYS_MS)
    done = daskbench("import", "--db", db, "--format", "pytest-benchmark",
                     str(pytest_benchmark_runs), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # First session: the stats only (3 results); then 10 + 20 + 20 raw rounds per session.
    assert done.stdout.startswith("imported 6 run(s), 253 result(s), 253 measurement(s)")
    raw = json.loads(files[-1].read_text())
    with open_store(db) as store:
        (label,) = store.labels()
        runs = store.runs()
        first = store.results(run_id=runs[0].id)
        last = store.results(run_id=runs[-1].id)
    assert (
        label
        == f"{platform.system()}-CPython-{'.'.join(platform.python_version_tuple()[:2])}-64bit"
    )
    env = runs[-1].environment
    assert env.git_commit == raw["commit_info"]["id"]
    assert env.python_version == platform.python_version()
    assert env.cpu_count == raw["machine_info"]["cpu"]["count"]
    assert env.extra["hostname"] == raw["machine_info"]["node"]
    assert env.extra["commit_branch"] == raw["commit_info"]["branch"]
    stats = {
        b["name"]: b["stats"]["median"] for b in json.loads(files[0].read_text())["benchmarks"]
    }
    assert {r.test: r.value("wall_time") for r in first} == stats
    sleeps = [r for r in last if r.test == "test_sleep"]
    assert [r.repeat for r in sleeps] == list(range(10))
    paths = {r.test: r.path for r in last}
    assert paths["test_sum[100]"] == "test_bench.py::test_sum[100]"

    detect = daskbench("detect", "--db", db, cwd=tmp_path)
    assert detect.returncode == 0, detect.stderr
    # One slow session is not a step yet; the three imported histories were examined.
    assert "0 new regressions" in detect.stdout
    assert "in 3 histories" in detect.stdout


def test_pytest_benchmark_compare_two_files(pytest_benchmark_runs: Path, tmp_path: Path):
    files = sorted(pytest_benchmark_runs.rglob("*.json"))
    db = f"sqlite:///{tmp_path / 'ab.db'}"
    for label, file in (("before", files[-2]), ("after", files[-1])):
        done = daskbench("import", "--db", db, "--format", "pytest-benchmark", "--label",
                         label, str(file), cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
    compare = daskbench("compare", "--db", db, "--baseline", "before", "--candidate", "after",
                        "--out", str(tmp_path / "cmp"), cwd=tmp_path)  # fmt: skip
    assert compare.returncode == 0, compare.stdout + compare.stderr
    rows = _rows(json.loads((tmp_path / "cmp" / "report.json").read_text()))
    verdicts = {row["test"]: row["verdict"] for row in rows if row["metric"] == "wall_time"}
    assert verdicts["test_sleep"] == "regressed"
    assert set(verdicts) == {"test_sleep", "test_sum[100]", "test_sum[1000]"}
