"""Deterministic inputs for the suite: lazy random frames and cached file data sets.

Two kinds of inputs:

* in-memory frames built lazily with :func:`random_frame` (one seeded task per partition),
  persisted by the benchmark before its measured block;
* file data sets written by :func:`ensure_dataset` as a Dask computation on the cluster (one
  task per file, through fsspec so ``s3://`` data dirs work), cached under
  ``<data_dir>/<name>/<key>/`` and reused. A completion marker is written last, so a
  generation that was interrupted is detected and redone::

      url = ensure_dataset(client, data_dir, "csv", "v1-rows1000", write_part, n_parts=4)

Keys in :func:`random_frame` are a permutation of the row numbers taken modulo ``n_keys``, so
every key occurs exactly ``nrows // n_keys`` or one more times. Benchmarks use this to know
exact answers (number of groups, distinct values, merge sizes) without a reference run.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import fsspec  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pandas as pd

__all__ = [
    "MARKER",
    "ROW_BYTES",
    "ensure_dataset",
    "frame_partition",
    "join_url",
    "permuted_keys",
    "random_frame",
    "remove",
    "scratch_url",
]

MARKER = "_DASKBENCH_COMPLETE"

#: Approximate in-memory bytes of one row of :func:`random_frame` (index + 3 numbers + name).
ROW_BYTES = 48

_START = pd.Timestamp("2000-01-01")
_FREQ = pd.Timedelta(seconds=1)
_NAMES = np.array(
    [f"{a}{b}" for a in ("Alice", "Bob", "Carol", "Dan", "Eve") for b in ("", "-x", "-yz", "-w")],
    dtype=object,
)
# Multipliers for the key permutation; one of them is coprime with any row count.
_PRIMES = (1_000_003, 1_000_033, 1_000_037)


def join_url(base: str, *parts: str) -> str:
    """``base/part/...`` for local paths and fsspec URLs alike."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def _multiplier(nrows: int) -> int:
    return next(p for p in _PRIMES if math.gcd(p, nrows) == 1)


def permuted_keys(start: int, stop: int, nrows: int, n_keys: int | None = None) -> np.ndarray:
    """Keys of rows ``start:stop``: a fixed permutation of ``range(nrows)``, modulo ``n_keys``."""
    rows = np.arange(start, stop, dtype=np.int64)
    keys = (rows * _multiplier(nrows) + 12_345) % nrows
    return keys if n_keys is None else keys % n_keys


def _bounds(nrows: int, npartitions: int) -> list[int]:
    return [nrows * i // npartitions for i in range(npartitions + 1)]


def frame_partition(
    i: int, *, nrows: int, npartitions: int, n_keys: int | None, seed: int
) -> pd.DataFrame:
    """Partition ``i`` of :func:`random_frame` (pure: same arguments, same frame)."""
    bounds = _bounds(nrows, npartitions)
    start, stop = bounds[i], bounds[i + 1]
    rng = np.random.default_rng([seed, i])
    n = stop - start
    index = pd.DatetimeIndex(_START + _FREQ * np.arange(start, stop), name="timestamp")
    return pd.DataFrame(
        {
            "id": permuted_keys(start, stop, nrows, n_keys),
            "x": rng.standard_normal(n),
            "y": rng.random(n),
            "name": pd.array(_NAMES[rng.integers(0, len(_NAMES), n)], dtype="str"),
        },
        index=index,
    )


def random_frame(nrows: int, npartitions: int, *, n_keys: int | None = None, seed: int = 42) -> Any:
    """A lazy dask DataFrame of ``nrows`` rows with a 1-second timestamp index.

    Columns: ``id`` (int64 keys, see the module docstring), ``x`` (standard normal),
    ``y`` (uniform [0, 1)), ``name`` (one of 20 short strings). Divisions are known.
    """
    import dask.dataframe as dd

    npartitions = max(min(npartitions, nrows), 1)
    bounds = _bounds(nrows, npartitions)
    divisions = [_START + _FREQ * b for b in bounds[:-1]] + [_START + _FREQ * (nrows - 1)]
    meta = frame_partition(0, nrows=1, npartitions=1, n_keys=n_keys, seed=seed).iloc[:0]
    return dd.from_map(
        frame_partition,
        range(npartitions),
        nrows=nrows,
        npartitions=npartitions,
        n_keys=n_keys,
        seed=seed,
        meta=meta,
        divisions=divisions,
        label="random-frame",
    )


def ensure_dataset(
    client: Any,
    data_dir: str,
    name: str,
    key: str,
    write_part: Callable[[str, int], None],
    n_parts: int,
    *,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Generate ``<data_dir>/<name>/<key>/`` on the cluster unless already complete.

    ``write_part(url, i)`` runs on a worker and writes the files of part ``i`` below ``url``;
    it must be deterministic. Returns the data set URL.
    """
    url = join_url(data_dir, name, key)
    fs, path = fsspec.core.url_to_fs(url)
    marker = f"{path}/{MARKER}"
    if fs.exists(marker):
        return url
    if fs.exists(path):  # a previous generation was interrupted: start again
        fs.rm(path, recursive=True)
    fs.makedirs(path, exist_ok=True)
    futures = client.map(write_part, [url] * n_parts, range(n_parts), pure=False)
    client.gather(futures)
    with fs.open(marker, "w") as f:
        f.write(json.dumps({"name": name, "key": key, "parts": n_parts, **(metadata or {})}))
    return url


def scratch_url(data_dir: str, label: str) -> str:
    """A fresh, unique location under ``<data_dir>/scratch/`` for a benchmark's output."""
    return join_url(data_dir, "scratch", f"{label}-{uuid.uuid4().hex[:12]}")


def remove(url: str) -> None:
    """Delete ``url`` recursively if it exists (benchmark outputs are never kept)."""
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)
