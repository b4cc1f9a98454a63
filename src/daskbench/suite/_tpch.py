"""TPC-H queries written with dask.dataframe, and independent SQL references run by duckdb.

Each query is a function ``tables -> pandas.DataFrame``: it builds the dask expression from
:class:`Tables`, computes it, and applies the final ORDER BY / LIMIT on the (small) result::

    tables = Tables(ensure_tpch(client, data_dir, 0.01))
    result = QUERIES[1](tables)
    assert_matches(result, reference(1, tables.url))

The references are the TPC-H SQL texts (with the spec's default substitution parameters),
executed by duckdb on the same parquet files, so a dask bug cannot hide in both answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from daskbench.suite._datagen import join_url

__all__ = ["QUERIES", "SQL", "Tables", "assert_matches", "reference"]


class Tables:
    """Lazy access to the TPC-H tables under ``url``: ``tables["lineitem"]``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __getitem__(self, table: str) -> Any:
        import dask.dataframe as dd

        return dd.read_parquet(join_url(self.url, table))


def _d(date: str) -> pd.Timestamp:
    return pd.Timestamp(date)


def _revenue(frame: Any) -> Any:
    return frame["l_extendedprice"] * (1 - frame["l_discount"])


def q1(t: Tables) -> pd.DataFrame:
    """Pricing summary report: a filtered scan of lineitem aggregated into 4 groups."""
    li = t["lineitem"]
    li = li[li["l_shipdate"] <= _d("1998-09-02")]
    li = li.assign(disc_price=_revenue(li))
    li = li.assign(charge=li["disc_price"] * (1 + li["l_tax"]))
    result: pd.DataFrame = (
        li.groupby(["l_returnflag", "l_linestatus"])
        .agg(
            sum_qty=("l_quantity", "sum"),
            sum_base_price=("l_extendedprice", "sum"),
            sum_disc_price=("disc_price", "sum"),
            sum_charge=("charge", "sum"),
            avg_qty=("l_quantity", "mean"),
            avg_price=("l_extendedprice", "mean"),
            avg_disc=("l_discount", "mean"),
            count_order=("l_orderkey", "count"),
        )
        .reset_index()
        .compute()
    )
    return result.sort_values(["l_returnflag", "l_linestatus"])


def q3(t: Tables) -> pd.DataFrame:
    """Shipping priority: customer-orders-lineitem join, grouped, top 10 by revenue."""
    c, o, li = t["customer"], t["orders"], t["lineitem"]
    c = c[c["c_mktsegment"] == "BUILDING"][["c_custkey"]]
    o = o[o["o_orderdate"] < _d("1995-03-15")]
    li = li[li["l_shipdate"] > _d("1995-03-15")]
    li = li.assign(revenue=_revenue(li))
    joined = c.merge(o, left_on="c_custkey", right_on="o_custkey").merge(
        li, left_on="o_orderkey", right_on="l_orderkey"
    )
    grouped = (
        joined.groupby(["l_orderkey", "o_orderdate", "o_shippriority"])["revenue"]
        .sum()
        .reset_index()
    )
    top: pd.DataFrame = grouped.nlargest(10, "revenue").compute()
    top = top.sort_values(["revenue", "o_orderdate"], ascending=[False, True]).head(10)
    return top[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]]


def q4(t: Tables) -> pd.DataFrame:
    """Order priority checking: orders with a late line (semi-join), counted by priority."""
    o, li = t["orders"], t["lineitem"]
    o = o[(o["o_orderdate"] >= _d("1993-07-01")) & (o["o_orderdate"] < _d("1993-10-01"))]
    late = li[li["l_commitdate"] < li["l_receiptdate"]][["l_orderkey"]].drop_duplicates()
    joined = o.merge(late, left_on="o_orderkey", right_on="l_orderkey")
    result: pd.Series = joined.groupby("o_orderpriority")["o_orderkey"].count().compute()
    return result.rename("order_count").reset_index().sort_values("o_orderpriority")


def q5(t: Tables) -> pd.DataFrame:
    """Local supplier volume: a six-table join restricted to one region, revenue by nation."""
    c, o, li = t["customer"], t["orders"], t["lineitem"]
    s, n, r = t["supplier"], t["nation"], t["region"]
    r = r[r["r_name"] == "ASIA"]
    n = n.merge(r, left_on="n_regionkey", right_on="r_regionkey")
    o = o[(o["o_orderdate"] >= _d("1994-01-01")) & (o["o_orderdate"] < _d("1995-01-01"))]
    joined = (
        c.merge(n, left_on="c_nationkey", right_on="n_nationkey")
        .merge(o, left_on="c_custkey", right_on="o_custkey")
        .merge(li, left_on="o_orderkey", right_on="l_orderkey")
        .merge(s, left_on=["l_suppkey", "c_nationkey"], right_on=["s_suppkey", "s_nationkey"])
    )
    joined = joined.assign(revenue=_revenue(joined))
    result: pd.Series = joined.groupby("n_name")["revenue"].sum().compute()
    return result.reset_index().sort_values("revenue", ascending=False)


