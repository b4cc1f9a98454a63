"""TPC-H-style queries with dask.dataframe on locally generated parquet data.

The scale factor comes from the cluster memory (``Sizing.tpch_scale_factor``: SF 0.01 at
ci, SF 100 for ~10 workers at large). At every scale the result's shape is checked; at ci
(where it is cheap) the full answer is compared with duckdb running the SQL text of the
query on the same files.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pandas as pd
import pytest
from distributed import Client

from daskbench.suite._sizing import Sizing
from daskbench.suite._tpch import QUERIES, Tables, assert_matches, reference
from daskbench.suite._tpch_data import table_rows

pytestmark = pytest.mark.tpch

_HAS_DUCKDB = importlib.util.find_spec("duckdb") is not None


def _check_shape(query: int, result: pd.DataFrame, sf: float) -> None:
    """Invariants that hold at any scale factor."""
    n = len(result)
    if query == 1:
        assert n == 4  # (A,F) (N,F) (N,O) (R,F)
        assert result["count_order"].sum() > 0
    elif query == 3:
        assert 0 < n <= 10
        assert result["revenue"].is_monotonic_decreasing
    elif query == 4:
        assert n == 5
    elif query == 5:
        assert 0 < n <= 5
        assert result["revenue"].is_monotonic_decreasing
    elif query == 6:
        assert n == 1
        assert result["revenue"].iloc[0] > 0
    elif query == 10:
        assert 0 < n <= 20
        assert result["revenue"].is_monotonic_decreasing
    elif query == 12:
        assert list(result["l_shipmode"]) == ["MAIL", "SHIP"]
    elif query == 13:
        assert result["custdist"].sum() == table_rows("customer", sf)
    elif query == 14:
        assert n == 1
        assert 0 < result["promo_revenue"].iloc[0] < 100


def _run_query(query: int, benchmark: Any, sizing: Sizing, url: str) -> None:
    expected = reference(query, url) if sizing.is_ci and _HAS_DUCKDB else None
    tables = Tables(url)

    with benchmark():
        result = QUERIES[query](tables)

    _check_shape(query, result, sizing.tpch_scale_factor())
    if expected is not None:
        assert_matches(result, expected)


def test_tpch_q1(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q1: scan and filter lineitem, aggregate eight measures into four groups.

    A scan-heavy query: regressions point at parquet reading, filtering or groupby-agg.
    """
    _run_query(1, benchmark, sizing, tpch_data)


def test_tpch_q3(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q3: three-table join, group by order, top 10 by revenue.

    Two large shuffled joins followed by a high-cardinality groupby and nlargest.
    """
    _run_query(3, benchmark, sizing, tpch_data)


def test_tpch_q4(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q4: semi-join of orders with late lineitems, counted by priority.

    Exercises drop_duplicates and a join whose build side shrinks a lot after filtering.
    """
    _run_query(4, benchmark, sizing, tpch_data)


def test_tpch_q5(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q5: six-table join restricted to one region, revenue per nation.

    The widest join of the set; sensitive to join ordering and broadcast decisions.
    """
    _run_query(5, benchmark, sizing, tpch_data)


def test_tpch_q6(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q6: selective predicate over lineitem and one global sum.

    Pure scan + filter: predicate/projection pushdown and parquet throughput.
    """
    _run_query(6, benchmark, sizing, tpch_data)


def test_tpch_q10(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q10: four-table join, groupby on seven (mostly string) keys, top 20.

    String-heavy group keys stress hashing and the shuffle of wide rows.
    """
    _run_query(10, benchmark, sizing, tpch_data)


def test_tpch_q12(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q12: filtered orders-lineitem join with conditional counts per ship mode.

    A large-large join where one side is filtered by column-to-column comparisons.
    """
    _run_query(12, benchmark, sizing, tpch_data)


def test_tpch_q13(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q13: left outer join with a regex filter, then a groupby of a groupby.

    Outer joins and string pattern matching on comments; two aggregation stages.
    """
    _run_query(13, benchmark, sizing, tpch_data)


def test_tpch_q14(client: Client, benchmark: Any, sizing: Sizing, tpch_data: str) -> None:
    """TPC-H Q14: one month of lineitem joined with part, ratio of two conditional sums.

    A join with a dimension table followed by reductions computed in one pass.
    """
    _run_query(14, benchmark, sizing, tpch_data)
