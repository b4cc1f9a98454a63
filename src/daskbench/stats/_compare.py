"""Compare two samples of a metric (A = baseline, B = candidate) and give a verdict.

Everything happens on the log scale: performance changes are multiplicative ("20% slower"),
noise grows with the value, and on logs "B/A = 1.25" and "A/B = 1.25" are mirror images.

    >>> from daskbench.stats import compare
    >>> a = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03]
    >>> b = [1.30, 1.28, 1.33, 1.31, 1.29, 1.32]
    >>> c = compare(a, b)
    >>> c.verdict, round(c.ratio, 2), c.ci_low > 1
    ('regressed', 1.3, True)
    >>> compare(a, b, lower_is_better=False).verdict  # e.g. a throughput
    'improved'

Statistics (``method``):

* ``"t"`` (the default; see ``_ttests`` for why): unpaired, ``ratio = exp(difference of the
  mean logs)`` with Welch's t test and interval; ``paired=True`` (run i of A and run i of B
  share conditions), ``ratio = exp(mean log ratio)`` with Student's t test and interval.
  p-values are not bounded below by the sample size, so a large consistent change is
  decided at modest n, also inside a family of many comparisons.
* ``"rank"`` (the default before 0.2): Hodges-Lehmann shifts with Mann-Whitney / Wilcoxon
  signed-rank p-values and Moses / Tukey intervals. Distribution-free, but with ``n`` pairs
  no p-value is below ``2 / 2**n``. See ``_ranks``.

Either way the interval is the set of shifts the test does not reject, so it excludes 1
exactly when the test rejects at the interval's level.

Verdicts, with ``t = threshold`` and the interval at level ``1 - alpha``:

* ``regressed`` / ``improved``: significant (p < alpha; q < alpha in :func:`compare_many`),
  the whole interval on one side of 1, and the estimate beyond ``1 + t`` (or below
  ``1 / (1 + t)``). Whether "above 1" is a regression depends on ``lower_is_better``.
* ``unchanged``: the whole interval inside ``[1 / (1 + t), 1 + t]``: any change is smaller
  than we care about.
* ``inconclusive``: anything else -- a wide interval, a significant change too small to
  matter but not shown to be small, or too few samples. ``note`` says which.

Minimum sizes: the t tests give no verdict below 3 values per side (3 pairs), by policy --
below that nothing about the noise can be seen. The rank tests are exact and discrete, so
tiny samples can *never* reach ``alpha``: at 0.05 they need 4 + 4 values unpaired (smallest
p = 2/70) or 6 pairs (2/64). Below the minimum the interval is unbounded (ratio CI = ``(0,
inf)``) and the verdict is ``inconclusive`` -- never a guess.

Every comparison also reports ``mde`` (the smallest change its test detects with 80% power)
and ``noise_cv`` (the robust run-to-run CV of its data); ``noisy`` marks an MDE above the
threshold, i.e. data too noisy to support the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import numpy as np

from daskbench.errors import StatsInputError
from daskbench.stats._fdr import bh_qvalues
from daskbench.stats._noise import log_ratio_noise_cv, pooled_noise_cv
from daskbench.stats._power import Method, check_method, mde_of_logs
from daskbench.stats._ranks import FloatArray, RankShift, shift_paired, shift_two_sample
from daskbench.stats._ttests import MIN_PER_SIDE, TShift, t_paired, t_welch
from daskbench.stats._validate import as_sample, check_level

__all__ = ["Comparison", "Verdict", "compare", "compare_many"]

K = TypeVar("K")
POWER = 0.8  # of the reported MDE


class Verdict(StrEnum):
    """What a comparison concluded about B relative to A.

    A ``str``: compares equal to (and reprs as) its value, so reports and JSON can use it
    directly.
    """

    __repr__ = str.__repr__  # 'regressed' rather than <Verdict.REGRESSED: 'regressed'>

    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of :func:`compare`: B relative to A.

    ``ratio`` estimates B/A; ``ci_low``/``ci_high`` bound it at level ``ci_level``
    (``0.0``/``inf`` when the samples are too small for any bound). ``pvalue`` is the
    two-sided p-value of ``method``; ``qvalue`` its Benjamini-Hochberg adjustment, set only
    by :func:`compare_many`. ``mde`` is the smallest relative change detectable with 80%
    power by this test at this noise and size, at the level a lone change would need in its
    family (see :func:`minimum_detectable_effect`). ``noise_cv`` is the robust CV of one run
    (see ``_noise``; None with fewer than 2 values). ``method`` names the test
    (``paired-t``, ``welch-t``, ``wilcoxon``, ``mann-whitney``, ``sequential-t``).
    ``stop`` says why a sequential comparison stopped adding rounds (``decided``,
    ``futile``, ``limit``) or that it is still ``running``; empty for a fixed design.
    """

    ratio: float
    ci_low: float
    ci_high: float
    pvalue: float
    verdict: Verdict
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    mde: float
    paired: bool
    alpha: float
    threshold: float
    lower_is_better: bool
    ci_level: float
    qvalue: float | None = None
    note: str = ""
    method: str = ""
    noise_cv: float | None = None
    stop: str = ""

    @property
    def significant(self) -> bool:
        """Whether the change passed the test (q-value if from compare_many, else p-value)."""
        return (self.qvalue if self.qvalue is not None else self.pvalue) < self.alpha

    @property
    def noisy(self) -> bool:
        """The data are too noisy to support the threshold: the MDE exceeds it.

        Like rustc-perf's ``?``: a verdict other than ``inconclusive`` can still stand (a
        change far beyond the MDE is found anyway), but the absence of a regression means
        little.
        """
        return self.mde > self.threshold


