"""Input checks shared by the statistics functions."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from daskbench.errors import StatsInputError

__all__ = ["as_sample", "check_level"]


def as_sample(
    values: Iterable[float], name: str = "sample", *, positive: bool = False, min_size: int = 1
) -> npt.NDArray[np.float64]:
    """``values`` as a 1-d float64 array, or a StatsInputError naming ``name``.

    Rejects empty input, NaN and inf; with ``positive=True`` also values <= 0 (ratios and
    log-scale statistics need them positive).

    >>> as_sample([1, 2.5]).tolist()
    [1.0, 2.5]
    """
    try:
        arr = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name}: values must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise StatsInputError(f"{name}: expected a flat sequence, got shape {arr.shape}")
    if arr.size < min_size:
        raise StatsInputError(f"{name}: needs at least {min_size} value(s), got {arr.size}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise StatsInputError(
            f"{name}: value {arr[bad][0]!r} at index {int(np.flatnonzero(bad)[0])} is not finite"
        )
    if positive and (arr <= 0).any():
        idx = int(np.flatnonzero(arr <= 0)[0])
        raise StatsInputError(f"{name}: value {arr[idx]!r} at index {idx} must be > 0")
    return arr


def check_level(name: str, value: float) -> float:
    """``value`` as a float strictly between 0 and 1, or a StatsInputError naming ``name``.

    >>> check_level("alpha", 0.05)
    0.05
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise StatsInputError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)
