"""``--performance-report DIR``: validated up front, recorded with the run, one file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from daskbench.errors import ConfigError
from daskbench.models import Measurement, Outcome, utcnow
from daskbench.report._perf_report import performance_report_file
from daskbench.session import Session, SessionOptions
from daskbench.store import open_store


def test_the_directory_is_recorded_with_the_run_and_names_one_file_per_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    options = SessionOptions(db="memory://", performance_report="reports")
    assert options.performance_report == str(tmp_path / "reports")  # absolute
    store = open_store("memory://")
    session = Session(options, store=store)
    path = session.performance_report_path("test_x[a/b]")
    assert path is not None
    now = utcnow()
    session.record(
        test="test_x",
        repeat=0,
        outcome=Outcome.PASSED,
        started_at=now,
        finished_at=now,
        measurements=[Measurement("wall_time", 1.0, "s")],
    )
    (run,) = store.runs()
    assert run.environment.extra["performance_report"] == str(tmp_path / "reports")
    assert path == tmp_path / "reports" / run.id / path.name
    assert path.name.startswith("test_x-a-b-")
    assert path.suffix == ".html"
    assert not path.parent.exists()  # made when a report is written, not before
    assert Session(SessionOptions(db="memory://")).performance_report_path("test_x") is None


def test_names_are_distinct_for_distinct_tests() -> None:
    names = {
        performance_report_file("d", "r", t).name
        for t in ("test_a[1]", "test_a-1", "test_a[1-]", "test_a_1", "TEST_A[1]")
    }
    assert len(names) == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [(" ", "--performance-report must not be empty"), ("file.txt", "is not a directory")],
)
def test_bad_directories_are_refused_up_front(
    value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match=message):
        SessionOptions(db="memory://", performance_report=value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_without_bokeh_a_local_cluster_cannot_render_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bokeh" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"needs bokeh on the scheduler: pip install"):
        SessionOptions(db="memory://", performance_report="reports")
