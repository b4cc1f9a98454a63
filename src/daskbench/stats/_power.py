"""How small a change can this much data detect?

The minimum detectable effect (MDE) answers "if nothing was flagged, what could still have
been missed?". It is an estimate from the noise in the samples, not a promise: a report
should show it next to an ``inconclusive`` or ``unchanged`` verdict.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = np.exp(rng.normal(0, 0.08, 10))
    >>> b = np.exp(rng.normal(0, 0.08, 10))
    >>> 0.05 < minimum_detectable_effect(a, b) < 0.25
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from scipy import special

from daskbench.errors import StatsInputError
from daskbench.stats._ranks import min_pvalue
from daskbench.stats._validate import as_sample

__all__ = ["minimum_detectable_effect"]

# Rank tests need about pi/3 times as many samples as the t-test on normal data (their
# asymptotic relative efficiency is 3/pi = 0.955), so the detectable shift is sqrt(pi/3)
# larger. On heavy-tailed data they do better than this, so the MDE is then conservative.
_RANK_EFFICIENCY = math.sqrt(math.pi / 3.0)


def check_level(name: str, value: float) -> float:
    """``value`` as a float strictly between 0 and 1, or a StatsInputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise StatsInputError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def minimum_detectable_effect(
    a: Iterable[float],
    b: Iterable[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    paired: bool = False,
) -> float:
    """The smallest relative change that :func:`compare` would call significant.

    Returned as a fraction: ``0.083`` means a B/A ratio of 1.083 (8.3% slower, for a time) is
    detected with probability ``power`` by a two-sided test at level ``alpha``, given the
    noise and sizes of ``a`` and ``b``. The log scale is symmetric, so the matching speed-up
    is a ratio of ``1 / 1.083``.

    The formula is the two-sample t-test on log values,
    ``exp((t_{1-alpha/2} + t_{power}) * s * sqrt(1/n_a + 1/n_b) * sqrt(pi/3)) - 1``, with
    ``s`` the pooled standard deviation of the logs (the standard deviation of the log
    ratios and ``sqrt(1/n)`` when ``paired``), Student quantiles for the estimated ``s``, and
    ``sqrt(pi/3)`` for the efficiency of the rank tests that :func:`compare` actually uses.

    Returns ``inf`` when the rank test can never reach ``alpha`` at these sizes (e.g. 3 vs 3
    values) or there are too few values to estimate the noise, and ``0.0`` for noise-free
    samples (any change is then detectable). It ignores ``compare``'s ``threshold``: a
    change must also exceed that to be reported as regressed.

        >>> minimum_detectable_effect([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
        inf
        >>> minimum_detectable_effect([1.0] * 5, [1.0] * 5)
        0.0
    """
    alpha = check_level("alpha", alpha)
    power = check_level("power", power)
    x = np.log(as_sample(a, "a", positive=True))
    y = np.log(as_sample(b, "b", positive=True))
    if paired and x.size != y.size:
        raise StatsInputError(
            f"paired comparison needs equal lengths: a has {x.size} values, b has {y.size}"
        )
    return mde_of_logs(x, y, alpha=alpha, power=power, paired=paired)


def mde_of_logs(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    alpha: float,
    power: float,
    paired: bool,
) -> float:
    """:func:`minimum_detectable_effect` on validated log values (shared with ``compare``)."""
    if min_pvalue(x.size, y.size, paired=paired) >= alpha:
        return math.inf
    if paired:
        df = x.size - 1
        if df < 1:
            return math.inf
        spread = float(np.std(y - x, ddof=1))
        se_factor = math.sqrt(1.0 / x.size)
    else:
        df = x.size + y.size - 2
        if df < 1:
            return math.inf
        squares = float(np.sum((x - x.mean()) ** 2) + np.sum((y - y.mean()) ** 2))
        spread = math.sqrt(squares / df)
        se_factor = math.sqrt(1.0 / x.size + 1.0 / y.size)
    if spread == 0.0:
        return 0.0
    quantiles = float(special.stdtrit(df, 1.0 - alpha / 2)) + float(special.stdtrit(df, power))
    return math.expm1(quantiles * spread * se_factor * _RANK_EFFICIENCY)
