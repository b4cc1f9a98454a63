"""File I/O: parquet round trips and CSV-to-parquet conversion with pyarrow.

Inputs are written once per size into ``<data_dir>/frames`` (parquet) and ``<data_dir>/csv``
by tasks on the cluster; outputs go to ``<data_dir>/scratch`` and are deleted afterwards.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import fsspec  # type: ignore[import-untyped, unused-ignore]
import pytest
from distributed import Client, wait

from daskbench.suite._datagen import (
    ROW_BYTES,
    ensure_dataset,
    frame_partition,
    join_url,
    random_frame,
    remove,
    scratch_url,
)
from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.io

_SEED = 99


def _shape(sizing: Sizing, relative: float) -> tuple[int, int]:
    nbytes = sizing.nbytes(relative)
    return sizing.rows(nbytes, ROW_BYTES), sizing.npartitions(nbytes)


def _write_part(url: str, i: int, *, nrows: int, npartitions: int, fmt: str) -> None:
    frame = frame_partition(i, nrows=nrows, npartitions=npartitions, n_keys=None, seed=_SEED)
    fs, path = fsspec.core.url_to_fs(url)
    with fs.open(f"{path}/part-{i:05d}.{fmt}", "wb") as f:
        if fmt == "csv":
            frame.to_csv(f)
        else:
            frame.to_parquet(f, engine="pyarrow")


def _dataset(client: Client, data_dir: str, fmt: str, nrows: int, npartitions: int) -> str:
    write = functools.partial(_write_part, nrows=nrows, npartitions=npartitions, fmt=fmt)
    name = "frames" if fmt == "parquet" else "csv"
    key = f"v1-rows{nrows}-parts{npartitions}-seed{_SEED}"
    return ensure_dataset(client, data_dir, name, key, write, npartitions)


def _expected(client: Client, nrows: int, npartitions: int) -> tuple[int, float]:
    df = random_frame(nrows, npartitions, seed=_SEED)
    rows, x = client.compute([df["x"].count(), df["x"].sum()], sync=True)
    return int(rows), float(x)


def test_parquet_roundtrip(client: Client, benchmark: Any, sizing: Sizing, data_dir: str) -> None:
    """Write an in-memory frame to parquet (pyarrow) and read it back into aggregates.

    Parquet is the default storage format of dask.dataframe; writes and reads are on the
    critical path of every ETL job (encoding, compression, fsspec, metadata).
    """
    import dask.dataframe as dd

    nrows, npartitions = _shape(sizing, 0.5)
    df = client.persist(random_frame(nrows, npartitions, seed=_SEED))
    wait(df)
    expected_x = float(df["x"].sum().compute())
    url = scratch_url(data_dir, "parquet")
    try:
        with benchmark():
            df.to_parquet(url, engine="pyarrow", write_index=True)
            back = dd.read_parquet(url, engine="pyarrow")
            rows, x = client.compute([back["x"].count(), back["x"].sum()], sync=True)
    finally:
        remove(url)

    assert rows == nrows
    assert math.isclose(x, expected_x, rel_tol=1e-9, abs_tol=1e-6)


def test_parquet_read_filtered(
    client: Client, benchmark: Any, sizing: Sizing, data_dir: str
) -> None:
    """Read two columns of a cached parquet data set with a row filter pushed down.

    Column projection and predicate pushdown decide how many bytes are read at all; losing
    them makes selective queries read whole files.
    """
    import dask.dataframe as dd

    nrows, npartitions = _shape(sizing, 1.0)
    url = _dataset(client, data_dir, "parquet", nrows, npartitions)
    df = random_frame(nrows, npartitions, seed=_SEED)
    selected = df[df["y"] < 0.1]
    expected_rows, expected_x = client.compute(
        [selected["x"].count(), selected["x"].sum()], sync=True
    )

    with benchmark():
        data = dd.read_parquet(
            join_url(url, "*.parquet"), columns=["x", "y"], filters=[("y", "<", 0.1)]
        )
        data = data[data["y"] < 0.1]
        rows, x = client.compute([data["x"].count(), data["x"].sum()], sync=True)

    assert rows == expected_rows
    assert 0.05 * nrows < rows < 0.15 * nrows
    assert math.isclose(x, expected_x, rel_tol=1e-9, abs_tol=1e-6)


def test_csv_to_parquet(client: Client, benchmark: Any, sizing: Sizing, data_dir: str) -> None:
    """Convert a cached CSV data set (with a timestamp column) to parquet.

    The most common ingestion step: CSV parsing (pyarrow engine) and parquet writing.
    """
    import dask.dataframe as dd

    nrows, npartitions = _shape(sizing, 0.25)
    url = _dataset(client, data_dir, "csv", nrows, npartitions)
    expected_rows, expected_x = _expected(client, nrows, npartitions)
    out = scratch_url(data_dir, "csv2parquet")
    try:
        with benchmark():
            df = dd.read_csv(join_url(url, "*.csv"), parse_dates=["timestamp"], engine="pyarrow")
            df.to_parquet(out, engine="pyarrow", write_index=False)
        back = dd.read_parquet(out)
        rows, x = client.compute([back["x"].count(), back["x"].sum()], sync=True)
        dtype = back["timestamp"].dtype
    finally:
        remove(out)

    assert rows == expected_rows == nrows
    assert math.isclose(x, expected_x, rel_tol=1e-9, abs_tol=1e-6)
    assert str(dtype).startswith("datetime64")
