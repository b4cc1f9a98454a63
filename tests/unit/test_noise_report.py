"""``daskbench noise``: per-benchmark noise from stored runs, the planned MDE, the reports."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from daskbench.ab._noise import measure_noise
from daskbench.errors import ConfigError, NotFoundError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report._noise import noise_json, noise_markdown, noise_text
from daskbench.stats import noise_cv, paired_noise_cv, planned_mde
from daskbench.store import MemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add(store: MemoryStore, label: str, rnd: int | None, walls: dict[str, list[float]]) -> None:
    """One run; each test gets one result per execution (all of repeat 0)."""
    extra = {} if rnd is None else {"experiment": "e1", "round": rnd}
    at = T0 + timedelta(minutes=len(store.runs()))
    run = Run(f"{label}-{len(store.runs())}", label, at, environment=Environment(extra=extra))
    store.add_run(run)
    for test, executions in walls.items():
        for i, wall in enumerate(executions):
            store.add_result(
                Result(run.id, test, 0, Outcome.PASSED, at, at,
                       (Measurement("wall_time", wall, "s"),), execution=i)
            )  # fmt: skip


def test_one_label_noise_is_the_cv_of_its_runs_and_plans_the_family() -> None:
    rng = np.random.default_rng(1)
    store = MemoryStore()
    quiet = np.exp(rng.normal(0, 0.02, 30))
    loud = np.exp(rng.normal(0, 0.20, 30))
    for q, lo in zip(quiet, loud, strict=True):
        add(store, "nightly", None, {"test_quiet": [q], "test_loud": [lo]})
    report = measure_noise(store, ["nightly"], metrics=["wall_time"], rounds=10)
    by = {r.test: r for r in report.rows}
    assert report.family_size == 2
    assert by["test_quiet"].n == 30
    assert by["test_quiet"].noise.cv == pytest.approx(noise_cv(quiet))
    assert by["test_loud"].noise.mde == pytest.approx(
        planned_mde(noise_cv(loud), 10, family_size=2)
    )
    assert by["test_quiet"].noise.mde < 0.06 < 0.2 < by["test_loud"].noise.mde
    median, worst = report.mde_summary("wall_time")
    assert worst == by["test_loud"].noise.mde
    assert median == pytest.approx((by["test_loud"].noise.mde + by["test_quiet"].noise.mde) / 2)
    # More rounds detect smaller effects; a quiet benchmark needs fewer rounds for 5%.
    assert measure_noise(store, ["nightly"], metrics=["wall_time"], rounds=30).rows[0].noise.mde < (
        report.rows[0].noise.mde
    )
    assert by["test_quiet"].noise.rounds_for(0.05) < by["test_loud"].noise.rounds_for(0.10)


def test_executions_of_one_round_count_once() -> None:
    store = MemoryStore()
    for k in range(6):
        # Two executions per run: their geometric mean is the run's value.
        add(store, "x", None, {"t": [1.0 + 0.01 * k, 4.0 * (1.0 + 0.01 * k)]})
    (row,) = measure_noise(store, ["x"], metrics=["wall_time"]).rows
    assert row.n == 6
    assert row.noise.cv == pytest.approx(noise_cv([2.0 * (1.0 + 0.01 * k) for k in range(6)]))


def test_two_labels_pair_by_round_and_shared_drift_is_not_noise() -> None:
    store = MemoryStore()
    drift = [1.0, 1.4, 0.8, 1.2, 0.9, 1.3, 1.1, 0.7]
    a = [d * (1 + 0.01 * (i % 3)) for i, d in enumerate(drift)]
    b = [d * (1 + 0.01 * ((i + 1) % 3)) for i, d in enumerate(drift)]
    for i in range(len(drift)):
        add(store, "base", i, {"t": [a[i]]})
        add(store, "base-null", i, {"t": [b[i]]})
    paired = measure_noise(store, ["base", "base-null"], metrics=["wall_time"])
    alone = measure_noise(store, ["base"], metrics=["wall_time"])
    assert paired.paired
    assert paired.rows[0].noise.cv == pytest.approx(paired_noise_cv(a, b))
    assert paired.rows[0].noise.cv < 0.02 < 0.15 < alone.rows[0].noise.cv


def test_too_few_values_is_a_row_without_estimate() -> None:
    store = MemoryStore()
    for k in range(2):
        add(store, "x", None, {"t": [1.0 + k * 0.1], "u": [1.0]})
    add(store, "x", None, {"u": [1.1]})
    report = measure_noise(store, ["x"], metrics=["wall_time"])
    by = {r.test: r for r in report.rows}
    assert by["t"].noise is None
    assert by["t"].note == "too few values (2; needs 3)"
    assert by["u"].noise is not None
    assert report.family_size == 1
    assert "too few values" in noise_text(report)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rounds": 2}, "--rounds must be at least 3"),
        ({"effects": [0.0]}, "--effect must be fractions"),
        ({"family_size": 0}, "--family-size must be at least 1"),
        ({"metrics": ["nope"]}, "none of the metrics nope was measured"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs: dict, message: str) -> None:
    store = MemoryStore()
    for k in range(3):
        add(store, "x", None, {"t": [1.0 + k * 0.1]})
    args = {"metrics": ["wall_time"], **kwargs}
    with pytest.raises(ConfigError, match=message):
        measure_noise(store, ["x"], **args)


def test_unknown_label_and_unpaired_labels_are_refused() -> None:
    store = MemoryStore()
    for k in range(3):
        add(store, "x", None, {"t": [1.0 + k * 0.1]})
        add(store, "y", None, {"t": [1.0 + k * 0.1]})
    with pytest.raises(NotFoundError, match="no runs with label 'z'"):
        measure_noise(store, ["z"], metrics=["wall_time"])
    with pytest.raises(ConfigError, match="not rounds of one `daskbench ab` experiment"):
        measure_noise(store, ["x", "y"], metrics=["wall_time"])
    with pytest.raises(ConfigError, match="given twice"):
        measure_noise(store, ["x", "x"], metrics=["wall_time"])


def test_renderers_agree() -> None:
    store = MemoryStore()
    for k in range(10):
        add(store, "x", None, {"test_a": [1.0 + 0.03 * (k % 4)], "test_b": [2.0 + 0.2 * (k % 3)]})
    report = measure_noise(store, ["x"], metrics=["wall_time"], effects=[0.1])
    doc = json.loads(noise_json(report))
    rows = {r["test"]: r for r in doc["rows"]}
    assert doc["family_size"] == 2
    assert set(rows["test_a"]) == {"test", "metric", "n", "cv", "mde", "rounds_needed", "note"}
    assert math.isclose(
        doc["summary"]["wall_time"]["max_mde"], max(r["mde"] for r in rows.values())
    )
    text = noise_text(report)
    md = noise_markdown(report)
    for row in report.rows:
        pct = f"{row.noise.mde * 100:.1f}%"
        assert pct in text
        assert pct in md
    assert "rounds for 10%" in text
    assert "| `test_a` | wall\\_time |" in md
