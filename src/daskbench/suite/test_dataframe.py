"""dask.dataframe workloads: shuffles, merges, sorting, groupbys, time series, element-wise.

Inputs are :func:`~daskbench.suite._datagen.random_frame` s persisted before the measured
block; their keys are permutations, so exact answers (rows, groups, distinct keys) are known.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import Client, wait

from daskbench.suite._datagen import ROW_BYTES, random_frame
from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.dataframe


def _persisted(client: Client, collection: Any) -> Any:
    collection = client.persist(collection)
    wait(collection)
    return collection


def _compute(client: Client, *collections: Any) -> list[Any]:
    """Compute several collections in one graph (shared inputs are read once)."""
    return list(client.compute(list(collections), sync=True))


def _frame(client: Client, sizing: Sizing, relative: float, **kwargs: Any) -> tuple[Any, int]:
    nbytes = sizing.nbytes(relative)
    nrows = sizing.rows(nbytes, ROW_BYTES)
    return _persisted(client, random_frame(nrows, sizing.npartitions(nbytes), **kwargs)), nrows


def _partition_summary(part: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"rows": [len(part)], "x": [part["x"].sum()], "keys": [part["id"].nunique()]}
    )


_SUMMARY_META = pd.DataFrame(
    {"rows": pd.Series([], dtype="int64"), "x": pd.Series([], dtype="float64"), "keys": []}
).astype({"keys": "int64"})


@pytest.mark.parametrize("method", ["tasks", "p2p"])
def test_shuffle(client: Client, benchmark: Any, sizing: Sizing, method: str) -> None:
    """Shuffle a frame on a scrambled key (all-to-all transfer), task-based or P2P.

    Shuffling underlies merges, set_index and large groupbys; a regression here slows every
    workload that moves data between all workers.
    """
    df, nrows = _frame(client, sizing, 0.5, n_keys=None)
    n_keys = max(nrows // 10, 1)
    df = _persisted(client, df.assign(id=df["id"] % n_keys))
    expected_x = float(df["x"].sum().compute())

    with benchmark():
        shuffled = df.shuffle("id", shuffle_method=method)
        summary = shuffled.map_partitions(_partition_summary, meta=_SUMMARY_META).compute()

    assert summary["rows"].sum() == nrows
    # each key in exactly one output partition: distinct keys per partition add up exactly
    assert summary["keys"].sum() == n_keys
    assert math.isclose(summary["x"].sum(), expected_x, rel_tol=1e-9, abs_tol=1e-6)


def test_merge_big_big(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Inner-merge two large frames on unsorted keys (hash join through a shuffle).

    The canonical expensive join of ETL pipelines; it stresses shuffle, memory and the
    merge kernels together.
    """
    left, nrows = _frame(client, sizing, 0.25, seed=1)
    n_right = max(nrows // 2, 1)
    right = _persisted(
        client, random_frame(n_right, sizing.npartitions(n_right * ROW_BYTES), seed=2)
    )
    expected_left_x = float(left["x"][left["id"] < n_right].sum().compute())
    expected_right_x = float(right["x"].sum().compute())

    with benchmark():
        merged = left.merge(right, on="id", how="inner")
        rows, left_x, right_x = _compute(
            client, merged["id"].count(), merged["x_x"].sum(), merged["x_y"].sum()
        )

    assert rows == n_right  # left keys are 0..nrows-1, right keys 0..n_right-1
    assert math.isclose(left_x, expected_left_x, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(right_x, expected_right_x, rel_tol=1e-9, abs_tol=1e-6)


def test_merge_broadcast(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Merge a large frame with a small multi-partition frame by broadcasting the small one.

    Dimension-table joins should never shuffle the large side; a regression here usually
    means the broadcast path was lost and the join became an all-to-all shuffle.
    """
    n_small = 1_000 if sizing.is_ci else 100_000
    n_keys = 2 * n_small
    big, nrows = _frame(client, sizing, 0.5, n_keys=n_keys)
    small = _persisted(client, random_frame(n_small, 2, seed=7)[["id", "name"]])
    q, r = divmod(nrows, n_keys)
    expected = n_small * q + min(r, n_small)  # big rows whose key is < n_small

    with benchmark():
        merged = big.merge(small, on="id", how="inner", broadcast=True)
        rows, names = _compute(client, merged["id"].count(), merged["name_y"].count())

    assert rows == expected
    assert names == expected


def _index_summary(part: pd.DataFrame) -> pd.DataFrame:
    idx = part.index
    empty = len(part) == 0
    return pd.DataFrame(
        {
            "rows": [len(part)],
            "lo": [np.nan if empty else idx.min()],
            "hi": [np.nan if empty else idx.max()],
            "sorted": [bool(idx.is_monotonic_increasing)],
        }
    )


def test_set_index(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Sort a frame by a random float column with ``set_index`` (quantiles + shuffle).

    Sorting enables fast range selection and merges on the index; it combines an
    approximate quantile pass with a full shuffle.
    """
    df, nrows = _frame(client, sizing, 0.5)
    meta = pd.DataFrame({"rows": [0], "lo": [0.0], "hi": [0.0], "sorted": [True]}).iloc[:0]

    with benchmark():
        indexed = df.set_index("x")
        summary = indexed.map_partitions(_index_summary, meta=meta).compute()

    assert summary["rows"].sum() == nrows
    assert summary["sorted"].all()
    ranges = summary.dropna()
    assert (ranges["lo"].to_numpy()[1:] >= ranges["hi"].to_numpy()[:-1]).all()


def test_groupby_few_groups(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Aggregate a frame into 20 string-keyed groups (tree reduction).

    The most common dashboard-style aggregation; it should be bandwidth-bound and cheap in
    scheduler overhead.
    """
    df, nrows = _frame(client, sizing, 1.0)
    expected_x = float(df["x"].sum().compute())

    with benchmark():
        result = (
            df.groupby("name")
            .agg(x_sum=("x", "sum"), y_mean=("y", "mean"), y_max=("y", "max"), n=("id", "count"))
            .compute()
        )

    assert len(result) == 20
    assert result["n"].sum() == nrows
    assert math.isclose(result["x_sum"].sum(), expected_x, rel_tol=1e-9, abs_tol=1e-6)
    assert result["y_max"].between(0, 1).all()


def test_groupby_many_groups(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Aggregate into one group per ~5 rows, with a shuffle-based ``split_out``.

    High-cardinality groupbys (per user, per session) cannot be tree-reduced to one
    partition; they exercise the shuffle path of groupby.
    """
    df, nrows = _frame(client, sizing, 0.5, n_keys=None)
    n_keys = max(nrows // 5, 1)
    df = _persisted(client, df.assign(id=df["id"] % n_keys))
    expected_x = float(df["x"].sum().compute())

    with benchmark():
        result = df.groupby("id").agg(x_sum=("x", "sum"), y_mean=("y", "mean"), split_out=True)
        groups, x_total = _compute(client, result["x_sum"].count(), result["x_sum"].sum())

    assert groups == n_keys
    assert math.isclose(x_total, expected_x, rel_tol=1e-9, abs_tol=1e-6)


def test_drop_duplicates(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Drop duplicate keys from a frame where each key occurs about four times.

    Deduplication is a shuffle-based distinct; regressions show up in data-cleaning jobs.
    """
    df, nrows = _frame(client, sizing, 0.5, n_keys=None)
    n_keys = max(nrows // 4, 1)
    df = _persisted(client, df.assign(id=df["id"] % n_keys))

    with benchmark():
        unique = df.drop_duplicates(subset="id", split_out=True)
        rows, key_sum = _compute(client, unique["id"].count(), unique["id"].sum())

    assert rows == n_keys
    assert key_sum == n_keys * (n_keys - 1) // 2


def test_timeseries_rolling_resample(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """A 10-minute rolling mean resampled to hourly bins on a 1-second time series.

    Time-based windows need overlap between neighbouring partitions; a regression here hits
    every sensor / finance / log-analysis workload.
    """
    df, nrows = _frame(client, sizing, 0.5)
    hours = math.ceil(nrows / 3600)

    with benchmark():
        rolled = df["x"].rolling("10min").mean()
        hourly, counts = _compute(
            client, rolled.resample("1h").mean(), df["y"].resample("1h").count()
        )

    assert len(hourly) == hours
    assert counts.sum() == nrows
    assert np.isfinite(hourly.to_numpy()).all()
    # a mean of means of N(0, 1) over whole hours stays close to zero
    assert abs(hourly.mean()) < 1


def _chain(x: Any, y: Any) -> Any:
    """The same element-wise expression applied to dask or pandas series."""
    z = (x * 2 + y) ** 2
    z = z.where(y > 0.25, -x)
    z = np.sin(z) + np.log1p(y) - x.abs() / (y + 1)
    return z.clip(-5, 5) * (y < 0.9)


def _chain_sum(part: pd.DataFrame) -> float:
    return float(_chain(part["x"], part["y"]).sum())


def test_elementwise_chain(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """A chain of ten element-wise operations (arithmetic, where, ufuncs, clip) and a sum.

    Should fuse into one task per partition; a regression usually means lost fusion or
    slower expression optimisation in dask-expr.
    """
    df, _ = _frame(client, sizing, 1.0)
    expected = float(df.map_partitions(_chain_sum, meta=(None, "float64")).sum().compute())

    with benchmark():
        total = float(_chain(df["x"], df["y"]).sum().compute())

    assert math.isclose(total, expected, rel_tol=1e-9, abs_tol=1e-6)
