"""PostgreSQL specifics. The whole store contract also runs against PostgreSQL: the
``store_url``/``sql_url`` fixtures in tests/conftest.py include a ``postgres`` backend, so

    eval "$(bash .ci/start-postgres.sh)"
    pytest -m postgres

runs every store test on the server (each in a fresh schema). Without the server they skip,
and fail under ``CI=true``; the last test here checks that gate end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from daskbench.errors import StoreError
from daskbench.models import Measurement, Result, Run
from daskbench.store import current_revision, head_revision, open_store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _with_options(url: str, extra: str) -> str:
    parsed = sa.make_url(url)
    options = f"{parsed.query.get('options', '')} {extra}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@pytest.mark.postgres
def test_timestamps_are_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    kolkata = _with_options(postgres_url, "-ctimezone=Asia/Kolkata")
    started = datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    with open_store(kolkata) as store:
        store.add_run(Run("r1", "main", started))
        store.add_result(Result("r1", "test_a", 0, "passed", started, started))
        with store._engine.connect() as conn:  # type: ignore[attr-defined]
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "Asia/Kolkata"
        run, (result,) = store.get_run("r1"), store.results()
    for value in (run.started_at, result.started_at, result.finished_at):
        assert value == started
        assert value.tzinfo == UTC
        assert value == datetime(2025, 3, 2, 4, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.postgres
def test_tables_live_in_the_schema_of_the_url(postgres_url: str) -> None:
    open_store(postgres_url).close()
    schema = sa.make_url(postgres_url).query["options"].split("=", 1)[1]
    engine = sa.create_engine(sa.make_url(postgres_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()
    assert tables == {"alembic_version", "runs", "results", "measurements", "acks"}


_OPEN_AND_WRITE = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from daskbench.models import Measurement, Result, Run
    from daskbench.store import open_store

    url, run_id = sys.argv[1], sys.argv[2]
    now = datetime.now(UTC)
    with open_store(url) as store:  # both processes find an empty schema and migrate it
        store.add_run(Run(run_id, run_id, now))
        store.add_results([Result(run_id, f"test_{i}", 0, "passed", now, now,
                                  (Measurement("wall_time", i, "s"),)) for i in range(50)])
    """
)


@pytest.mark.postgres
def test_two_processes_opening_a_new_database(postgres_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_WRITE, postgres_url, run_id], stderr=subprocess.PIPE
        )
        for run_id in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert current_revision(postgres_url) == head_revision()
    with open_store(postgres_url) as store:
        assert store.labels() == ["a", "b"]
        assert len(store.results()) == 100


@pytest.mark.postgres
def test_wrong_password_is_a_one_line_error_without_it(postgres_url: str) -> None:
    wrong = sa.make_url(postgres_url).set(password="not-the-pw-xyzzy")
    with pytest.raises(StoreError, match="password authentication failed") as info:
        open_store(wrong.render_as_string(hide_password=False))
    assert "xyzzy" not in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.postgres
def test_bulk_import_on_postgres(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        for day in range(20):
            store.add_run(Run(f"r{day:02d}", "main", T0 + timedelta(days=day)))
        store.add_results(
            [
                Result(f"r{day:02d}", f"test_{t}", 0, "passed", T0, T0,
                       (Measurement("wall_time", day + t / 100, "s"), Measurement("n_tasks", t)))
                for day in range(20)
                for t in range(100)
            ]
        )  # fmt: skip
        back = store.results(test="test_7")
    assert [r.run_id for r in back] == [f"r{day:02d}" for day in range(20)]
    assert back[3].metrics == {"n_tasks": 7.0, "wall_time": 3.07}


@pytest.mark.parametrize(("ci", "outcome"), [("true", "error"), ("", "skipped")])
def test_missing_server_fails_under_ci_and_skips_otherwise(ci: str, outcome: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DASKBENCH_TEST_POSTGRES_URL"}
    env["CI"] = ci
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:daskbench", "-q",
            "-m", "postgres",
            "tests/unit/test_store.py::test_satisfies_protocol",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert f"1 {outcome}" in proc.stdout, proc.stdout + proc.stderr
    assert (proc.returncode != 0) == (outcome == "error")
    if outcome == "error":
        assert "CI=true but DASKBENCH_TEST_POSTGRES_URL is not set" in proc.stdout