def q6(t: Tables) -> pd.DataFrame:
    """Forecasting revenue change: a selective filter over lineitem and a global sum."""
    li = t["lineitem"]
    mask = (
        (li["l_shipdate"] >= _d("1994-01-01"))
        & (li["l_shipdate"] < _d("1995-01-01"))
        & (li["l_discount"] >= 0.05)
        & (li["l_discount"] <= 0.07)
        & (li["l_quantity"] < 24)
    )
    li = li[mask]
    revenue = (li["l_extendedprice"] * li["l_discount"]).sum().compute()
    return pd.DataFrame({"revenue": [float(revenue)]})


def q10(t: Tables) -> pd.DataFrame:
    """Returned item reporting: four-table join, wide group keys, top 20 customers."""
    c, o, li, n = t["customer"], t["orders"], t["lineitem"], t["nation"]
    o = o[(o["o_orderdate"] >= _d("1993-10-01")) & (o["o_orderdate"] < _d("1994-01-01"))]
    li = li[li["l_returnflag"] == "R"]
    joined = (
        c.merge(o, left_on="c_custkey", right_on="o_custkey")
        .merge(li, left_on="o_orderkey", right_on="l_orderkey")
        .merge(n, left_on="c_nationkey", right_on="n_nationkey")
    )
    joined = joined.assign(revenue=_revenue(joined))
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    grouped = joined.groupby(keys)["revenue"].sum().reset_index()
    top: pd.DataFrame = grouped.nlargest(20, "revenue").compute()
    top = top.sort_values(["revenue", "c_custkey"], ascending=[False, True]).head(20)
    columns = ["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone"]
    return top[[*columns, "c_comment"]]


def q12(t: Tables) -> pd.DataFrame:
    """Shipping modes and order priority: filtered join with conditional counts."""
    o, li = t["orders"], t["lineitem"]
    mask = (
        li["l_shipmode"].isin(["MAIL", "SHIP"])
        & (li["l_commitdate"] < li["l_receiptdate"])
        & (li["l_shipdate"] < li["l_commitdate"])
        & (li["l_receiptdate"] >= _d("1994-01-01"))
        & (li["l_receiptdate"] < _d("1995-01-01"))
    )
    joined = o.merge(li[mask], left_on="o_orderkey", right_on="l_orderkey")
    high = joined["o_orderpriority"].isin(["1-URGENT", "2-HIGH"])
    joined = joined.assign(
        high_line_count=high.astype("int64"), low_line_count=(~high).astype("int64")
    )
    counts = joined.groupby("l_shipmode")[["high_line_count", "low_line_count"]].sum()
    result: pd.DataFrame = counts.compute()
    return result.reset_index().sort_values("l_shipmode")


def q13(t: Tables) -> pd.DataFrame:
    """Customer distribution: left outer join, a regex filter, then a groupby of a groupby."""
    c, o = t["customer"], t["orders"]
    o = o[~o["o_comment"].str.contains("special.*requests", regex=True)]
    joined = c[["c_custkey"]].merge(
        o[["o_orderkey", "o_custkey"]], left_on="c_custkey", right_on="o_custkey", how="left"
    )
    counts = joined.groupby("c_custkey")["o_orderkey"].count().rename("c_count")
    dist: pd.Series = counts.to_frame().groupby("c_count")["c_count"].count().compute()
    result = dist.rename("custdist").reset_index()
    return result.sort_values(["custdist", "c_count"], ascending=[False, False])


def q14(t: Tables) -> pd.DataFrame:
    """Promotion effect: one month of lineitem joined to part, a ratio of two sums."""
    li, p = t["lineitem"], t["part"]
    li = li[(li["l_shipdate"] >= _d("1995-09-01")) & (li["l_shipdate"] < _d("1995-10-01"))]
    joined = li.merge(p, left_on="l_partkey", right_on="p_partkey")
    revenue = _revenue(joined)
    promo = revenue.where(joined["p_type"].str.startswith("PROMO"), 0.0)
    sums: pd.Series = (
        joined.assign(promo=promo, revenue=revenue)[["promo", "revenue"]].sum().compute()
    )
    return pd.DataFrame({"promo_revenue": [100.0 * sums["promo"] / sums["revenue"]]})


