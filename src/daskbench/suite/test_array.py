"""dask.array workloads: reductions, rechunking, overlapping stencils, matrix products.

Inputs are seeded ``da.random`` arrays persisted before the measured block. Checks use
identities that hold exactly for any data (telescoping sums, sums of products, weighted
checksums), so they stay cheap at every scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from distributed import Client, wait

from daskbench.suite._sizing import Sizing

pytestmark = pytest.mark.array


def _random(client: Client, shape: tuple[int, ...], chunks: Any, seed: int = 0) -> Any:
    import dask.array as da

    x = client.persist(da.random.default_rng(seed).random(shape, chunks=chunks))
    wait(x)
    return x


def _compute(client: Client, *collections: Any) -> list[Any]:
    return list(client.compute(list(collections), sync=True))


def _row_chunks(sizing: Sizing, ncols: int) -> int:
    """Rows per chunk so that one full-width row block is about a partition."""
    return max(sizing.profile.partition_bytes // (8 * ncols), 1)


def _weighted_checksum(x: Any) -> Any:
    """A sum that changes if any element moves: weights depend on the position."""
    import dask.array as da

    rows = da.arange(x.shape[0], chunks=x.chunks[0], dtype="float64")[:, None]
    cols = da.arange(x.shape[1], chunks=x.chunks[1], dtype="float64")[None, :]
    return (x * (1 + (rows * 7 + cols * 13) % 101)).sum()


@pytest.mark.parametrize("chunking", ["square", "thin"])
def test_array_reduction(client: Client, benchmark: Any, sizing: Sizing, chunking: str) -> None:
    """Global, per-column and per-row reductions (sum, mean, std) of a 2-D array.

    Tree reductions are the backbone of array analytics; square chunks reduce along both
    axes, thin full-width row chunks make axis=1 local and axis=0 a long tree.
    """
    n = sizing.square_shape(sizing.nbytes(1.0))[0]
    side = sizing.chunk_side()
    chunks = (side, side) if chunking == "square" else (_row_chunks(sizing, n), n)
    x = _random(client, (n, n), chunks)

    with benchmark():
        total, col_means, row_std = _compute(client, x.sum(), x.mean(axis=0), x.std(axis=1))

    assert col_means.shape == (n,)
    assert row_std.shape == (n,)
    assert math.isclose(col_means.sum() * n, total, rel_tol=1e-9)
    # uniform [0, 1): the mean of n^2 values is 0.5 to within a few standard errors
    assert abs(total / n**2 - 0.5) < 6 * math.sqrt(1 / 12) / n
    assert abs(row_std.mean() - math.sqrt(1 / 12)) < 0.01


_RECHUNKS = ["tiles_to_rows", "swap_axes"]


@pytest.mark.parametrize("pattern", _RECHUNKS)
@pytest.mark.parametrize("method", ["tasks", "p2p"])
def test_rechunk(client: Client, benchmark: Any, sizing: Sizing, method: str, pattern: str) -> None:
    """Rechunk a 2-D array (square tiles to rows, or row blocks to column blocks).

    Rechunking is an all-to-all transfer like a shuffle; task-based and P2P rechunking
    take completely different code paths, and both are used by xarray pipelines.
    """
    n = sizing.square_shape(sizing.nbytes(0.5))[0]
    side, rows = sizing.chunk_side(), _row_chunks(sizing, n)
    if pattern == "tiles_to_rows":
        before, after = (side, side), (rows, n)
    else:
        before, after = (rows, n), (n, rows)
    x = _random(client, (n, n), before)
    expected = float(_weighted_checksum(x).compute())

    with benchmark():
        y = client.persist(x.rechunk(after, method=method))
        wait(y)

    assert y.chunks[0][0] == min(after[0], n)
    assert y.chunks[1][0] == min(after[1], n)
    assert math.isclose(float(_weighted_checksum(y).compute()), expected, rel_tol=1e-9)


def _laplacian(block: np.ndarray) -> np.ndarray:
    """5-point Laplacian; wrong only on the block's outer ring, which map_overlap trims."""
    out: np.ndarray = 4 * block
    for shift, axis in ((1, 0), (-1, 0), (1, 1), (-1, 1)):
        out = out - np.roll(block, shift, axis=axis)
    return out


