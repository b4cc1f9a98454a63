"""The store contract, run against every backend (fixtures in tests/conftest.py), plus
URL parsing, migrations and SQLite specifics.

PostgreSQL instances of these tests carry the ``postgres`` marker: ``pytest -m postgres``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from daskbench.errors import ConfigError, NotFoundError, StoreError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import (
    Ack,
    MemoryStore,
    Store,
    current_revision,
    head_revision,
    open_store,
    upgrade,
)
from daskbench.store._engine import create_engine
from daskbench.store._migrate import ensure_schema, known_revisions
from daskbench.store._schema import UTCDateTime, metadata
from daskbench.store._url import parse_store_url

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


def make_run(run_id: str = "r1", label: str = "main", *, at: datetime = T0, **kw) -> Run:
    return Run(id=run_id, label=label, started_at=at, **kw)


def make_result(
    run_id: str = "r1", test: str = "test_sum", *, repeat: int = 0, at: datetime = T0, **kw
) -> Result:
    kw.setdefault("measurements", (Measurement("wall_time", 1.25, "s"),))
    return Result(
        run_id=run_id,
        test=test,
        repeat=repeat,
        outcome=kw.pop("outcome", Outcome.PASSED),
        started_at=at,
        finished_at=at + timedelta(seconds=2),
        **kw,
    )


@contextmanager
def count_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


# -- the contract: every backend -----------------------------------------------------------


def test_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_run_round_trip_keeps_everything_and_returns_utc(store: Store) -> None:
    env = Environment(
        python_version="3.11.9",
        platform="Linux-6.1-x86_64",
        cpu_model="AMD EPYC",
        cpu_count=8,
        memory_total=32 * 2**30,
        packages={"dask": "2025.1.0", "numpy": "2.1.0"},
        dask_config={"distributed": {"worker": {"memory": {"target": 0.6}}}},
        cluster={"workers": 4, "threads_per_worker": 2},
        git_commit="abc123",
        git_dirty=False,
        extra={"ci": "github", "runner": ["ubuntu", "x64"]},
    )
    started = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=CEST)
    run = Run("r1", "main", started, scale="large", command="daskbench run -k sum", environment=env)
    store.add_run(run)

    back = store.get_run("r1")
    assert back == run
    assert back.started_at.utcoffset() == timedelta(0)
    assert back.started_at == datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert back.finished_at is None
    assert back.environment.diff(env) == {}
    assert back.revision == "abc123"


def test_environment_is_stored_as_json(store: Store) -> None:
    store.add_run(make_run(environment=Environment(cluster={"sizes": (1, 2)})))
    assert store.get_run("r1").environment.cluster == {"sizes": [1, 2]}


def test_finish_run(store: Store) -> None:
    store.add_run(make_run())
    store.finish_run("r1", datetime(2025, 3, 1, 15, 0, tzinfo=CEST))
    assert store.get_run("r1").finished_at == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
    assert store.get_run("r1").finished_at.tzinfo == UTC  # type: ignore[union-attr]


def test_finish_run_unknown_or_naive(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        store.finish_run("nope", T0)
    store.add_run(make_run())
    with pytest.raises(ConfigError, match="timezone-aware"):
        store.finish_run("r1", datetime(2025, 1, 1))


def test_result_round_trip(store: Store) -> None:
    store.add_run(make_run())
    result = make_result(
        at=datetime(2025, 3, 1, 14, 0, 0, 1, tzinfo=CEST),
        measurements=(
            Measurement("wall_time", 0.1 + 0.2, "s"),
            Measurement("peak_memory", 3 * 2**30, "B"),
            Measurement("tiny", 5e-300),
            Measurement("huge", -1.7976931348623157e308, "x"),
        ),
        outcome=Outcome.FAILED,
        error="AssertionError: boom\n  with a second line ✓",
        path="benchmarks/test_array.py",
        repeat=3,
    )
    stored = store.add_result(result)

    assert stored.id is not None
    (back,) = store.results()
    assert back == stored
    assert back.id == stored.id
    assert back.metrics == result.metrics  # exact floats
    assert [m.metric for m in back.measurements] == ["huge", "peak_memory", "tiny", "wall_time"]
    assert back.value("peak_memory") == 3 * 2**30
    assert back.outcome is Outcome.FAILED
    assert back.error == result.error
    assert (back.path, back.repeat) == ("benchmarks/test_array.py", 3)
    assert back.started_at == result.started_at
    assert back.started_at.tzinfo == UTC
    assert back.finished_at.tzinfo == UTC


def test_result_without_measurements(store: Store) -> None:
    store.add_run(make_run())
    store.add_result(make_result(outcome=Outcome.SKIPPED, measurements=()))
    (back,) = store.results()
    assert back.measurements == ()
    assert back.outcome is Outcome.SKIPPED


def test_result_ids_increase(store: Store) -> None:
    store.add_run(make_run())
    ids = [store.add_result(make_result(repeat=i)).id for i in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


def test_runs_are_ordered_by_start_then_id(store: Store) -> None:
    for run_id, hours in [("c", 1), ("b", 0), ("B", 1), ("a-1", 1), ("a1", 2)]:
        store.add_run(make_run(run_id, at=T0 + timedelta(hours=hours)))
    # Code point order (Python's), whatever the database's collation.
    assert [r.id for r in store.runs()] == ["b", "B", "a-1", "c", "a1"]


def test_runs_filter_by_label(store: Store) -> None:
    store.add_run(make_run("r1", "main"))
    store.add_run(make_run("r2", "pr-1"))
    store.add_run(make_run("r3", "main", at=T0 - timedelta(days=1)))
    assert [r.id for r in store.runs(label="main")] == ["r3", "r1"]
    assert [r.id for r in store.runs(label="pr-1")] == ["r2"]
    assert store.runs(label="nope") == []


def test_labels_distinct_and_sorted(store: Store) -> None:
    assert store.labels() == []
    for i, label in enumerate(["main", "Zeta", "a-b", "ab", "main", "ä"]):
        store.add_run(make_run(f"r{i}", label))
    assert store.labels() == ["Zeta", "a-b", "ab", "main", "ä"]


def test_results_ordering(store: Store) -> None:
    # run "late" started later but its results were inserted first
    store.add_run(make_run("late", at=T0 + timedelta(days=1)))
    store.add_run(make_run("early", at=T0))
    late = store.add_result(make_result("late", "test_a", at=T0 + timedelta(days=1)))
    second = store.add_result(make_result("early", "test_b", at=T0 + timedelta(minutes=5)))
    first = store.add_result(make_result("early", "test_a", at=T0 + timedelta(minutes=1)))
    tie_1 = store.add_result(make_result("early", "test_c", at=T0 + timedelta(minutes=5)))
    assert [r.id for r in store.results()] == [first.id, second.id, tie_1.id, late.id]


def test_results_filters(store: Store) -> None:
    store.add_run(make_run("m1", "main", at=T0))
    store.add_run(make_run("m2", "main", at=T0 + timedelta(days=1)))
    store.add_run(make_run("p1", "pr", at=T0 + timedelta(days=2)))
    for run_id in ("m1", "m2", "p1"):
        for test in ("test_a", "test_b"):
            store.add_result(make_result(run_id, test))

    def key(results: list[Result]) -> list[tuple[str, str]]:
        return [(r.run_id, r.test) for r in results]

    assert len(store.results()) == 6
    assert key(store.results(run_id="m2")) == [("m2", "test_a"), ("m2", "test_b")]
    assert key(store.results(label="main", test="test_b")) == [("m1", "test_b"), ("m2", "test_b")]
    assert key(store.results(test="test_a")) == [
        ("m1", "test_a"),
        ("m2", "test_a"),
        ("p1", "test_a"),
    ]
    assert key(store.results(run_id="p1", label="main")) == []
    assert store.results(run_id="nope") == []
    assert store.results(test="nope") == []
    assert all(r.measurements for r in store.results(label="pr"))


def test_get_run_unknown(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        store.get_run("nope")


def test_duplicate_run_id(store: Store) -> None:
    store.add_run(make_run("r1", "main"))
    with pytest.raises(StoreError, match="'r1' already exists") as info:
        store.add_run(make_run("r1", "other"))
    assert not isinstance(info.value, NotFoundError)
    assert store.get_run("r1").label == "main"
    assert store.labels() == ["main"]


def test_add_result_to_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.add_result(make_result("ghost"))
    assert store.results() == []


def test_add_results_bulk(store: Store) -> None:
    store.add_run(make_run("r1", at=T0))
    store.add_run(make_run("r2", at=T0 + timedelta(hours=1)))
    batch = [
        make_result(
            run_id,
            f"test_{t}",
            repeat=rep,
            at=T0 + timedelta(hours=h, minutes=t, seconds=rep),
            measurements=(Measurement("wall_time", t + rep / 10, "s"), Measurement("n_tasks", t)),
        )
        for h, run_id in enumerate(["r1", "r2"])
        for t in range(10)
        for rep in range(2)
    ]
    store.add_results(batch)
    back = store.results()
    assert len(back) == 40
    ids = [r.id for r in back]
    assert ids == sorted(ids)  # ids follow input order, and so does this ordering
    assert [(r.run_id, r.test, r.repeat, r.metrics) for r in back] == [
        (r.run_id, r.test, r.repeat, r.metrics) for r in batch
    ]
    assert back[-1].measurements[0].metric == "n_tasks"  # sorted by name
    store.add_results([])
    assert len(store.results()) == 40


def test_add_results_is_all_or_nothing(store: Store) -> None:
    store.add_run(make_run("r1"))
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.add_results([make_result("r1", "test_a"), make_result("ghost", "test_b")])
    assert store.results() == []


def test_add_runs_with_results(store: Store) -> None:
    store.add_run(make_run("old", at=T0 - timedelta(hours=1)))
    new_runs = [make_run("r1", at=T0 + timedelta(hours=1)), make_run("r2", "pr", at=T0)]
    batch = [make_result("r1", "test_a"), make_result("r2", "test_b"), make_result("old", "x")]
    store.add_runs_with_results(new_runs, batch)
    assert [r.id for r in store.runs()] == ["old", "r2", "r1"]
    assert [(r.run_id, r.test) for r in store.results()] == [
        ("old", "x"),
        ("r2", "test_b"),
        ("r1", "test_a"),
    ]
    store.add_runs_with_results([], [])
    assert len(store.results()) == 3


@pytest.mark.parametrize(
    ("runs", "results", "error", "match"),
    [
        (["r1", "old"], ["r1"], StoreError, r"run 'old' already exists.*nothing written"),
        (["r1", "r1"], ["r1"], StoreError, r"run 'r1' .*already exists"),
        (["r1", "r2"], ["r1", "ghost"], NotFoundError, "'ghost'"),
    ],
)
def test_add_runs_with_results_is_all_or_nothing(
    store: Store, runs: list[str], results: list[str], error: type[Exception], match: str
) -> None:
    store.add_run(make_run("old"))
    with pytest.raises(error, match=match):
        store.add_runs_with_results(
            [make_run(r) for r in runs],
            [make_result(r, f"test_{i}") for i, r in enumerate(results)],
        )
    assert [r.id for r in store.runs()] == ["old"]
    assert store.results() == []


def test_read_only_store_reads_and_refuses_every_write(store_url: str) -> None:
    if store_url != "memory://":
        with open_store(store_url) as store:
            store.add_run(make_run())
            store.add_result(make_result())
    with open_store(store_url, mode="read") as store:
        assert store.read_only
        expected = [] if store_url == "memory://" else ["r1"]
        assert [r.id for r in store.runs()] == expected
        writes = [
            lambda: store.add_run(make_run("r2")),
            lambda: store.finish_run("r1", T0),
            lambda: store.add_result(make_result()),
            lambda: store.add_results([make_result()]),
            lambda: store.add_runs_with_results([make_run("r3")], []),
            lambda: store.add_ack(Ack("r1", "test_sum", "wall_time", "why", T0)),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="read-only"):
                write()
        assert [r.id for r in store.runs()] == expected
    with pytest.raises(ConfigError, match="mode"):
        open_store(store_url, mode="append")  # type: ignore[arg-type]


def _tables(url: str) -> list[str]:
    engine = create_engine(parse_store_url(url))
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_read_mode_never_creates_a_database(sql_url: str) -> None:
    with pytest.raises(StoreError, match=r"no history database|holds no daskbench history"):
        open_store(sql_url, mode="read")
    if sql_url.startswith("sqlite"):
        assert not parse_store_url(sql_url).sqlite_path.parent.joinpath("history.db").exists()
        assert list(parse_store_url(sql_url).sqlite_path.parent.iterdir()) == []
    else:
        assert _tables(sql_url) == []  # empty schema: still empty


def test_read_mode_on_an_empty_database_changes_nothing(sql_url: str) -> None:
    engine = create_engine(parse_store_url(sql_url))  # an empty SQLite file / schema
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="holds no daskbench history"):
        open_store(sql_url, mode="read")
    assert _tables(sql_url) == []


def test_read_mode_refuses_an_older_revision_and_says_how_to_upgrade(sql_url: str) -> None:
    oldest = known_revisions()[0]
    engine = create_engine(parse_store_url(sql_url))
    try:
        ensure_schema(engine, parse_store_url(sql_url), to=oldest)
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"older than .* daskbench db upgrade --db"):
        open_store(sql_url, mode="read")
    assert current_revision(sql_url) == oldest  # not migrated
    upgrade(sql_url)
    with open_store(sql_url, mode="read") as store:
        assert store.runs() == []


def test_ack_round_trip_and_order(store: Store) -> None:
    store.add_run(make_run("r1"))
    store.add_run(make_run("r2", at=T0 + timedelta(hours=1)))
    later = Ack("r2", "test_a", "peak_memory", "trade memory for speed", T0, author="ana")
    stored = store.add_ack(later)
    assert stored.id is not None
    assert stored == dataclasses.replace(later, id=stored.id)
    tied = store.add_ack(Ack("r1", "test_a", "wall_time", "same time", T0))
    earlier = datetime(2025, 2, 28, 14, 0, tzinfo=CEST)
    store.add_ack(Ack("r1", "test_b", "wall_time", "new algorithm", earlier))

    back = store.acks()
    assert [a.reason for a in back] == ["new algorithm", "trade memory for speed", "same time"]
    assert back[0].created_at == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    assert back[0].created_at.utcoffset() == timedelta(0)
    assert back[1:] == [stored, tied]
    assert [a.reason for a in store.acks(test="test_a")] == ["trade memory for speed", "same time"]
    assert store.acks(test="nope") == []


def test_ack_of_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.add_ack(Ack("ghost", "test_a", "wall_time", "why", T0))
    assert store.acks() == []


def test_ack_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"Ack\.reason"):
        Ack("r1", "test_a", "wall_time", "", T0)
    with pytest.raises(ConfigError, match="timezone-aware"):
        Ack("r1", "test_a", "wall_time", "why", datetime(2025, 1, 1))


def test_closed_store_refuses_work(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.labels()


def test_memory_urls_give_fresh_stores() -> None:
    one, two = open_store("memory://"), open_store("memory://")
    assert isinstance(one, MemoryStore)
    one.add_run(make_run())
    assert two.runs() == []
    assert current_revision("memory://") == head_revision()


# -- SQL only: persistence, transactions, efficiency ----------------------------------------


def test_persists_across_reopen(sql_url: str) -> None:
    with open_store(sql_url) as store:
        store.add_run(make_run(environment=Environment(packages={"dask": "2025.1"})))
        stored = store.add_result(make_result())
        store.finish_run("r1", T0 + timedelta(hours=1))
    with open_store(sql_url) as store:
        assert store.results() == [stored]
        assert store.get_run("r1").finished_at == T0 + timedelta(hours=1)
        assert store.get_run("r1").environment.packages == {"dask": "2025.1"}


def test_each_result_is_committed_immediately(sql_url: str) -> None:
    writer = open_store(sql_url)
    writer.add_run(make_run())
    writer.add_result(make_result())
    # the writer "crashes" before closing: another process still sees the result
    with open_store(sql_url) as reader:
        assert len(reader.results(run_id="r1")) == 1
    writer.close()


def test_reading_a_label_takes_constant_queries(sql_url: str) -> None:
    with open_store(sql_url) as store:
        batch = []
        for day in range(30):
            store.add_run(make_run(f"r{day}", at=T0 + timedelta(days=day)))
            batch += [make_result(f"r{day}", f"test_{t}") for t in range(10)]
        store.add_results(batch)
        with count_queries() as statements:
            results = store.results(label="main")
        assert len(results) == 300
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) <= 2, statements


def test_url_can_be_reopened(sql_url: str) -> None:
    with open_store(sql_url) as store:
        store.add_run(make_run())
        url = store.url
    with open_store(url) as again:
        assert again.labels() == ["main"]


# -- migrations ------------------------------------------------------------------------------


def test_new_database_is_created_at_head(sql_url: str) -> None:
    assert current_revision(sql_url) is None
    open_store(sql_url).close()
    assert current_revision(sql_url) == head_revision()
    assert upgrade(sql_url) == head_revision()  # idempotent


def test_upgrade_creates_the_schema(sql_url: str) -> None:
    assert upgrade(sql_url) == head_revision()
    assert current_revision(sql_url) == head_revision()
    with open_store(sql_url) as store:
        assert store.labels() == []


def test_metadata_matches_migrated_schema(sql_url: str) -> None:
    open_store(sql_url).close()
    engine = create_engine(parse_store_url(sql_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("revision", known_revisions())
def test_data_survives_migration_from_each_revision(sql_url: str, revision: str) -> None:
    parsed = parse_store_url(sql_url)
    engine = create_engine(parsed)
    try:
        assert ensure_schema(engine, parsed, to=revision) == revision
        # Write with lightweight table constructs: the schema of `revision`, not of today.
        runs_t = sa.table(
            "runs",
            *(sa.column(c) for c in ("id", "label", "scale", "command")),
            sa.column("started_at", UTCDateTime()),
            sa.column("environment", sa.JSON()),
        )
        results_t = sa.table(
            "results",
            *(sa.column(c) for c in ("id", "run_id", "test", "path", "repeat", "outcome")),
            sa.column("started_at", UTCDateTime()),
            sa.column("finished_at", UTCDateTime()),
        )
        measurements_t = sa.table(
            "measurements", *(sa.column(c) for c in ("result_id", "metric", "value", "unit"))
        )
        with engine.begin() as conn:
            conn.execute(
                sa.insert(runs_t),
                {"id": "old", "label": "main", "scale": "ci", "command": "",
                 "started_at": T0, "environment": {"git_commit": "abc"}},
            )  # fmt: skip
            conn.execute(
                sa.insert(results_t),
                {"id": 7, "run_id": "old", "test": "test_a", "path": "", "repeat": 0,
                 "outcome": "passed", "started_at": T0, "finished_at": T0},
            )  # fmt: skip
            conn.execute(
                sa.insert(measurements_t),
                {"result_id": 7, "metric": "wall_time", "value": 2.5, "unit": "s"},
            )
    finally:
        engine.dispose()
    assert current_revision(sql_url) == revision

    with open_store(sql_url) as store:  # migrates to head
        assert current_revision(sql_url) == head_revision()
        assert store.get_run("old").revision == "abc"
        (result,) = store.results(label="main")
        assert (result.id, result.metrics, result.started_at) == (7, {"wall_time": 2.5}, T0)


def test_downgrade_and_upgrade_round_trip(sql_url: str) -> None:
    from alembic import command

    from daskbench.store._migrate import alembic_config

    open_store(sql_url).close()
    engine = create_engine(parse_store_url(sql_url))
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert current_revision(sql_url) is None
    with open_store(sql_url) as store:
        store.add_run(make_run())
    assert current_revision(sql_url) == head_revision()


def test_database_from_a_newer_daskbench_is_refused(sql_url: str) -> None:
    open_store(sql_url).close()
    engine = create_engine(parse_store_url(sql_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"'9999_future', unknown to this daskbench.*newer"):
        open_store(sql_url)
    assert current_revision(sql_url) == "9999_future"


def test_foreign_database_is_refused_and_untouched(sql_url: str) -> None:
    engine = create_engine(parse_store_url(sql_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            conn.exec_driver_sql("INSERT INTO customers VALUES (1, 'ada')")
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"not a daskbench history database.*customers"):
        open_store(sql_url)
    with pytest.raises(StoreError, match="not a daskbench history database"):
        upgrade(sql_url)
    with pytest.raises(StoreError, match="not a daskbench history database"):
        current_revision(sql_url)
    engine = create_engine(parse_store_url(sql_url))
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["customers"]
    finally:
        engine.dispose()


# -- SQLite specifics --------------------------------------------------------------------------


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match=r"notes\.db is not a SQLite database") as info:
        open_store(f"sqlite:///{path}")
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match="not a SQLite database"):
        current_revision(str(path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_sqlite_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = create_engine(parse_store_url(str(path)))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_relative_and_bare_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db") as store:
        assert store.url == f"sqlite:///{tmp_path / 'rel.db'}"
        store.add_run(make_run())
    with open_store("rel.db") as store:
        assert store.labels() == ["main"]
    with open_store("sqlite:///sub/dir/new.sqlite") as store:
        store.add_run(make_run())
    assert (tmp_path / "sub" / "dir" / "new.sqlite").is_file()


def test_current_revision_does_not_create_files(tmp_path: Path) -> None:
    assert current_revision(f"sqlite:///{tmp_path}/absent.db") is None
    assert list(tmp_path.iterdir()) == []


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from daskbench.models import Measurement, Result, Run
    from daskbench.store import open_store

    url, run_id = sys.argv[1], sys.argv[2]
    with open_store(url) as store:  # both may find a new file: one creates, one waits
        store.add_run(Run(run_id, run_id, datetime.now(UTC)))
        for i in range(40):
            now = datetime.now(UTC)
            store.add_result(Result(run_id, f"test_{i}", 0, "passed", now, now,
                                    (Measurement("wall_time", i, "s"),)))
    """
)


