"""Session and its options, without pytest and without a cluster."""

from __future__ import annotations

import pytest

from daskbench.cluster import ClusterSpec
from daskbench.errors import ConfigError
from daskbench.models import Measurement, Outcome, utcnow
from daskbench.session import Session, SessionOptions, new_run_id
from daskbench.store import open_store


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "huge"}, "--scale must be one of ci, small, large, got 'huge'"),
        ({"repeat": 0}, "--repeat must be an integer >= 1, got 0"),
        ({"label": " "}, "--label must not be empty"),
        ({"reset": "sometimes"}, "--reset must be 'restart' or 'none'"),
        ({"timeout": -1.0}, "--timeout must be >= 0"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SessionOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"target": "nonsense"}, "is not 'local', a scheduler address"),
        ({"target": "local", "workers": 0}, "--workers must be >= 1, got 0"),
        ({"target": "local", "memory_limit": "lots"}, "cannot parse 'lots'"),
        ({"target": "tcp://h:8786", "workers": 2}, "--workers only apply to --cluster local"),
    ],
)
def test_bad_cluster_specs(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClusterSpec(**spec)  # type: ignore[arg-type]


def test_cluster_kinds() -> None:
    assert ClusterSpec().kind == "local"
    assert ClusterSpec("tcp://10.0.0.1:8786").kind == "address"
    assert ClusterSpec("dask_kubernetes.operator:make_cluster").kind == "factory"
    # Addresses may carry credentials: never recorded in the fingerprint.
    assert ClusterSpec("tls://user@10.0.0.1:8786").to_dict()["target"] == "address"


def test_from_values_maps_flat_options() -> None:
    opts = SessionOptions.from_values(
        {"cluster": None, "workers": 3, "memory_limit": "2GiB", "repeat": 2, "db": None}
    )
    assert opts.cluster == ClusterSpec("local", workers=3, memory_limit="2GiB")
    assert opts.repeat == 2
    assert opts.db == "sqlite:///daskbench.db"


def test_run_ids_sort_by_time() -> None:
    a = new_run_id()
    assert len(a) == len("20261126T101500-3f9a1c")
    assert new_run_id() >= a[:15]


def test_record_creates_the_run_lazily_and_commits_each_result() -> None:
    store = open_store("memory://")
    session = Session(SessionOptions(db="memory://", label="exp"), store=store)
    assert store.runs() == []
    now = utcnow()
    r = session.record(
        test="test_x",
        repeat=0,
        outcome=Outcome.PASSED,
        started_at=now,
        finished_at=now,
        measurements=[Measurement("wall_time", 1.0, "s")],
    )
    (run,) = store.runs()
    assert run.label == "exp"
    assert run.environment.packages["dask"]
    assert store.results(run_id=run.id) == [r]
    # A failed execution keeps its error but never its measurements.
    failed = session.record(
        test="test_y",
        repeat=0,
        outcome=Outcome.FAILED,
        started_at=now,
        finished_at=now,
        measurements=[Measurement("wall_time", 1.0, "s")],
        error="x" * 50_000,
    )
    assert failed.measurements == ()
    assert failed.error is not None
    assert len(failed.error) < 21_000
    assert session.failed
    session.close()
    assert store.get_run(run.id).finished_at is not None