QUERIES: dict[int, Callable[[Tables], pd.DataFrame]] = {
    1: q1, 3: q3, 4: q4, 5: q5, 6: q6, 10: q10, 12: q12, 13: q13, 14: q14,
}  # fmt: skip

SQL: dict[int, str] = {
    1: """
        SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty,
               sum(l_extendedprice) AS sum_base_price,
               sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
               sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
               avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price,
               avg(l_discount) AS avg_disc, count(*) AS count_order
        FROM lineitem
        WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL 90 DAY
        GROUP BY l_returnflag, l_linestatus
        ORDER BY l_returnflag, l_linestatus""",
    3: """
        SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue,
               o_orderdate, o_shippriority
        FROM customer, orders, lineitem
        WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
          AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
        GROUP BY l_orderkey, o_orderdate, o_shippriority
        ORDER BY revenue DESC, o_orderdate
        LIMIT 10""",
    4: """
        SELECT o_orderpriority, count(*) AS order_count
        FROM orders
        WHERE o_orderdate >= DATE '1993-07-01' AND o_orderdate < DATE '1993-10-01'
          AND EXISTS (SELECT * FROM lineitem
                      WHERE l_orderkey = o_orderkey AND l_commitdate < l_receiptdate)
        GROUP BY o_orderpriority
        ORDER BY o_orderpriority""",
    5: """
        SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
        FROM customer, orders, lineitem, supplier, nation, region
        WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
          AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey
          AND n_regionkey = r_regionkey AND r_name = 'ASIA'
          AND o_orderdate >= DATE '1994-01-01' AND o_orderdate < DATE '1995-01-01'
        GROUP BY n_name
        ORDER BY revenue DESC""",
    6: """
        SELECT sum(l_extendedprice * l_discount) AS revenue
        FROM lineitem
        WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01'
          AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24""",
    10: """
        SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue,
               c_acctbal, n_name, c_address, c_phone, c_comment
        FROM customer, orders, lineitem, nation
        WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey
          AND o_orderdate >= DATE '1993-10-01' AND o_orderdate < DATE '1994-01-01'
          AND l_returnflag = 'R' AND c_nationkey = n_nationkey
        GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
        ORDER BY revenue DESC, c_custkey
        LIMIT 20""",
    12: """
        SELECT l_shipmode,
               sum(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH'
                        THEN 1 ELSE 0 END) AS high_line_count,
               sum(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH'
                        THEN 1 ELSE 0 END) AS low_line_count
        FROM orders, lineitem
        WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP')
          AND l_commitdate < l_receiptdate AND l_shipdate < l_commitdate
          AND l_receiptdate >= DATE '1994-01-01' AND l_receiptdate < DATE '1995-01-01'
        GROUP BY l_shipmode
        ORDER BY l_shipmode""",
    13: """
        SELECT c_count, count(*) AS custdist
        FROM (SELECT c_custkey, count(o_orderkey) AS c_count
              FROM customer LEFT OUTER JOIN orders
                ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%'
              GROUP BY c_custkey) AS c_orders
        GROUP BY c_count
        ORDER BY custdist DESC, c_count DESC""",
    14: """
        SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%'
                                 THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
               / sum(l_extendedprice * (1 - l_discount)) AS promo_revenue
        FROM lineitem, part
        WHERE l_partkey = p_partkey
          AND l_shipdate >= DATE '1995-09-01' AND l_shipdate < DATE '1995-10-01'""",
}


def reference(query: int, url: str) -> pd.DataFrame:
    """The answer of ``query`` computed by duckdb (in this process) from the same files."""
    import duckdb
    import fsspec  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.parquet as pq

    con = duckdb.connect()
    try:
        for table in ("region", "nation", "supplier", "customer", "part", "orders", "lineitem"):
            fs, path = fsspec.core.url_to_fs(join_url(url, table))
            con.register(table, pq.read_table(path, filesystem=fs))
        return con.execute(SQL[query]).df()
    finally:
        con.close()


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.astype("datetime64[ns]")
        elif pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = col.astype(str)
    return out


def assert_matches(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, rows and order; numbers equal to a relative 1e-6."""
    got, want = _normalise(result), _normalise(expected)
    assert list(got.columns) == list(want.columns), (list(got.columns), list(want.columns))
    assert len(got) == len(want), f"{len(got)} rows, reference has {len(want)}"
    for name in got.columns:
        if got[name].dtype == np.float64:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, err_msg=name)
        else:
            assert (got[name] == want[name]).all(), f"column {name} differs"