def test_sqlite_concurrent_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ab.db'}"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, run_id], stderr=subprocess.PIPE)
        for run_id in ("a", "b")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    with open_store(url) as store:
        assert len(store.results(label="a")) == len(store.results(label="b")) == 40


@pytest.mark.slow
def test_sqlite_bulk_import_of_a_year(tmp_path: Path) -> None:
    """100 tests x 365 runs x 6 metrics = 219,000 measurements, imported in seconds."""
    metrics = ("wall_time", "avg_memory", "peak_memory", "compute_time", "transfer_time", "n_tasks")
    runs = [make_run(f"run-{d:03d}", "main", at=T0 + timedelta(days=d)) for d in range(365)]
    batch = [
        make_result(
            run.id,
            f"test_{t:03d}",
            at=run.started_at + timedelta(seconds=t),
            measurements=tuple(Measurement(m, d * 1000.0 + t + i) for i, m in enumerate(metrics)),
        )
        for d, run in enumerate(runs)
        for t in range(100)
    ]
    with open_store(f"sqlite:///{tmp_path / 'year.db'}") as store:
        for run in runs:
            store.add_run(run)
        start = time.perf_counter()
        store.add_results(batch)
        imported = time.perf_counter() - start
        start = time.perf_counter()
        back = store.results(label="main")
        read = time.perf_counter() - start
    assert len(back) == 36_500
    assert sum(len(r.measurements) for r in back) == 219_000
    assert back[-1].metrics["n_tasks"] == 364 * 1000.0 + 99 + 5
    # generous bounds for a loaded 2-core CI machine; typically ~3 s and ~1 s
    assert imported < 30, imported
    assert read < 20, read


