"""xarray workloads on a synthetic daily (time, lat, lon) temperature data set."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import Client, wait

from daskbench.suite._datagen import remove, scratch_url
from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.xarray

_MIN_DAYS = 366  # a full seasonal cycle; task count grows with days (one chunk per day)


def _seasonal(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(10 + 5 * np.cos(2 * np.pi * (times.day_of_year.to_numpy() - 1) / 365.25))


def _temperature(client: Client, sizing: Sizing, relative: float) -> Any:
    """A persisted DataArray: seasonal cycle + N(0, 1) noise, chunked along time."""
    import dask.array as da
    import xarray as xr

    nbytes = sizing.nbytes(relative)
    side = max(math.isqrt(nbytes // (8 * _MIN_DAYS)), 4)
    days = max(nbytes // (8 * side * side), _MIN_DAYS)
    per_chunk = max(sizing.profile.partition_bytes // (8 * side * side), 1)
    times = pd.date_range("2000-01-01", periods=days, freq="D")
    noise = da.random.default_rng(11).standard_normal(
        (days, side, side), chunks=(per_chunk, -1, -1)
    )
    signal = da.from_array(_seasonal(times), chunks=per_chunk)[:, None, None]
    temp = xr.DataArray(
        signal + noise,
        dims=("time", "lat", "lon"),
        coords={
            "time": times,
            "lat": np.linspace(-89.5, 89.5, side),
            "lon": np.linspace(0, 359, side),
        },
        name="temperature",
    )
    persisted = temp.copy(data=client.persist(temp.data))
    wait(persisted.data)
    return persisted


def test_xarray_climatology(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Monthly climatology (groupby month mean) and anomalies of a daily gridded field.

    The first step of nearly every climate analysis; it exercises xarray's groupby over
    dask arrays, which has had large regressions in graph size and memory in the past.
    """
    temp = _temperature(client, sizing, 0.25)
    months = temp["time"].dt.month.to_numpy()
    seasonal = _seasonal(temp.indexes["time"])
    expected = np.array([seasonal[months == m].mean() for m in range(1, 13)])

    with benchmark():
        clim = temp.groupby("time.month").mean("time")
        anomaly = temp.groupby("time.month") - clim
        clim_v, anomaly_std, anomaly_series = client.compute(
            [clim, anomaly.std("time"), anomaly.mean(["lat", "lon"])], sync=True
        )

    assert clim_v.sizes["month"] == 12
    # noise averages out over the grid: the climatology recovers the seasonal cycle
    np.testing.assert_allclose(clim_v.mean(["lat", "lon"]).to_numpy(), expected, atol=0.05)
    # by construction anomalies have zero mean in every month (and cell)
    monthly = anomaly_series.to_series().groupby(months).mean()
    assert len(monthly) == 12
    assert float(monthly.abs().max()) < 1e-9
    assert 0.8 < float(anomaly_std.mean()) < 1.5


def test_xarray_zarr_roundtrip(
    client: Client, benchmark: Any, sizing: Sizing, data_dir: str
) -> None:
    """Write a chunked data set to Zarr (format 3) and read it back into a sum.

    Zarr is the cloud-native array store; regressions here hit every pipeline that
    checkpoints or publishes arrays (encoding, many small writes, metadata handling).
    """
    import xarray as xr

    temp = _temperature(client, sizing, 0.25)
    expected = float(temp.sum().compute())
    url = scratch_url(data_dir, "zarr")
    try:
        with benchmark():
            temp.to_dataset().to_zarr(url, mode="w", consolidated=False, compute=True)
            back = xr.open_zarr(url, consolidated=False)["temperature"]
            total, shape = float(back.sum().compute()), back.shape
    finally:
        remove(url)

    assert shape == temp.shape
    assert math.isclose(total, expected, rel_tol=1e-9)
