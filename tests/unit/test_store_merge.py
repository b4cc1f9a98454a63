"""Store.merge and Store.prune on every backend, and reading merge sources read-only."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from daskbench.errors import ConfigError, StoreError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import Ack, Store, current_revision, head_revision, open_store
from daskbench.store._merge import Batch, MergeCounts, plan_merge
from daskbench.store._shard import merge_shards, read_shard

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def make_batch(
    prefix: str = "r", *, label: str = "main", n: int = 3, tests: tuple[str, ...] = ("a", "b")
) -> Batch:
    runs, results = [], []
    for i in range(n):
        at = T0 + timedelta(days=i)
        env = Environment(git_commit=f"{i:040x}", packages={"dask": "2025.1.0"})
        runs.append(Run(f"{prefix}{i}", label, at, at + timedelta(hours=1), environment=env))
        for test in tests:
            for repeat in range(2):
                results.append(
                    Result(
                        f"{prefix}{i}", f"test_{test}", repeat, Outcome.PASSED, at, at,
                        (Measurement("peak_memory", 2.0e8, "B"),
                         Measurement("wall_time", 1.0 + i + repeat / 10, "s")),
                        path=f"test_x.py::test_{test}",
                    )
                )  # fmt: skip
    ack = Ack(f"{prefix}{n - 1}", "test_a", "wall_time", "expected", T0, author="me")
    return Batch(tuple(runs), tuple(results), (ack,))


def snapshot(store: Store) -> tuple[list[Run], list[tuple[object, ...]], list[tuple[object, ...]]]:
    results = [(r.run_id, r.test, r.repeat, r.measurements) for r in store.results()]
    acks = [(a.run_id, a.test, a.metric, a.reason) for a in store.acks()]
    return store.runs(), results, acks


# -- merge: the contract, every backend ---------------------------------------------------


def test_merge_twice_adds_once(store: Store) -> None:
    batch = make_batch()
    first = store.merge(batch, source="shard")
    assert first == MergeCounts(runs=3, results=12, measurements=24, acks=1)
    before = snapshot(store)
    again = store.merge(batch, source="shard")
    assert again == MergeCounts(runs_present=3, results_present=12, acks_present=1)
    assert snapshot(store) == before
    (ack,) = store.acks()
    assert (ack.run_id, ack.author) == ("r2", "me")
    assert store.get_run("r0") == batch.runs[0]
    got = store.results(run_id="r1")
    assert [dataclasses.replace(r, id=None) for r in got] == [
        r for r in batch.results if r.run_id == "r1"
    ]


def test_a_grown_shard_adds_only_what_is_new(store: Store) -> None:
    store.merge(make_batch(n=2, tests=("a",)))
    grown = make_batch(n=3, tests=("a", "b"))  # a new run, and test_b in the old runs too
    counts = store.merge(grown)
    assert (counts.runs, counts.results, counts.runs_present, counts.results_present) == (
        1,
        8,
        2,
        4,
    )
    assert len(store.results()) == 12


def test_results_can_join_a_run_already_in_the_target(store: Store) -> None:
    batch = make_batch(n=1)
    store.merge(Batch(batch.runs))
    counts = store.merge(Batch((), batch.results))
    assert (counts.runs, counts.results) == (0, 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: dataclasses.replace(b.runs[1], label="other"), "run 'r1': the run differs"),
        (
            lambda b: dataclasses.replace(b.runs[1], environment=Environment(git_commit="f" * 40)),
            "environment git_commit",
        ),
        (
            lambda b: dataclasses.replace(
                b.results[4], measurements=(Measurement("wall_time", 9.0, "s"),)
            ),
            "result test_a repeat 0 differs",
        ),
        (lambda b: dataclasses.replace(b.acks[0], reason="other"), "the ack of test_a wall_time"),
    ],
)
def test_conflict_names_the_run_and_writes_nothing(store: Store, change, message: str) -> None:
    store.merge(make_batch())
    before = snapshot(store)
    base = make_batch()
    changed = change(base)
    kind = type(changed)
    runs = tuple(changed if kind is Run and r.id == changed.id else r for r in base.runs)
    results = tuple(
        changed if kind is Result and (r.run_id, r.test, r.repeat) == (changed.run_id,
        changed.test, changed.repeat) else r for r in base.results
    )  # fmt: skip
    acks = (changed,) if kind is Ack else base.acks
    new_run = Run("fresh", "main", T0)  # a new run in the same batch is not written either
    with pytest.raises(StoreError, match=message) as info:
        store.merge(Batch((*runs, new_run), results, acks), source="shard.db")
    assert "shard.db" in str(info.value)
    assert "nothing merged" in str(info.value)
    assert snapshot(store) == before


def test_dry_run_counts_and_writes_nothing(store: Store) -> None:
    counts = store.merge(make_batch(), dry_run=True)
    assert counts.runs == 3
    assert store.runs() == []


def test_a_result_of_an_unknown_run_is_refused(store: Store) -> None:
    batch = make_batch(n=1)
    with pytest.raises(ConfigError, match="belongs to run 'r0', which is not in it"):
        store.merge(Batch((), batch.results), source="x")
    assert store.runs() == []


def test_duplicates_inside_one_batch() -> None:
    batch = make_batch(n=1)
    twice = Batch(batch.runs * 2, batch.results * 2, batch.acks * 2)
    todo, counts = plan_merge(twice, Batch())
    assert len(todo.results) == 4
    assert (counts.runs, counts.results, counts.acks) == (1, 4, 1)
    clash = dataclasses.replace(batch.results[0], outcome=Outcome.FAILED, measurements=())
    with pytest.raises(StoreError, match="holds result test_a repeat 0 twice"):
        plan_merge(Batch(batch.runs, (*batch.results, clash)), Batch(), source="s.db")


def test_equal_instants_in_other_offsets_are_the_same_data(store: Store) -> None:
    batch = make_batch(n=1)
    store.merge(batch)
    from datetime import timezone

    shifted = timezone(timedelta(hours=5))
    moved = Batch(
        tuple(
            dataclasses.replace(r, started_at=r.started_at.astimezone(shifted)) for r in batch.runs
        )
    )
    assert store.merge(moved).runs_present == 1


# -- prune --------------------------------------------------------------------------------


def test_prune_removes_old_runs_keeps_labels_and_acked_runs(store: Store) -> None:
    store.merge(make_batch("m", label="main", n=4))
    store.merge(make_batch("p", label="pr", n=4))  # ack on p3
    cutoff = T0 + timedelta(days=3)  # runs of days 0..2 are old
    dry = store.prune(cutoff, keep_labels=["main"], dry_run=True)
    assert dry.remove_ids == ["p0", "p1", "p2"]
    assert (dry.results, dry.measurements) == (12, 24)
    assert len(store.runs()) == 8

    store.add_ack(Ack("p1", "test_b", "peak_memory", "new allocator", T0))
    plan = store.prune(cutoff, keep_labels=["main"])
    assert plan.remove_ids == ["p0", "p2"]
    assert plan.kept_by_label == {"main": 3}
    assert list(plan.kept_for_acks) == ["p1"]
    assert {r.id for r in store.runs()} == {"m0", "m1", "m2", "m3", "p1", "p3"}
    assert {r.run_id for r in store.results()} == {"m0", "m1", "m2", "m3", "p1", "p3"}
    assert len(store.acks()) == 3
    text = "\n".join(plan.lines("db"))
    assert "removed 2 run(s) (pr: 2), 8 result(s), 16 measurement(s)" in text
    assert "kept 3 old run(s) of --keep-label label(s) (main: 3)" in text
    assert "p1  acknowledged test_b peak_memory: 'new allocator'" in text


def test_prune_with_an_unknown_keep_label_removes_nothing(store: Store) -> None:
    store.merge(make_batch())
    with pytest.raises(ConfigError, match="--keep-label 'mian': no runs with this label"):
        store.prune(T0 + timedelta(days=30), keep_labels=["mian"])
    assert len(store.runs()) == 3


# -- sources: read-only, any revision ---------------------------------------------------------


def old_batch() -> Batch:
    runs = tuple(
        Run(
            f"old{i}", "old", T0 + timedelta(days=i), environment=Environment(git_commit=f"{i:07x}")
        )
        for i in range(2)
    )
    results = tuple(
        Result(f"old{i}", "test_a", 0, Outcome.PASSED, T0, T0,
               (Measurement("wall_time", 2.5 + i, "s"),))
        for i in range(2)
    )  # fmt: skip
    return Batch(runs, results)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_old_revision_is_read_as_it_is_and_never_migrated(
    tmp_path: Path, write_revision_0001
) -> None:
    source = tmp_path / "old.db"
    write_revision_0001(f"sqlite:///{source}", old_batch())
    digest = sha(source)
    shard = read_shard(f"sqlite:///{source}")
    assert shard.revision == "0001"
    assert shard.batch.acks == ()
    assert [r.metrics for r in shard.batch.results] == [{"wall_time": 2.5}, {"wall_time": 3.5}]
    target = f"sqlite:///{tmp_path / 'all.db'}"
    (merged,) = merge_shards([f"sqlite:///{source}"], target)
    assert (merged.revision, merged.counts.runs, merged.counts.results) == ("0001", 2, 2)
    assert sha(source) == digest
    assert current_revision(f"sqlite:///{source}") == "0001"
    assert current_revision(target) == head_revision()


def test_a_postgres_source_at_an_old_revision(
    postgres_url: str, tmp_path: Path, write_revision_0001
) -> None:
    write_revision_0001(postgres_url, old_batch())
    target = f"sqlite:///{tmp_path / 'all.db'}"
    (merged,) = merge_shards([postgres_url], target)
    assert merged.counts.runs == 2
    assert current_revision(postgres_url) == "0001"
    assert "***" in merged.display or "@" not in merged.display


def test_sources_are_opened_read_only(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(source) as store:
        store.merge(make_batch())
    digest = sha(tmp_path / "s.db")
    (tmp_path / "s.db").chmod(0o444)
    try:
        shard = read_shard(source)
    finally:
        (tmp_path / "s.db").chmod(0o644)
    assert len(shard.batch.runs) == 3
    assert sha(tmp_path / "s.db") == digest


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 't.db'}"
    with pytest.raises(ConfigError, match="no such file"):
        merge_shards([f"sqlite:///{tmp_path / 'typo.db'}"], target)
    with pytest.raises(ConfigError, match="is the target"):
        merge_shards([target], target)
    good = f"sqlite:///{tmp_path / 'g.db'}"
    open_store(good).close()
    with pytest.raises(ConfigError, match="given twice"):
        merge_shards([good, good], target)
    with pytest.raises(ConfigError, match="must be a database"):
        merge_shards(["memory://"], target)
    with pytest.raises(ConfigError, match="would be lost"):
        merge_shards([good], "memory://")
    foreign = tmp_path / "foreign.db"
    engine = sa.create_engine(f"sqlite:///{foreign}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER)")
    engine.dispose()
    with pytest.raises(StoreError, match="not a daskbench history database"):
        merge_shards([f"sqlite:///{foreign}"], target)
    future = tmp_path / "future.db"
    open_store(f"sqlite:///{future}").close()
    engine = sa.create_engine(f"sqlite:///{future}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    with pytest.raises(StoreError, match="unknown to this daskbench"):
        merge_shards([f"sqlite:///{future}"], target)
    assert not (tmp_path / "t.db").exists() or open_store(target).runs() == []


def test_shards_that_disagree_write_nothing(tmp_path: Path) -> None:
    a, b = (f"sqlite:///{tmp_path / n}" for n in ("a.db", "b.db"))
    with open_store(a) as store:
        store.merge(make_batch("x", n=2))
    other = make_batch("x", n=2)
    with open_store(b) as store:
        store.merge(
            Batch(
                (other.runs[0], dataclasses.replace(other.runs[1], scale="large")),
                other.results,
            )
        )
    target = f"sqlite:///{tmp_path / 't.db'}"
    with pytest.raises(StoreError, match=r"run 'x1': the run differs .*scale: 'large' != 'ci'"):
        merge_shards([a, b], target)
    with open_store(target) as store:
        assert store.runs() == []