# -- URLs and connection errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("", "non-empty"),
        ("mysql://u:hunter2@host/db", "unknown store URL scheme 'mysql'"),
        ("http://example.com/x", "unknown store URL scheme 'http'"),
        ("notes.txt", "unknown store URL 'notes.txt'"),
        ("memory://named", "unknown store URL scheme 'memory'"),
        ("sqlite://", "needs a SQLite file path"),
        ("sqlite:///:memory:", "needs a SQLite file path"),
        ("postgresql://u:hunter2@host", "names no database"),
        ("postgresql+psycopg2://u:hunter2@host/db", "only the psycopg 3 driver"),
        ("postgresql://u:hunter2@host:notaport/db", "malformed store URL"),
    ],
)
def test_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        open_store(url)
    message = str(info.value)
    assert "\n" not in message
    assert "hunter2" not in message
    if url:
        assert url.split("://")[0] in message


def test_postgres_urls_use_psycopg3() -> None:
    for url in ("postgresql://u:pw@h/db", "postgres://u:pw@h/db", "postgresql+psycopg://u@h/db"):
        parsed = parse_store_url(url)
        assert parsed.kind == "postgresql"
        assert parsed.url is not None
        assert parsed.url.drivername == "postgresql+psycopg"
        assert "pw" not in parsed.display


def test_unreachable_postgres_is_a_one_line_store_error() -> None:
    with pytest.raises(StoreError, match=r"cannot open .*127\.0\.0\.1:1/db") as info:
        open_store("postgresql://bench:hunter2@127.0.0.1:1/db?connect_timeout=3")
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_missing_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'daskbench\[postgres\]'"):
        open_store("postgresql://u:pw@127.0.0.1:1/db")


def test_unusable_sqlite_location(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError, match=r"cannot create the directory of .*file/sub/h\.db"):
        open_store(f"sqlite:///{tmp_path}/file/sub/h.db")
