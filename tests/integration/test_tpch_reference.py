"""Every TPC-H query of the suite matches duckdb running the SQL text, at ci scale (SF 0.01).

The data is generated exactly as the suite does (on a cluster, one task per file); the dask
queries run on that cluster, the reference runs in duckdb on the same parquet files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from daskbench.suite._datagen import MARKER
from daskbench.suite._tpch import QUERIES, SQL, Tables, assert_matches, reference
from daskbench.suite._tpch_data import TABLES, ensure_tpch, table_rows

duckdb = pytest.importorskip("duckdb")

pytestmark = [
    pytest.mark.slow,
    # dask's parquet reader calls reset_index(inplace=True), deprecated in pandas 3.1
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame"),
]

SF = 0.01


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def tpch_url(client, tmp_path_factory):
    return ensure_tpch(client, str(tmp_path_factory.mktemp("data")), SF)


def test_every_query_has_a_reference_and_there_are_at_least_eight():
    assert set(QUERIES) == set(SQL)
    assert len(QUERIES) >= 8


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_query_matches_duckdb(client, tpch_url, query):
    result = QUERIES[query](Tables(tpch_url))
    expected = reference(query, tpch_url)
    assert len(expected) > 0, "the reference is empty: the query tests nothing"
    assert_matches(result, expected)


def test_generated_tables_have_expected_sizes_and_marker(tpch_url):
    root = Path(tpch_url)
    marker = json.loads((root / MARKER).read_text())
    assert marker["sf"] == SF
    for table in TABLES:
        frame = pd.read_parquet(root / table)
        if table != "lineitem":
            assert len(frame) == table_rows(table, SF), table
    lineitem = pd.read_parquet(root / "lineitem", columns=["l_orderkey"])
    assert 1 * table_rows("orders", SF) <= len(lineitem) <= 7 * table_rows("orders", SF)


def test_generation_is_cached_and_deterministic(client, tpch_url, tmp_path):
    before = (Path(tpch_url) / "orders" / "part-00000.parquet").stat().st_mtime_ns
    assert ensure_tpch(client, str(Path(tpch_url).parents[1]), SF) == tpch_url
    after = (Path(tpch_url) / "orders" / "part-00000.parquet").stat().st_mtime_ns
    assert before == after  # reused, not regenerated
    # a second generation elsewhere produces identical data
    other = ensure_tpch(client, str(tmp_path), SF)
    for table in ("orders", "lineitem", "customer"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(Path(other) / table), pd.read_parquet(Path(tpch_url) / table)
        )


def test_interrupted_generation_is_redone(client, tmp_path):
    url = ensure_tpch(client, str(tmp_path), 0.001)
    (Path(url) / MARKER).unlink()
    (Path(url) / "orders" / "part-00000.parquet").write_bytes(b"truncated")
    ensure_tpch(client, str(tmp_path), 0.001)
    assert (Path(url) / MARKER).exists()
    assert len(pd.read_parquet(Path(url) / "orders")) == table_rows("orders", 0.001)
