"""Renderers of detection (report/_history.py): statuses as enums, a runnable ack command,
no secret in a fingerprint diff."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from daskbench.history import detect, load_history, to_json, to_markdown, to_text
from daskbench.history._detect import ChangeKind, ChangeStatus, TestStatus
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import MemoryStore

T0 = datetime(2025, 1, 1, 2, tzinfo=UTC)
NASTY = "test_q[a b|c<d>e;rm -rf ~]"


def stepped_store(test: str, *, step_at: int, n: int = 60, factor: float = 1.2) -> MemoryStore:
    store = MemoryStore()
    values = np.random.default_rng(3).normal(1.0, 0.02, n)
    for i, value in enumerate(values):
        token = "planted-old-token" if i < step_at else "planted-new-token"
        env = Environment(git_commit=f"c{i:03d}", dask_config={"coiled.token": token})
        run_id = f"main-{i:03d}"
        at = T0 + timedelta(days=i)
        store.add_run(Run(run_id, "main", at, environment=env))
        measured = (Measurement("wall_time", value * (factor if i >= step_at else 1.0), "s"),)
        store.add_result(Result(run_id, test, 0, Outcome.PASSED, at, at, measured))
    return store


def test_the_suggested_ack_command_is_shell_quoted() -> None:
    store = stepped_store(NASTY, step_at=55)
    history = load_history(store)
    detection = detect(history)
    (change,) = detection.failing
    assert change.status is ChangeStatus.NEW_REGRESSION
    assert change.kind is ChangeKind.REGRESSION
    assert detection.status("main", NASTY) is TestStatus.REGRESSED
    for report in (to_text(detection, history), to_markdown(detection, history)):
        (line,) = [ln for ln in report.splitlines() if "daskbench ack" in ln]
        argv = shlex.split(line[line.index("daskbench ack") :])
        assert argv[4] == NASTY  # one argument, exactly the benchmark id
        assert argv[5:9] == ["--metric", "wall_time", "--run", change.first_bad_run]


@pytest.mark.parametrize(
    ("step_at", "factor", "status"),
    [
        (55, 1.2, ChangeStatus.NEW_REGRESSION),
        (20, 1.2, ChangeStatus.OLD_REGRESSION),
        (55, 0.8, ChangeStatus.NEW_IMPROVEMENT),
        (20, 0.8, ChangeStatus.OLD_IMPROVEMENT),
    ],
)
def test_change_status(step_at: int, factor: float, status: ChangeStatus) -> None:
    store = stepped_store("test_sum", step_at=step_at, factor=factor)
    history = load_history(store)
    detection = detect(history)
    (change,) = detection.changes
    assert change.status is status
    assert json.loads(to_json(detection, history))["changes"][0]["status"] == status.value


def test_fingerprint_diffs_never_show_secrets() -> None:
    """A database from an older daskbench may hold a token in dask_config: reports mask it."""
    store = stepped_store("test_sum", step_at=55)
    history = load_history(store)
    detection = detect(history)
    for report in (to_text, to_markdown, to_json):
        text = report(detection, history)
        assert "planted" not in text
        assert "coiled" in text  # the change itself is still shown


def test_dashboard_shows_masked_values_only(tmp_path) -> None:
    from daskbench.report.dashboard import build_dashboard

    store = stepped_store("test_sum", step_at=55)
    build_dashboard(store, tmp_path / "site")
    runs_page = (tmp_path / "site" / "runs.html").read_text()
    assert "dask_config.coiled.token: *** → ***" in runs_page
    for path in (tmp_path / "site").rglob("*"):
        if path.is_file():
            assert b"planted" not in path.read_bytes(), path
