"""Store fixtures: one contract, every backend (memory, SQLite file, PostgreSQL).

PostgreSQL runs when ``DASKBENCH_TEST_POSTGRES_URL`` is set (``eval "$(bash
.ci/start-postgres.sh)"``); each test gets a fresh schema, dropped afterwards. Without the
variable those tests skip, except under ``CI=true`` where they fail: CI must not silently
lose the PostgreSQL coverage.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from daskbench.store import Store, open_store

POSTGRES_ENV = "DASKBENCH_TEST_POSTGRES_URL"


def postgres_server_url() -> str:
    """The test server's URL; skips (or fails under CI=true) when it is not configured."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        hint = f'{POSTGRES_ENV} is not set; run: eval "$(bash .ci/start-postgres.sh)"'
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {hint}")
        pytest.skip(hint)
    return url


@pytest.fixture
def postgres_urls() -> Iterator[Callable[[], str]]:
    """A factory of URLs, each of a fresh, empty schema (all dropped after the test)."""
    server = sa.make_url(postgres_server_url()).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server)
    schemas: list[str] = []

    def make() -> str:
        schema = f"daskbench_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        url = server.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_urls: Callable[[], str]) -> str:
    """A URL whose default schema is fresh and empty (``search_path`` set per connection)."""
    return postgres_urls()


_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


@pytest.fixture(params=["memory", "sqlite", _POSTGRES])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A URL of an empty store, for every backend."""
    return _url_for(request, tmp_path)


@pytest.fixture(params=["sqlite", _POSTGRES])
def sql_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A URL of an empty SQL database (persistence, migrations)."""
    return _url_for(request, tmp_path)


def _url_for(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{os.fspath(tmp_path)}/history.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store of every backend."""
    with open_store(store_url) as opened:
        yield opened


def _write_at_revision_0001(url: str, batch: Any) -> None:
    """Create the schema of revision 0001 (the first release: no acks) and write ``batch``'s
    runs and results with lightweight tables, as that release did."""
    from daskbench.store._engine import create_engine
    from daskbench.store._migrate import ensure_schema
    from daskbench.store._schema import UTCDateTime
    from daskbench.store._url import parse_store_url

    parsed = parse_store_url(url)
    engine = create_engine(parsed)
    runs_t = sa.table(
        "runs",
        *(sa.column(c) for c in ("id", "label", "scale", "command")),
        *(sa.column(c, UTCDateTime()) for c in ("started_at", "finished_at")),
        sa.column("environment", sa.JSON()),
    )
    results_t = sa.table(
        "results",
        *(sa.column(c) for c in ("id", "run_id", "test", "path", "repeat", "outcome", "error")),
        *(sa.column(c, UTCDateTime()) for c in ("started_at", "finished_at")),
    )
    measurements_t = sa.table(
        "measurements", *(sa.column(c) for c in ("result_id", "metric", "value", "unit"))
    )
    try:
        assert ensure_schema(engine, parsed, to="0001") == "0001"
        with engine.begin() as conn:
            conn.execute(
                sa.insert(runs_t),
                [{"id": r.id, "label": r.label, "scale": r.scale, "command": r.command,
                  "started_at": r.started_at, "finished_at": r.finished_at,
                  "environment": r.environment.to_dict()} for r in batch.runs],
            )  # fmt: skip
            rows = [
                {"id": i + 1, "run_id": r.run_id, "test": r.test, "path": r.path,
                 "repeat": r.repeat, "outcome": r.outcome.value, "error": r.error,
                 "started_at": r.started_at, "finished_at": r.finished_at}
                for i, r in enumerate(batch.results)
            ]  # fmt: skip
            if rows:
                conn.execute(sa.insert(results_t), rows)
            values = [
                {"result_id": i + 1, "metric": m.metric, "value": m.value, "unit": m.unit}
                for i, r in enumerate(batch.results)
                for m in r.measurements
            ]
            if values:
                conn.execute(sa.insert(measurements_t), values)
    finally:
        engine.dispose()


@pytest.fixture
def write_revision_0001() -> Callable[[str, Any], None]:
    """``write(url, batch)``: a history as daskbench's first release (revision 0001) wrote it."""
    return _write_at_revision_0001


# -- a real Dask cluster, shared by the integration and plugin tests ---------------------------
@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """A real LocalCluster (2 worker processes with nannies, so ``restart`` works)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        memory_limit="1GiB",
        dashboard_address=None,
        processes=True,
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def scheduler_address(dask_cluster: object) -> str:
    return str(dask_cluster.scheduler_address)  # type: ignore[attr-defined]
