"""Domain objects: validation at construction, JSON round trips, diffs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from daskbench.errors import ConfigError
from daskbench.models import Environment, Measurement, Outcome, Result, Run

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_measurement_coerces_ints_and_rejects_non_finite() -> None:
    assert Measurement("n_tasks", 3).value == 3.0
    with pytest.raises(ConfigError, match="'wall_time' must be finite, got nan"):
        Measurement("wall_time", float("nan"))
    with pytest.raises(ConfigError, match="must be a number"):
        Measurement("wall_time", True)
    with pytest.raises(ConfigError, match="non-empty"):
        Measurement("", 1.0)


def test_result_validates_fields() -> None:
    ok = Result("r1", "test_x[p2p]", 0, "passed", T0, T0, (Measurement("wall_time", 1.0, "s"),))
    assert ok.outcome is Outcome.PASSED
    assert ok.value("wall_time") == 1.0
    assert ok.value("peak_memory") is None
    assert ok.metrics == {"wall_time": 1.0}
    with pytest.raises(ConfigError, match="repeat must be >= 0"):
        Result("r1", "t", -1, Outcome.PASSED, T0, T0)
    with pytest.raises(ConfigError, match="recorded twice: wall_time"):
        Result(
            "r1",
            "t",
            0,
            Outcome.PASSED,
            T0,
            T0,
            (Measurement("wall_time", 1.0), Measurement("wall_time", 2.0)),
        )
    with pytest.raises(ConfigError, match="timezone-aware"):
        Result("r1", "t", 0, Outcome.PASSED, datetime(2026, 1, 1), T0)
    with pytest.raises(ValueError, match="'exploded' is not a valid Outcome"):
        Result("r1", "t", 0, "exploded", T0, T0)  # type: ignore[arg-type]


def test_run_requires_id_and_label() -> None:
    with pytest.raises(ConfigError, match=r"Run\.id"):
        Run("", "default", T0)
    with pytest.raises(ConfigError, match=r"Run\.label"):
        Run("r1", "", T0)
    run = Run("r1", "nightly", T0, environment=Environment(git_commit="abc"))
    assert run.revision == "abc"


def test_environment_round_trip_and_diff() -> None:
    env = Environment(
        python_version="3.11.7",
        packages={"dask": "2026.8.0", "numpy": "2.4"},
        dask_config={"distributed.scheduler.worker-saturation": 1.1},
        cluster={"workers": 2},
        git_commit="aaa",
    )
    assert Environment.from_dict(env.to_dict()) == env
    # Unknown keys (a newer daskbench) are kept, not dropped.
    assert Environment.from_dict({**env.to_dict(), "gpu": "none"}).extra == {"gpu": "none"}
    other = Environment(
        python_version="3.11.7",
        packages={"dask": "2026.9.0", "numpy": "2.4"},
        cluster={"workers": 2},
        git_commit="bbb",
    )
    assert env.diff(other) == {
        "dask_config.distributed.scheduler.worker-saturation": (1.1, None),
        "git_commit": ("aaa", "bbb"),
        "packages.dask": ("2026.8.0", "2026.9.0"),
    }
    assert env.diff(env) == {}
