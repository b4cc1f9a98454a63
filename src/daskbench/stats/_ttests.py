"""t tests of a location shift on the log scale, with the matching (dual) intervals.

Two designs, on values already moved to the log scale by the caller:

* paired (``t_paired``): Student's one-sample t test on the log ratios ``d_i = y_i - x_i``;
  estimate = their mean, interval = mean +- t quantile x standard error;
* two samples (``t_welch``): Welch's t test on ``y - x``; estimate = difference of the means,
  Welch-Satterthwaite degrees of freedom.

Why t tests and not rank tests: with ``n`` pairs no test that only assumes symmetry (sign
flips, signed ranks) can give a p-value below ``2 / 2**n`` -- 0.0078 at 8 rounds -- so inside
a family of 60 comparisons (Benjamini-Hochberg needs about ``0.05 / 60`` for a lone change) a
1.5x slowdown seen in every round could never be flagged. The t test also uses the *size* of
the log ratios, so its p-value keeps falling as the evidence grows. The price is an
assumption: log ratios roughly normal. It is exact for log-normal noise, and conservative
(fewer false alarms, less power) for heavy tails and for one outlier round: a single wild
value inflates the standard deviation faster than the mean (its t statistic tends to 1).
``perf/stats_false_alarms.py`` measures both. Trimmed (Yuen) t tests were measured and not
chosen: their t reference is too light in the far tails at 6-20 rounds (1.3-2x the nominal
rate at p = 0.001), exactly where a family's threshold lives.

Test and interval are dual by construction: shifting every ``d_i`` by ``delta`` shifts the
estimate by ``delta`` and leaves the standard error alone, so the interval at level
``1 - a`` is exactly the set of shifts the level-``a`` test keeps. Sums are ``math.fsum``
(correctly rounded), so negating the data negates estimate and interval bit for bit.

    >>> import numpy as np
    >>> r = t_paired(np.array([0.1, 0.2, 0.3]))
    >>> round(r.estimate, 3), round(r.se, 4), r.df, round(r.pvalue, 4)
    (0.2, 0.0577, 2.0, 0.0742)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["MIN_PER_SIDE", "TShift", "mean_and_squares", "t_paired", "t_quantile", "t_welch"]

FloatArray = npt.NDArray[np.float64]

# Below 3 values per side (3 pairs) the t reference has 1 degree of freedom (a Cauchy tail)
# and nothing about the shape of the noise can be seen: no verdict, by policy.
MIN_PER_SIDE = 3


def t_quantile(df: float, prob: float) -> float:
    """The ``prob`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(special.stdtrit(df, prob))


@dataclass(frozen=True, slots=True)
class TShift:
    """Result of one t analysis on the log scale (internal; see ``_compare``).

    ``se == 0`` (every log ratio equal, or both samples constant) is a shift known without
    noise: p = 0 unless the estimate is exactly 0 (then 1), and a zero-width interval.
    """

    estimate: float
    se: float
    df: float
    too_few: bool  # fewer than MIN_PER_SIDE values on a side: no verdict, infinite interval

    @property
    def pvalue(self) -> float:
        """Two-sided p-value of "no shift"."""
        if self.too_few or math.isnan(self.df):
            return 1.0
        if self.se == 0.0:
            return 1.0 if self.estimate == 0.0 else 0.0
        t = abs(self.estimate) / self.se
        return min(1.0, 2.0 * float(special.stdtr(self.df, -t)))

    def critical(self, alpha: float) -> float:
        """``|t|`` beyond which the two-sided level-``alpha`` test rejects."""
        return t_quantile(self.df, 1.0 - alpha / 2.0)

    def interval(self, alpha: float) -> tuple[float, float]:
        """The ``1 - alpha`` interval: the shifts the two-sided level-``alpha`` test keeps."""
        if self.too_few:
            return -math.inf, math.inf
        if self.se == 0.0:
            return self.estimate, self.estimate
        half = self.critical(alpha) * self.se
        return self.estimate - half, self.estimate + half

    def mde(self, alpha: float, power: float) -> float:
        """Smallest shift (log scale) the level-``alpha`` test detects with ``power``.

        Exact for normal log ratios with this standard error and degrees of freedom: the
        shift at which the noncentral t exceeds the critical value with probability
        ``power`` (the far tail of the other side is ignored, as usual).
        """
        if self.too_few or math.isnan(self.df):
            return math.inf
        if self.se == 0.0:
            return 0.0
        return noncentral_shift(self.df, alpha, power) * self.se


def noncentral_shift(df: float, alpha: float, power: float) -> float:
    """Standardised shift ``delta / se`` that a two-sided level-``alpha`` t test with
    ``df`` degrees of freedom detects with probability ``power``."""
    crit = t_quantile(df, 1.0 - alpha / 2.0)
    return float(special.nctdtrinc(df, 1.0 - power, crit))


def mean_and_squares(v: FloatArray) -> tuple[float, float]:
    """Mean and sum of squared deviations; exactly (v, 0) for a constant sample."""
    if v.size and bool(np.all(v == v[0])):
        return float(v[0]), 0.0  # fsum / n can miss v by an ulp, faking a little noise
    mean = math.fsum(v.tolist()) / v.size
    return mean, math.fsum(((v - mean) ** 2).tolist())


def t_paired(d: FloatArray) -> TShift:
    """Student's t analysis of the paired log ratios ``d`` (B minus A)."""
    n = d.size
    mean, squares = mean_and_squares(d)
    if n < MIN_PER_SIDE:
        return TShift(estimate=mean, se=math.inf, df=float(max(n - 1, 0)), too_few=True)
    se = math.sqrt(squares / (n - 1) / n)
    return TShift(estimate=mean, se=se, df=float(n - 1), too_few=False)


def t_welch(x: FloatArray, y: FloatArray) -> TShift:
    """Welch's t analysis of the shift ``y - x`` (B minus A, log scale)."""
    mx, sx = mean_and_squares(x)
    my, sy = mean_and_squares(y)
    estimate = my - mx  # negates exactly when A and B swap
    if min(x.size, y.size) < MIN_PER_SIDE:
        return TShift(estimate=estimate, se=math.inf, df=math.nan, too_few=True)
    vx = sx / (x.size - 1) / x.size  # squared standard error of each mean
    vy = sy / (y.size - 1) / y.size
    total = vx + vy
    se = math.sqrt(total)
    if total == 0.0:
        df = float(x.size + y.size - 2)
    else:
        # Welch-Satterthwaite; written symmetrically so that swapping A and B is exact.
        df = total**2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return TShift(estimate=estimate, se=se, df=df, too_few=False)
