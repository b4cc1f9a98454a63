"""History and dashboard: breakdown metrics are no histories of their own; wall-time change
points carry the breakdown of their regimes; test pages stack the time per activity."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from daskbench.errors import ConfigError
from daskbench.history import detect, load_history, to_json, to_markdown, to_text
from daskbench.metrics import get_metric
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report.dashboard import build_dashboard
from daskbench.store import MemoryStore

T0 = datetime(2025, 1, 1, 2, tzinfo=UTC)
N, STEP = 40, 30


def nightly(store: MemoryStore) -> None:
    """test_x: wall time +50% from run 30 on, because slow_step's tasks sleep 1 s more."""
    rng = np.random.default_rng(5)
    for i in range(N):
        at = T0 + timedelta(days=i)
        run_id = f"n{i:03d}"
        store.add_run(Run(run_id, "nightly", at, environment=Environment(git_commit=f"c{i}")))
        noise = rng.normal(1.0, 0.01, 8)
        slow = 1.0 if i >= STEP else 0.0
        values = {
            "wall_time": (2.0 + slow) * noise[0],
            "activity.compute": (3.0 + 2 * slow) * noise[1],
            "activity.idle": 1.0 * noise[2],
            "activity.transfer": 0.2 * noise[3],
            "activity.disk_read": 0.0,
            "scheduler_cpu": 0.1 * noise[4],
            "prefix.slow_step": (0.05 + 2 * slow) * noise[5],
            "prefix.sum": 2.9 * noise[6],
            "prefix.other": 0.05 * noise[7],
            "bytes.transfer": 1e6 * noise[7] * (3 if i % 7 == 0 else 1),  # jumpy, no verdict
        }
        ms = tuple(Measurement(k, v, get_metric(k).unit) for k, v in values.items())
        store.add_result(Result(run_id, "test_x", 0, Outcome.PASSED, at, at, ms, path="t.py"))


def test_wall_time_change_points_carry_their_breakdown() -> None:
    store = MemoryStore()
    nightly(store)
    history = load_history(store)
    detection = detect(history)
    # Only the pinned/core metrics are histories: wall_time and scheduler_cpu.
    assert detection.histories == 2
    assert {c.metric for c in detection.changes} == {"wall_time"}
    (change,) = detection.changes
    assert change.first_bad_run == f"n{STEP:03d}"
    top = {s.metric: s for s in change.breakdown}
    assert list(top)[:2] in (
        ["activity.compute", "prefix.slow_step"],
        ["prefix.slow_step", "activity.compute"],
    )
    assert top["prefix.slow_step"].before == pytest.approx(0.05, rel=0.05)
    assert top["prefix.slow_step"].after == pytest.approx(2.05, rel=0.05)
    assert top["activity.compute"].delta == pytest.approx(2.0, rel=0.1)
    assert "activity.disk_read" not in top

    text = to_text(detection, history)
    assert "where the time went: " in text
    assert re.search(r"prefix\.slow_step \+2\.\d\d s \(5\d\.\d ms -> 2\.\d\d s\)", text), text
    md = to_markdown(detection, history)
    assert "where the time went" in md
    assert r"prefix.slow\_step +2." in md  # (markdown escapes the underscore)
    data = json.loads(to_json(detection, history))
    parts = data["changes"][0]["breakdown"]
    assert {p["metric"] for p in parts} >= {"prefix.slow_step", "activity.compute"}
    assert set(parts[0]) == {"metric", "before", "after", "delta_seconds"}


def test_breakdown_metrics_are_no_verdict_histories() -> None:
    store = MemoryStore()
    nightly(store)
    with pytest.raises(ConfigError, match=r"--metric prefix\.slow_step: breakdown metrics"):
        detect(load_history(store), metrics=["prefix.slow_step"])


def load_js(path: Path) -> dict:
    match = re.fullmatch(r"window\.(\w+)=(.*);\n", path.read_text(), re.DOTALL)
    assert match is not None
    return json.loads(match.group(2))


def test_dashboard_stacks_activities_and_shows_the_breakdown(tmp_path: Path) -> None:
    store = MemoryStore()
    nightly(store)
    build_dashboard(store, tmp_path / "site")
    payload = load_js(tmp_path / "site" / "data" / "tests" / "test_x.js")
    lineage = payload["labels"]["nightly"]
    # No chart per breakdown metric: wall time, the scheduler, and one stacked chart.
    assert lineage["order"] == ["wall_time", "scheduler_cpu"]
    assert set(lineage["metrics"]) == {"wall_time", "scheduler_cpu"}
    acts = lineage["activities"]
    assert acts["names"] == ["compute", "transfer", "idle"]  # disk_read is always 0
    assert [len(v) for v in acts["values"]] == [N, N, N]
    assert acts["values"][0][STEP] == pytest.approx(5.0, rel=0.05)
    change = lineage["metrics"]["wall_time"]["changes"][0]
    names = [b[0] for b in change["breakdown"]]
    assert set(names[:2]) == {"prefix.slow_step", "activity.compute"}
    page = (tmp_path / "site" / "tests" / "test_x.html").read_text()
    assert "<th>Where the time went</th>" in page
    assert "<b>prefix.slow_step</b> +2." in page
