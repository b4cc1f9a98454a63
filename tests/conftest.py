"""Store fixtures: one contract, every backend (memory, SQLite file, PostgreSQL).

PostgreSQL runs when ``DASKBENCH_TEST_POSTGRES_URL`` is set (``eval "$(bash
.ci/start-postgres.sh)"``); each test gets a fresh schema, dropped afterwards. Without the
variable those tests skip, except under ``CI=true`` where they fail: CI must not silently
lose the PostgreSQL coverage.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
def postgres_url() -> Iterator[str]:
    """A URL whose default schema is fresh and empty (``search_path`` set per connection)."""
    server = sa.make_url(postgres_server_url()).set(drivername="postgresql+psycopg")
    schema = f"daskbench_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = server.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


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
