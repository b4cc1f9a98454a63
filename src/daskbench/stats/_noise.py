"""Run-to-run noise of a benchmark, and what it costs an A/B comparison.

The noise is a *robust* coefficient of variation: the median absolute deviation (MAD) of the
log values, scaled to estimate the standard deviation of normal data, so one wild run does
not make a quiet benchmark look noisy. On the log scale a CV is the same for every unit and
"noise 5%" means the same for a 0.1 s and a 100 s benchmark.

:func:`benchmark_noise` is what ``daskbench noise`` prints per benchmark: the CV measured from
repeated runs of one environment, the minimum detectable effect of a paired A/B at a given
number of rounds (see :func:`daskbench.stats._power.planned_mde`) and the rounds a 5% and a
10% change need.

    >>> n = benchmark_noise([1.00, 1.04, 0.97, 1.02, 0.99, 1.01, 1.03, 0.98], rounds=10)
    >>> round(n.cv, 3), n.n, round(n.mde, 3), n.rounds_for(0.10), n.rounds_for(0.05)
    (0.033, 8, 0.048, 5, 10)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from daskbench.errors import StatsInputError
from daskbench.stats._power import planned_mde, rounds_needed
from daskbench.stats._validate import as_sample

__all__ = ["Noise", "benchmark_noise", "noise_cv", "noise_plan", "paired_noise_cv", "robust_sd"]

# MAD -> standard deviation of normal data: 1 / Phi^-1(3/4).
_MAD_TO_SD = 1.482602218505602
# Small-sample corrections of the MAD (Croux & Rousseeuw 1992), so the estimate is about
# unbiased for normal data: n = 2..9 tabulated, n / (n - 0.8) beyond.
_SMALL_N = {2: 1.196, 3: 1.495, 4: 1.363, 5: 1.206, 6: 1.200, 7: 1.140, 8: 1.129, 9: 1.107}


def robust_sd(values: npt.NDArray[np.float64]) -> float:
    """A robust standard deviation: the small-sample-corrected, normal-consistent MAD.

    ``nan`` for fewer than 2 values.

    >>> round(robust_sd(np.array([0.0, 1.0, 2.0, 3.0, 100.0])), 3)  # the outlier barely matters
    1.788
    """
    n = values.size
    if n < 2:
        return math.nan
    mad = float(np.median(np.abs(values - np.median(values))))
    factor = _SMALL_N.get(n, n / (n - 0.8))
    return mad * _MAD_TO_SD * factor


def _cv(sigma: float) -> float:
    """CV of a log-normal variable whose log has standard deviation ``sigma``."""
    return math.sqrt(math.expm1(sigma * sigma)) if math.isfinite(sigma) else sigma


def noise_cv(values: Iterable[float]) -> float:
    """Robust CV of repeated runs of one benchmark in one environment (0.05 = 5%).

    ``nan`` for a single value; raises StatsInputError for empty, non-finite or non-positive
    input.

    >>> round(noise_cv([1.0, 1.1, 0.9, 1.0, 5.0]), 3)  # 5.0 is an outlier, not noise
    0.172
    """
    x = np.log(as_sample(values, "values", positive=True))
    return _cv(robust_sd(x))


def paired_noise_cv(a: Iterable[float], b: Iterable[float]) -> float:
    """Robust per-run CV seen through paired rounds: from the log ratios ``log(b_i / a_i)``.

    A log ratio carries the noise of two runs, so its robust standard deviation is divided by
    ``sqrt(2)``: a benchmark with 3% noise reads 3% paired or not, unless pairing removes a
    shared part (machine drift), which then shows as less noise, as it should.

    >>> round(paired_noise_cv([1.0, 2.0, 3.0, 4.0], [1.1, 2.0, 3.3, 4.0]), 3)
    0.068
    """
    xa = as_sample(a, "a", positive=True)
    xb = as_sample(b, "b", positive=True)
    if xa.size != xb.size:
        raise StatsInputError(
            f"paired comparison needs equal lengths: a has {xa.size} values, b has {xb.size}"
        )
    return _cv(robust_sd(np.log(xb) - np.log(xa)) / math.sqrt(2.0))


def pooled_noise_cv(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float | None:
    """Robust per-run CV of two unpaired samples of log values (pooled), None if unknown."""
    parts = [(v.size - 1, robust_sd(v)) for v in (x, y) if v.size >= 2]
    if not parts:
        return None
    dof = sum(k for k, _ in parts)
    return _cv(math.sqrt(sum(k * s * s for k, s in parts) / dof))


def log_ratio_noise_cv(d: npt.NDArray[np.float64]) -> float | None:
    """:func:`paired_noise_cv` on validated log ratios, None if unknown."""
    return _cv(robust_sd(d) / math.sqrt(2.0)) if d.size >= 2 else None


@dataclass(frozen=True, slots=True)
class Noise:
    """The noise of one benchmark and what it implies for a paired A/B (see module doc).

    ``mde`` is the minimum detectable effect at ``rounds`` paired rounds (a fraction,
    ``inf`` if none), ``needed`` the rounds each effect of ``effects`` needs (``None``: more
    than ``max_rounds``).
    """

    cv: float
    n: int
    rounds: int
    mde: float
    effects: tuple[float, ...]
    needed: tuple[int | None, ...]

    def rounds_for(self, effect: float) -> int | None:
        """Rounds needed for ``effect`` (one of ``effects``)."""
        for e, r in zip(self.effects, self.needed, strict=True):
            if e == effect:
                return r
        raise StatsInputError(f"effect {effect!r} is not one of {self.effects}")


def benchmark_noise(
    values: Iterable[float],
    *,
    rounds: int = 10,
    effects: Sequence[float] = (0.05, 0.10),
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    max_rounds: int = 1000,
) -> Noise:
    """Noise of repeated runs of one benchmark, its MDE at ``rounds`` and rounds needed.

    The A/B is assumed paired by round (as ``daskbench ab`` runs it) with the default test,
    the two environments equally noisy and no noise shared between the runs of a round.
    ``family_size`` is the number of comparisons corrected together (a lone change in a
    family of ``m`` must pass ``alpha / m``); 1 gives the per-comparison figure.
    """
    x = as_sample(values, "values", positive=True)
    cv = noise_cv(x)
    if not math.isfinite(cv):
        raise StatsInputError(f"values: needs at least 2 runs to estimate noise, got {x.size}")
    return noise_plan(
        cv,
        int(x.size),
        rounds=rounds,
        effects=effects,
        alpha=alpha,
        power=power,
        family_size=family_size,
        max_rounds=max_rounds,
    )


def noise_plan(
    cv: float,
    n: int,
    *,
    rounds: int = 10,
    effects: Sequence[float] = (0.05, 0.10),
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    max_rounds: int = 1000,
) -> Noise:
    """What a per-run noise ``cv`` (estimated from ``n`` values, e.g. by
    :func:`paired_noise_cv`) implies for a paired A/B; see :func:`benchmark_noise`.

    >>> plan = noise_plan(0.10, 20, rounds=10)
    >>> round(plan.mde, 3), plan.rounds_for(0.10)
    (0.151, 20)
    """
    mde = planned_mde(cv, rounds, alpha=alpha, power=power, family_size=family_size, paired=True)
    needed = tuple(
        rounds_needed(
            e,
            cv,
            alpha=alpha,
            power=power,
            family_size=family_size,
            paired=True,
            max_rounds=max_rounds,
        )
        for e in effects
    )
    return Noise(cv=cv, n=n, rounds=rounds, mde=mde, effects=tuple(effects), needed=needed)
