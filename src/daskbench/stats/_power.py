"""How small a change can this much data detect, and how many rounds does a change need?

The minimum detectable effect (MDE) answers "if nothing was flagged, what could still have
been missed?". From data (:func:`minimum_detectable_effect`) it is an estimate from the noise
in the samples, not a promise: a report shows it next to every verdict, and marks the
comparisons whose MDE exceeds the threshold as too noisy to support it. Before running
(:func:`planned_mde`, :func:`rounds_needed`, :func:`min_rounds`) it comes from a noise level
(a CV, e.g. measured by ``daskbench noise``).

Both match the test :func:`~daskbench.stats.compare` uses: for the default t tests the MDE is
the shift at which the noncentral t distribution exceeds the two-sided critical value with
probability ``power`` -- exact for log-normal noise. In a family of ``m`` comparisons under
Benjamini-Hochberg a lone change must pass ``alpha / m``; ``family_size`` accounts for that.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = np.exp(rng.normal(0, 0.08, 10))
    >>> b = np.exp(rng.normal(0, 0.08, 10))
    >>> 0.05 < minimum_detectable_effect(a, b) < 0.25
    True
    >>> round(planned_mde(0.05, 10), 3), rounds_needed(0.10, 0.05), min_rounds(60)
    (0.073, 7, 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from daskbench.errors import StatsInputError
from daskbench.stats._ranks import min_pvalue
from daskbench.stats._ttests import MIN_PER_SIDE, noncentral_shift, t_paired, t_welch
from daskbench.stats._validate import as_sample, check_level

__all__ = [
    "Method",
    "check_level",
    "min_rounds",
    "minimum_detectable_effect",
    "planned_mde",
    "rounds_needed",
]

Method = Literal["t", "rank"]
METHODS: tuple[str, ...] = ("t", "rank")

# Rank tests need about pi/3 times as many samples as the t-test on normal data (their
# asymptotic relative efficiency is 3/pi = 0.955), so the detectable shift is sqrt(pi/3)
# larger. On heavy-tailed data they do better than this, so the MDE is then conservative.
_RANK_EFFICIENCY = math.sqrt(math.pi / 3.0)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise StatsInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def check_family(family_size: int) -> int:
    if isinstance(family_size, bool) or not isinstance(family_size, int) or family_size < 1:
        raise StatsInputError(f"family_size must be an integer >= 1, got {family_size!r}")
    return family_size


def minimum_detectable_effect(
    a: Iterable[float],
    b: Iterable[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    paired: bool = False,
    method: Method = "t",
    family_size: int = 1,
) -> float:
    """The smallest relative change that :func:`compare` would call significant.

    Returned as a fraction: ``0.083`` means a B/A ratio of 1.083 (8.3% slower, for a time) is
    detected with probability ``power`` by the two-sided test at level ``alpha /
    family_size``, given the noise and sizes of ``a`` and ``b``. The log scale is symmetric,
    so the matching speed-up is a ratio of ``1 / 1.083``.

    ``method="t"`` (the default, as in :func:`compare`): the t test on log values (Student on
    the log ratios when ``paired``, else Welch) with the standard error and degrees of
    freedom of these samples; the shift solves the noncentral t power equation.
    ``method="rank"``: the earlier formula for the rank tests, a t approximation inflated by
    ``sqrt(pi/3)`` for their efficiency, ``inf`` when the rank test can never reach the level.

    Returns ``inf`` with too few values (fewer than 3 per side for the t test), and ``0.0``
    for noise-free samples (any change is then detectable). It ignores ``compare``'s
    ``threshold``: a change must also exceed that to be reported as regressed.

        >>> minimum_detectable_effect([1.0, 1.0], [1.0, 1.0])
        inf
        >>> minimum_detectable_effect([1.0] * 5, [1.0] * 5)
        0.0
    """
    alpha = check_level("alpha", alpha)
    power = check_level("power", power)
    check_method(method)
    level = alpha / check_family(family_size)
    x = np.log(as_sample(a, "a", positive=True))
    y = np.log(as_sample(b, "b", positive=True))
    if paired and x.size != y.size:
        raise StatsInputError(
            f"paired comparison needs equal lengths: a has {x.size} values, b has {y.size}"
        )
    if method == "rank":
        return mde_of_logs(x, y, alpha=level, power=power, paired=paired)
    shift = t_paired(y - x) if paired else t_welch(x, y)
    return math.expm1(shift.mde(level, power))


def mde_of_logs(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    alpha: float,
    power: float,
    paired: bool,
) -> float:
    """The rank-test MDE on validated log values (``method="rank"``)."""
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


def _check_cv(cv: float) -> float:
    if isinstance(cv, bool) or not isinstance(cv, int | float) or not 0.0 <= cv < math.inf:
        raise StatsInputError(f"cv must be a finite number >= 0, got {cv!r}")
    return float(cv)


def _check_rounds(name: str, rounds: int) -> int:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise StatsInputError(f"{name} must be an integer >= 1, got {rounds!r}")
    return rounds


def planned_mde(
    cv: float,
    rounds: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    paired: bool = True,
) -> float:
    """MDE (a fraction) of an A/B with ``rounds`` rounds, for runs with noise ``cv``.

    ``cv`` is the CV of one run (e.g. :func:`~daskbench.stats._noise.noise_cv`); both
    environments are assumed equally noisy and independent, so a paired log ratio has
    standard deviation ``sqrt(2) * sigma`` with ``sigma = sqrt(log(1 + cv**2))``. Paired:
    Student's t with ``rounds - 1`` degrees of freedom. Unpaired (``rounds`` runs per side,
    Welch's t): also ``rounds - 1``, the fewest Welch's test can have -- its degrees of
    freedom vary with the sample variances, and at the small levels of a family the
    expected ``2 * rounds - 2`` would promise too much (measured: 70% instead of 80%
    power at 6 rounds in a family of 60). So the unpaired figure errs on the safe side.
    ``inf`` below 3 rounds.

        >>> round(planned_mde(0.10, 10), 3), round(planned_mde(0.10, 10, family_size=60), 3)
        (0.151, 0.31)
    """
    cv = _check_cv(cv)
    rounds = _check_rounds("rounds", rounds)
    alpha = check_level("alpha", alpha)
    power = check_level("power", power)
    level = alpha / check_family(family_size)
    if rounds < MIN_PER_SIDE:
        return math.inf
    sigma = math.sqrt(math.log1p(cv * cv))
    se = sigma * math.sqrt(2.0 / rounds)  # same for a paired mean ratio and two means
    return math.expm1(noncentral_shift(float(rounds - 1), level, power) * se)


def rounds_needed(
    effect: float,
    cv: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    paired: bool = True,
    max_rounds: int = 1000,
) -> int | None:
    """The fewest rounds whose :func:`planned_mde` is at most ``effect`` (a fraction).

    ``None`` if even ``max_rounds`` is not enough. This is what the CLI can print before
    running: e.g. 5% noise, a 10% change, one comparison: 7 rounds; in a family of 60: 16.

        >>> rounds_needed(0.10, 0.05), rounds_needed(0.10, 0.05, family_size=60)
        (7, 16)
    """
    if isinstance(effect, bool) or not isinstance(effect, int | float) or not effect > 0:
        raise StatsInputError(f"effect must be a number > 0, got {effect!r}")
    max_rounds = _check_rounds("max_rounds", max_rounds)

    def mde(n: int) -> float:
        return planned_mde(cv, n, alpha=alpha, power=power, family_size=family_size, paired=paired)

    if max_rounds < MIN_PER_SIDE or mde(max_rounds) > effect:
        return None
    lo, hi = MIN_PER_SIDE, max_rounds  # mde(hi) <= effect; the MDE falls with n
    while lo < hi:
        mid = (lo + hi) // 2
        if mde(mid) <= effect:
            hi = mid
        else:
            lo = mid + 1
    return lo


def min_rounds(
    family_size: int = 1,
    *,
    alpha: float = 0.05,
    method: Method = "t",
    paired: bool = True,
) -> int:
    """The fewest rounds at which *any* verdict is possible, however large the change.

    For the t tests that is 3 rounds (3 values per side), whatever the family: their p-values
    are not bounded below by the sample size. The rank tests are: with ``n`` pairs the
    smallest signed-rank p-value is ``2 / 2**n`` (with ``n`` values per side unpaired,
    ``2 / C(2n, n)``), and a lone change in a family of ``m`` must pass ``alpha / m``.

        >>> min_rounds(60), min_rounds(60, method="rank"), min_rounds(1, method="rank")
        (3, 12, 6)
    """
    alpha = check_level("alpha", alpha)
    level = alpha / check_family(family_size)
    if check_method(method) == "t":
        return MIN_PER_SIDE
    n = 1
    while min_pvalue(n, n, paired=paired) >= level:
        n += 1
    return n