def test_map_overlap(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """A 5-point Laplacian stencil with ``map_overlap`` and periodic boundaries.

    Halo exchange between neighbouring chunks is the core of image processing and PDE
    workloads; regressions show up as extra tasks or transfers.
    """
    n = sizing.square_shape(sizing.nbytes(0.5))[0]
    side = sizing.chunk_side()
    x = _random(client, (n, n), (side, side))

    with benchmark():
        lap = x.map_overlap(_laplacian, depth=1, boundary="periodic", dtype="float64")
        total, std = _compute(client, lap.sum(), lap.std())

    # with periodic boundaries every value enters the sum with weight 4 - 4 = 0
    assert abs(total) < 1e-6 * n * n
    # Var(4a - b - c - d - e) = 20 Var(U[0, 1)) for independent values
    assert math.isclose(std, math.sqrt(20 / 12), rel_tol=0.02)


def test_matmul(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """A blocked matrix product (n x n/4) @ (n/4 x n) reduced to its sum.

    Contractions generate many partial products to combine; regressions show in memory
    use and in the scheduling of the tree that sums the blocks.
    """
    n = sizing.square_shape(sizing.nbytes(0.25))[0]
    k = max(n // 4, 1)
    side = sizing.chunk_side()
    a = _random(client, (n, k), (side, side), seed=1)
    b = _random(client, (k, n), (side, side), seed=2)
    # sum(A @ B) == colsum(A) . rowsum(B)
    col_a, row_b = _compute(client, a.sum(axis=0), b.sum(axis=1))
    expected = float(col_a @ row_b)

    with benchmark():
        total = float((a @ b).sum().compute())

    assert math.isclose(total, expected, rel_tol=1e-9)


def test_vorticity_anomaly(client: Client, benchmark: Any, sizing: Sizing) -> None:
    """Vorticity of (time, y, x) wind fields by centred differences, then its anomaly.

    Slicing stencils across chunk boundaries followed by a time-mean anomaly: the typical
    climate-model diagnostic, sensitive to chunk alignment and to holding data for the mean.
    """
    side = sizing.chunk_side(ndim=2)
    ny = nx = max(2 * side, 8)
    nt = max(sizing.nbytes(0.25) // (8 * ny * nx), 2)
    chunks = (max(sizing.profile.partition_bytes // (8 * side * side), 1), side, side)
    u = _random(client, (nt, ny, nx), chunks, seed=3)
    v = _random(client, (nt, ny, nx), chunks, seed=4)
    # the centred differences telescope: only the two outermost rows/columns survive
    edges = (v[:, 1:-1, -1] + v[:, 1:-1, -2] - v[:, 1:-1, 0] - v[:, 1:-1, 1]).sum() - (
        u[:, -1, 1:-1] + u[:, -2, 1:-1] - u[:, 0, 1:-1] - u[:, 1, 1:-1]
    ).sum()
    expected = float(edges.compute())

    with benchmark():
        dv_dx = v[:, 1:-1, 2:] - v[:, 1:-1, :-2]
        du_dy = u[:, 2:, 1:-1] - u[:, :-2, 1:-1]
        vort = dv_dx - du_dy
        mean = vort.mean(axis=0)
        enstrophy = ((vort - mean) ** 2).mean()
        mean_map, anomaly_energy = _compute(client, mean, enstrophy)

    assert mean_map.shape == (ny - 2, nx - 2)
    assert math.isclose(mean_map.sum() * nt, expected, rel_tol=1e-6, abs_tol=1e-6 * nt * ny)
    # Var(a - b - c + d) = 4/12 per term; the anomaly removes a 1/nt share of it
    assert math.isclose(anomaly_energy, 4 / 12 * (1 - 1 / nt), rel_tol=0.05)