def check_threshold(threshold: float) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or threshold < 0
    ):
        raise StatsInputError(f"threshold must be a finite number >= 0, got {threshold!r}")
    return float(threshold)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Validated inputs and their analysis, before a significance decision."""

    median_a: float
    median_b: float
    x: FloatArray  # log values of a (over a common power-of-two reference)
    y: FloatArray  # log values of b
    shift: TShift | RankShift
    paired: bool

    @property
    def method(self) -> str:
        if isinstance(self.shift, TShift):
            return "paired-t" if self.paired else "welch-t"
        return "wilcoxon" if self.paired else "mann-whitney"

    def too_few(self, level: float) -> bool:
        if isinstance(self.shift, TShift):
            return self.shift.too_few
        return self.shift.min_pvalue >= level

    def mde(self, level: float) -> float:
        if isinstance(self.shift, TShift):
            return math.expm1(self.shift.mde(level, POWER))
        return mde_of_logs(self.x, self.y, alpha=level, power=POWER, paired=self.paired)

    def noise_cv(self) -> float | None:
        return (
            log_ratio_noise_cv(self.y - self.x) if self.paired else pooled_noise_cv(self.x, self.y)
        )

    def too_few_note(self, alpha: float) -> str:
        if isinstance(self.shift, TShift):
            need = f"{MIN_PER_SIDE} pairs" if self.paired else f"{MIN_PER_SIDE} values per side"
            return (
                f"too few samples: n_a={self.x.size}, n_b={self.y.size}; the t test gives "
                f"a verdict from {need} (10+ recommended)"
            )
        need = "6 pairs" if self.paired else "4 + 4 or 3 + 5 values"
        return (
            f"too few samples: at n_a={self.x.size}, n_b={self.y.size} the smallest "
            f"attainable p-value is {self.shift.min_pvalue:.3g} >= alpha={alpha:g} "
            f"(at alpha=0.05 the minimum is {need}; 10+ recommended)"
        )


def log_values(a: Iterable[float], b: Iterable[float], paired: bool) -> tuple[FloatArray, ...]:
    """Validated samples, their logs over a common power-of-two reference."""
    xa = as_sample(a, "a", positive=True)
    xb = as_sample(b, "b", positive=True)
    if paired and xa.size != xb.size:
        raise StatsInputError(
            f"paired comparison needs equal lengths: a has {xa.size} values, b has {xb.size}"
        )
    # Dividing by a power of two near the data is exact, so scaling all data by 2**k gives
    # bit-identical logs; it also keeps logs small, so differences lose no precision.
    ref = math.ldexp(1.0, math.frexp(float(max(xa.max(), xb.max())))[1])
    return xa, xb, np.log(xa / ref), np.log(xb / ref)


def _prepare(a: Iterable[float], b: Iterable[float], paired: bool, method: str) -> _Prepared:
    xa, xb, x, y = log_values(a, b, paired)
    # Log differences (not log of quotients) so that swapping A and B negates every effect
    # exactly, and "regressed" becomes "improved" bit for bit.
    shift: TShift | RankShift
    if method == "rank":
        shift = shift_paired(y - x) if paired else shift_two_sample(x, y)
    else:
        shift = t_paired(y - x) if paired else t_welch(x, y)
    if not (math.isfinite(shift.estimate) and 0.0 <= shift.pvalue <= 1.0):
        # Validated finite positive input cannot get here; if it does, fail loudly rather
        # than report a verdict computed from garbage.
        raise ArithmeticError(f"analysis failed: estimate={shift.estimate}, p={shift.pvalue}")
    return _Prepared(
        median_a=float(np.median(xa)),
        median_b=float(np.median(xb)),
        x=x,
        y=y,
        shift=shift,
        paired=paired,
    )


def decide(
    est: float,
    lo: float,
    hi: float,
    *,
    significant: bool,
    threshold: float,
    lower_is_better: bool,
) -> Verdict:
    """The verdict from a log-scale estimate and interval (shared with sequential designs)."""
    # Compare on the log scale, where the bounds are exact mirror images of each other.
    bound = math.log1p(threshold)
    if significant and lo > 0.0 and est > bound:
        return Verdict.REGRESSED if lower_is_better else Verdict.IMPROVED
    if significant and hi < 0.0 and est < -bound:
        return Verdict.IMPROVED if lower_is_better else Verdict.REGRESSED
    if -bound <= lo and hi <= bound:
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def inconclusive_note(est: float, lo: float, hi: float, significant: bool, threshold: float) -> str:
    """Why an inconclusive verdict is one (apart from too few samples)."""
    if significant and abs(est) <= math.log1p(threshold):
        return (
            f"significant change {math.expm1(est):+.1%} is within threshold {threshold:.1%}"
            " but the interval reaches beyond it"
        )
    return (
        f"interval [{math.exp(lo):.3g}, {math.exp(hi):.3g}] too wide to decide; "
        "collect more samples"
    )


def _conclude(
    prep: _Prepared,
    *,
    significant: bool,
    ci_alpha: float,
    mde_alpha: float,
    alpha: float,
    threshold: float,
    lower_is_better: bool,
    qvalue: float | None,
) -> Comparison:
    lo, hi = prep.shift.interval(ci_alpha)
    est = prep.shift.estimate
    verdict = decide(
        est, lo, hi, significant=significant, threshold=threshold, lower_is_better=lower_is_better
    )
    note = ""
    if verdict is Verdict.INCONCLUSIVE:
        if prep.too_few(alpha):
            note = prep.too_few_note(alpha)
        else:
            note = inconclusive_note(est, lo, hi, significant, threshold)
    return Comparison(
        ratio=math.exp(est),
        ci_low=math.exp(lo),
        ci_high=math.exp(hi),
        pvalue=prep.shift.pvalue,
        verdict=verdict,
        n_a=int(prep.x.size),
        n_b=int(prep.y.size),
        median_a=prep.median_a,
        median_b=prep.median_b,
        mde=prep.mde(mde_alpha),
        paired=prep.paired,
        alpha=alpha,
        threshold=threshold,
        lower_is_better=lower_is_better,
        ci_level=1.0 - ci_alpha,
        qvalue=qvalue,
        note=note,
        method=prep.method,
        noise_cv=prep.noise_cv(),
    )


def compare(
    a: Iterable[float],
    b: Iterable[float],
    *,
    paired: bool = False,
    alpha: float = 0.05,
    threshold: float = 0.05,
    lower_is_better: bool = True,
    method: Method = "t",
) -> Comparison:
    """Compare candidate ``b`` against baseline ``a`` (positive values, e.g. seconds).

    ``threshold`` is the smallest relative change worth reporting (0.05 = 5%). ``method``
    chooses the test: ``"t"`` (default) or ``"rank"`` (see the module doc). Raises
    StatsInputError (a ValueError) naming the argument for empty input, NaN/inf, values
    <= 0, unequal lengths with ``paired=True``, or parameters out of range.

        >>> c = compare([10.0, 10.2, 9.9, 10.1], [10.0, 10.2, 9.9, 10.1])
        >>> c.verdict, c.ratio, c.pvalue
        ('unchanged', 1.0, 1.0)
        >>> compare([1.0, 1.1], [2.0, 2.1]).verdict  # 2 + 2 values: no verdict
        'inconclusive'
    """
    alpha = check_level("alpha", alpha)
    threshold = check_threshold(threshold)
    prep = _prepare(a, b, bool(paired), check_method(method))
    return _conclude(
        prep,
        significant=prep.shift.pvalue < alpha,
        ci_alpha=alpha,
        mde_alpha=alpha,
        alpha=alpha,
        threshold=threshold,
        lower_is_better=bool(lower_is_better),
        qvalue=None,
    )


def directions(keys: Iterable[K], lower_is_better: bool | Mapping[K, bool]) -> dict[K, bool]:
    """``lower_is_better`` per key, from one bool or a mapping with an entry for every key."""
    out: dict[K, bool] = {}
    for key in keys:
        if isinstance(lower_is_better, Mapping):
            if key not in lower_is_better:
                raise StatsInputError(f"lower_is_better has no entry for {key!r}")
            out[key] = bool(lower_is_better[key])
        else:
            out[key] = bool(lower_is_better)
    return out


def compare_many(
    pairs: Mapping[K, tuple[Iterable[float], Iterable[float]]],
    *,
    alpha: float = 0.05,
    threshold: float = 0.05,
    paired: bool = False,
    lower_is_better: bool | Mapping[K, bool] = True,
    method: Method = "t",
) -> dict[K, Comparison]:
    """Compare many (A, B) pairs at once, controlling the false discovery rate.

    Each pair is analysed as in :func:`compare`; the p-values are then adjusted with
    Benjamini-Hochberg (``qvalue``) and "significant" means ``q < alpha``. So among all the
    regressions and improvements reported, the expected share of false ones is at most
    ``alpha``; and when nothing changed at all, the chance of *any* false alarm in the suite
    is at most ``alpha``. (For independent or positively dependent tests, as comparisons
    measured side by side are.)

    Intervals follow Benjamini & Yekutieli (2005): with ``R`` of ``m`` comparisons
    significant, those ``R`` get intervals at level ``1 - R * alpha / m`` (false coverage
    rate control). Exactly the significant ones have ``p < R * alpha / m``, so their intervals
    exclude 1 consistently with their q-values. The other comparisons keep marginal
    ``1 - alpha`` intervals: for them only ``unchanged`` is at stake, a per-comparison
    equivalence claim whose error is a missed regression (governed by ``mde``), not a false
    discovery. ``ci_level`` records which level each interval has.

    Small samples cost more in a suite: a lone change is only flagged if its p-value beats
    ``alpha / m``. The ``mde`` of each comparison is computed at the level it had to (or
    would have to) pass: ``R * alpha / m`` if significant, ``(R + 1) * alpha / m`` (at most
    ``alpha``) if not -- so with nothing significant in a family of 60, at ``alpha / 60``.

    ``lower_is_better`` may be one bool or a mapping with an entry for every key.

        >>> a = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03]
        >>> cs = compare_many({"sum": (a, [2 * v for v in a]), "mean": (a, a)})
        >>> cs["sum"].verdict, cs["mean"].verdict, cs["sum"].qvalue < 1e-9
        ('regressed', 'unchanged', True)
    """
    alpha = check_level("alpha", alpha)
    threshold = check_threshold(threshold)
    check_method(method)
    ways = directions(pairs, lower_is_better)
    prepared: dict[K, _Prepared] = {}
    for key, pair in pairs.items():
        try:
            a, b = pair
            prepared[key] = _prepare(a, b, bool(paired), method)
        except StatsInputError as exc:
            raise StatsInputError(f"{key!r}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise StatsInputError(f"{key!r}: expected a pair (a, b) of samples ({exc})") from exc
    if not prepared:
        return {}
    m = len(prepared)
    qvalues = bh_qvalues([p.shift.pvalue for p in prepared.values()])
    selected = int(np.count_nonzero(qvalues < alpha))
    out: dict[K, Comparison] = {}
    for (key, prep), q in zip(prepared.items(), qvalues, strict=True):
        significant = bool(q < alpha)
        level = selected * alpha / m if significant else min(alpha, (selected + 1) * alpha / m)
        out[key] = _conclude(
            prep,
            significant=significant,
            ci_alpha=level if significant else alpha,
            mde_alpha=level,
            alpha=alpha,
            threshold=threshold,
            lower_is_better=ways[key],
            qvalue=float(q),
        )
    return out
