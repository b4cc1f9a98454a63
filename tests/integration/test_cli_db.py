"""``daskbench db merge | prune`` end to end (subprocesses), as a team's CI uses them.

Three CI jobs (one per machine type) each write their own history: two SQLite files (one of
them by an older daskbench, schema revision 0001) and one PostgreSQL schema. They are merged
into one PostgreSQL history twice: the first merge adds exactly the sum of the shards, the
second adds nothing. ``detect`` then finds the step hidden in one shard and the acknowledged
change of another, and ``dashboard`` builds a site over all three.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from _daskbench_cli import daskbench

from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import Ack, current_revision, head_revision, open_store
from daskbench.store._merge import Batch

NIGHTS = 30
T0 = datetime(2026, 1, 1, 2, tzinfo=UTC)


def job_history(label: str, tests: tuple[str, ...], *, step: str | None, seed: int) -> Batch:
    """``NIGHTS`` nightly runs of one CI job; ``step``: that test is 20% slower from night 24."""
    rng = np.random.default_rng(seed)
    runs, results = [], []
    for night in range(NIGHTS):
        at = T0 + timedelta(days=night, minutes=seed)
        run_id = f"{at:%Y%m%dT%H%M%S}-{label}"
        env = Environment(
            python_version="3.11.7",
            packages={"dask": "2026.1.0" if night < 24 else "2026.2.0"},
            git_commit=f"{night:040x}",
            cluster={"workers": 2},
        )
        runs.append(Run(run_id, label, at, at + timedelta(minutes=30), environment=env))
        for k, test in enumerate(tests):
            for repeat in range(3):
                wall = (
                    (1.0 + k) * rng.normal(1.0, 0.02) * (1.2 if test == step and night >= 24 else 1)
                )
                memory = 3e8 * rng.normal(1.0, 0.01)
                results.append(
                    Result(run_id, test, repeat, Outcome.PASSED, at, at + timedelta(seconds=5),
                           (Measurement("peak_memory", memory, "B"),
                            Measurement("wall_time", wall, "s")),
                           path=f"test_{label}.py::{test}")
                )  # fmt: skip
    return Batch(tuple(runs), tuple(results))


def count(url: str) -> dict[str, int]:
    with open_store(url) as store:
        results = store.results()
        return {
            "runs": len(store.runs()),
            "results": len(results),
            "measurements": sum(len(r.measurements) for r in results),
            "acks": len(store.acks()),
        }


@pytest.mark.postgres
def test_merge_three_shards_into_postgres_twice_then_detect_and_dashboard(
    tmp_path: Path, postgres_urls, write_revision_0001
) -> None:
    linux = f"sqlite:///{tmp_path / 'linux.db'}"
    macos = f"sqlite:///{tmp_path / 'macos.db'}"
    gpu, target = postgres_urls(), postgres_urls()

    histories = [
        job_history("linux", ("test_sum", "test_mean"), step=None, seed=1),
        job_history("macos", ("test_groupby",), step="test_groupby", seed=2),
        job_history("gpu", ("test_sum",), step="test_sum", seed=3),
    ]
    with open_store(linux) as store:
        store.merge(histories[0])
    write_revision_0001(macos, histories[1])  # written by an older daskbench
    with open_store(gpu) as store:
        store.merge(histories[2])
        first_bad = histories[2].runs[24].id
        store.add_ack(Ack(first_bad, "test_sum", "wall_time", "new CUDA driver", T0, "ci"))
    assert (current_revision(linux), current_revision(macos)) == (head_revision(), "0001")

    first = daskbench("db", "merge", linux, macos, gpu, "--into", target, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    expected = {
        "runs": sum(len(h.runs) for h in histories),
        "results": sum(len(h.results) for h in histories),
        "measurements": sum(h.measurements for h in histories),
        "acks": 1,
    }
    assert expected == {"runs": 90, "results": 360, "measurements": 720, "acks": 1}
    assert count(target) == expected
    lines = first.stdout.splitlines()
    assert f"{tmp_path / 'macos.db'} (revision 0001): 30 run(s), 90 result(s)" in lines[1]
    assert "nothing was already present" in lines[1]
    assert lines[-1].startswith("merged 3 source(s) into postgresql+psycopg://")
    assert "360 result(s), 720 measurement(s), 1 ack(s) added" in lines[-1]
    assert "***" in lines[-1]  # the password is never printed

    again = daskbench("db", "merge", linux, macos, gpu, "--into", target, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert count(target) == expected
    assert (
        "0 run(s), 0 result(s), 0 measurement(s), 0 ack(s) added" in again.stdout.splitlines()[-1]
    )
    assert "already present: 90 run(s), 360 result(s), 1 ack(s)" in again.stdout
    assert current_revision(macos) == "0001"  # sources are read, never migrated

    detect = daskbench("detect", "--db", target, "--fail-on-regression", cwd=tmp_path)
    assert detect.returncode == 1, detect.stdout + detect.stderr
    assert "NEW REGRESSION  test_groupby  wall_time  +" in detect.stdout
    assert "label macos" in detect.stdout
    assert "packages.dask: 2026.1.0 -> 2026.2.0" in detect.stdout
    assert "acknowledged regression  test_sum  wall_time" in detect.stdout
    assert "new CUDA driver" in detect.stdout
    assert "labels: gpu, linux, macos" in detect.stdout

    site = tmp_path / "site"
    dash = daskbench("dashboard", "--db", target, "--out", str(site), cwd=tmp_path)
    assert dash.returncode == 0, dash.stderr
    runs_html = (site / "runs.html").read_text()
    for label in ("gpu", "linux", "macos"):
        assert f'id="label-{label}"' in runs_html
    index = (site / "index.html").read_text()
    assert index.count('data-status="regressed"') == 1


def test_conflicting_shards_are_refused_naming_the_run(tmp_path: Path) -> None:
    a, b, target = (f"sqlite:///{tmp_path / n}" for n in ("a.db", "b.db", "t.db"))
    history = job_history("linux", ("test_sum",), step=None, seed=1)
    with open_store(a) as store:
        store.merge(history)
    run = history.runs[3]
    with open_store(b) as store:
        store.merge(Batch((Run(run.id, "linux", run.started_at, scale="large"),)))
    done = daskbench("db", "merge", a, b, "--into", target, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"daskbench: error: run {run.id!r}: the run differs between")
    assert "nothing merged" in line
    with open_store(target) as store:
        assert store.runs() == []


def test_prune_keeps_acked_runs_and_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    history = job_history("linux", ("test_sum",), step=None, seed=1)
    pr = job_history("pr-12", ("test_sum",), step=None, seed=4)
    with open_store(db) as store:
        store.merge(history)
        store.merge(pr)
        store.add_ack(Ack(pr.runs[2].id, "test_sum", "wall_time", "expected", T0))
    dry = daskbench("db", "prune", "--db", db, "--older-than", "1", "--keep-label", "linux",
                    "--dry-run", cwd=tmp_path)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "would remove 29 run(s) (pr-12: 29), 87 result(s), 174 measurement(s)" in dry.stdout
    assert count(db)["runs"] == 60
    done = daskbench(
        "db", "prune", "--db", db, "--older-than", "1", "--keep-label", "linux", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "removed 29 run(s)" in done.stdout
    assert "kept 30 old run(s) of --keep-label label(s) (linux: 30)" in done.stdout
    assert f"{pr.runs[2].id}  acknowledged test_sum wall_time: 'expected'" in done.stdout
    assert count(db) == {"runs": 31, "results": 93, "measurements": 186, "acks": 1}
    missing = daskbench("db", "prune", "--db", f"sqlite:///{tmp_path / 'typo.db'}",
                        "--older-than", "1", cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2
    assert "no daskbench history there" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
