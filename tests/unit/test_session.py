"""Session and its options, without pytest and without a cluster."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daskbench.cluster import ClusterSpec, ClusterState
from daskbench.errors import ConfigError
from daskbench.models import Measurement, Outcome, utcnow
from daskbench.session import ExecutionPlan, Session, SessionOptions, new_run_id, order_round
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


def test_connecting_to_a_scheduler_honours_dasks_connect_timeout() -> None:
    import dask

    from daskbench.cluster import open_cluster
    from daskbench.errors import ClusterError

    # port 9 (discard) has no scheduler: connecting gives up after Dask's timeout
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ClusterError, match=r"cannot connect to cluster .* after 1 s"),
    ):
        open_cluster(ClusterSpec("tcp://127.0.0.1:9"))


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


# -- executions, order, health: the pure parts ------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": -1}, "--warmup must be an integer >= 0, got -1"),
        ({"min_time": -0.5}, "--min-time must be >= 0 seconds, got -0.5"),
        ({"min_time": float("nan")}, "--min-time must be >= 0 seconds, got nan"),
        ({"order": "sideways"}, "--order must be one of file, reverse, random"),
        ({"seed": 3}, "--seed applies only to --order random"),
        ({"health_timeout": -1.0}, "--health-timeout must be >= 0 seconds"),
    ],
)
def test_bad_execution_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SessionOptions(**kwargs)  # type: ignore[arg-type]


def test_execution_plan_runs_until_min_time_within_the_bound() -> None:
    plan = ExecutionPlan(warmup=2, min_time=1.0, max_executions=5)
    assert plan.more(1, 0.25)
    assert not plan.more(4, 1.0)  # reached: the round has its measured second
    assert not plan.more(5, 0.5)  # bounded, whatever min_time asks for
    once = ExecutionPlan(warmup=0, min_time=0.0)
    assert not once.more(1, 0.0)  # the default: one measured execution per round


@given(
    durations=st.lists(st.floats(0.001, 5.0), min_size=1, max_size=30),
    min_time=st.floats(0.0, 10.0),
    min_executions=st.integers(1, 8),
)
def test_execution_plan_floor_is_min_executions_and_min_time(
    durations: list[float], min_time: float, min_executions: int
) -> None:
    plan = ExecutionPlan(
        warmup=0, min_time=min_time, max_executions=12, min_executions=min_executions
    )
    totals = [sum(durations[: i + 1]) for i in range(len(durations))]  # measured after i + 1
    done = next((i + 1 for i, t in enumerate(totals) if not plan.more(i + 1, t)), None)
    if done is None:
        return  # the durations ran out first
    # The first execution count that has both floors, or the bound.
    wanted = next(
        (i + 1 for i, t in enumerate(totals) if i + 1 >= min_executions and t >= min_time), None
    )
    assert done == min(wanted or 12, 12)


@pytest.mark.parametrize("n", [0, -1, 101])
def test_execution_plan_refuses_min_executions_out_of_bounds(n: int) -> None:
    with pytest.raises(ConfigError, match="min_executions must be between 1 and 100"):
        ExecutionPlan(min_executions=n)


def test_order_round() -> None:
    tests = [f"t{i}" for i in range(20)]
    assert order_round(tests, "file", 1, 0) == list(range(20))
    assert order_round(tests, "reverse", 1, 3) == list(range(19, -1, -1))
    first, again = order_round(tests, "random", 42, 0), order_round(tests, "random", 42, 0)
    assert first == again  # reproducible from the stored seed
    assert sorted(first) == list(range(20))
    # a new permutation every round, and another seed gives another order
    assert order_round(tests, "random", 42, 1) != first
    assert order_round(tests, "random", 43, 0) != first


def test_random_order_gets_a_seed_that_is_stored() -> None:
    session = Session(SessionOptions(db="memory://", order="random"))
    assert isinstance(session.seed, int)
    assert Session(SessionOptions(db="memory://", order="random", seed=5)).seed == 5


def test_cluster_state_shortfall_names_what_is_missing() -> None:
    expected = ClusterState(workers=2, threads=4, memory=8 * 2**30)
    assert expected.shortfall(expected) is None
    half = ClusterState(workers=1, threads=2, memory=4 * 2**30)
    assert half.shortfall(expected) == "1 of 2 workers, 2 of 4 threads, 4.00 GiB of 8.00 GiB memory"
    assert expected.describe() == "2 workers, 4 threads, 8.00 GiB"
    info = {"workers": {"a": {"nthreads": 2, "memory_limit": 2**30}, "b": {"nthreads": 1}}}
    assert ClusterState.from_scheduler_info(info) == ClusterState(2, 3, 2**30)


def test_memory_limit_below_a_workers_own_needs_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"--memory-limit 1KiB is below the minimum of 256\.00 MiB"
    ):
        ClusterSpec(memory_limit="1KiB")
    assert ClusterSpec(memory_limit="256MiB").memory_limit == "256MiB"
