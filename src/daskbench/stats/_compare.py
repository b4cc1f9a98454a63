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

Statistics (see ``_ranks`` for why rank-based intervals instead of a bootstrap):

* unpaired: ``ratio = exp(Hodges-Lehmann shift of the logs)``, the Moses interval and the
  two-sided Mann-Whitney U p-value;
* ``paired=True`` (run i of A and run i of B share conditions): ``ratio = exp(median of the
  Walsh averages of the log ratios)``, Tukey's interval and the Wilcoxon signed-rank p-value.

Verdicts, with ``t = threshold`` and the interval at level ``1 - alpha``:

* ``regressed`` / ``improved``: significant (p < alpha; q < alpha in :func:`compare_many`),
  the whole interval on one side of 1, and the estimate beyond ``1 + t`` (or below
  ``1 / (1 + t)``). Whether "above 1" is a regression depends on ``lower_is_better``.
* ``unchanged``: the whole interval inside ``[1 / (1 + t), 1 + t]``: any change is smaller
  than we care about.
* ``inconclusive``: anything else -- a wide interval, a significant change too small to
  matter but not shown to be small, or too few samples. ``note`` says which.

Minimum sizes: the rank tests are exact and discrete, so tiny samples can *never* reach
``alpha``: at 0.05 you need 4 + 4 values unpaired (smallest p = 2/70) or 6 pairs (2/64).
Below that the interval is unbounded (ratio CI = ``(0, inf)``) and the verdict is
``inconclusive`` -- never a guess. Ten or more per side are recommended.
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
from daskbench.stats._power import check_level, mde_of_logs
from daskbench.stats._ranks import FloatArray, RankShift, shift_paired, shift_two_sample
from daskbench.stats._validate import as_sample

__all__ = ["Comparison", "Verdict", "compare", "compare_many"]

K = TypeVar("K")


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
    two-sided rank-test p-value; ``qvalue`` its Benjamini-Hochberg adjustment, set only by
    :func:`compare_many`. ``mde`` is the smallest relative change detectable with 80% power
    at this noise and size (see :func:`minimum_detectable_effect`).
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

    @property
    def significant(self) -> bool:
        """Whether the change passed the test (q-value if from compare_many, else p-value)."""
        return (self.qvalue if self.qvalue is not None else self.pvalue) < self.alpha


def _check_threshold(threshold: float) -> float:
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
    """Validated inputs and their rank analysis, before a significance decision."""

    median_a: float
    median_b: float
    x: FloatArray  # log values of a (over a common power-of-two reference)
    y: FloatArray  # log values of b
    rank: RankShift
    paired: bool


def _prepare(a: Iterable[float], b: Iterable[float], paired: bool) -> _Prepared:
    xa = as_sample(a, "a", positive=True)
    xb = as_sample(b, "b", positive=True)
    if paired and xa.size != xb.size:
        raise StatsInputError(
            f"paired comparison needs equal lengths: a has {xa.size} values, b has {xb.size}"
        )
    # Dividing by a power of two near the data is exact, so scaling all data by 2**k gives
    # bit-identical logs; it also keeps logs small, so differences lose no precision.
    ref = math.ldexp(1.0, math.frexp(float(max(xa.max(), xb.max())))[1])
    x, y = np.log(xa / ref), np.log(xb / ref)
    # Log differences (not log of quotients) so that swapping A and B negates every effect
    # exactly, and "regressed" becomes "improved" bit for bit.
    rank = shift_paired(y - x) if paired else shift_two_sample(x, y)
    if not (math.isfinite(rank.estimate) and 0.0 <= rank.pvalue <= 1.0):
        # Validated finite positive input cannot get here; if it does, fail loudly rather
        # than report a verdict computed from garbage.
        raise ArithmeticError(f"rank analysis failed: estimate={rank.estimate}, p={rank.pvalue}")
    return _Prepared(
        median_a=float(np.median(xa)),
        median_b=float(np.median(xb)),
        x=x,
        y=y,
        rank=rank,
        paired=paired,
    )


def _conclude(
    prep: _Prepared,
    *,
    significant: bool,
    ci_alpha: float,
    alpha: float,
    threshold: float,
    lower_is_better: bool,
    qvalue: float | None,
) -> Comparison:
    rank = prep.rank
    lo, hi = rank.interval(ci_alpha)
    est = rank.estimate
    # Compare on the log scale, where the bounds are exact mirror images of each other.
    bound = math.log1p(threshold)
    too_few = rank.min_pvalue >= alpha
    if significant and lo > 0.0 and est > bound:
        verdict = Verdict.REGRESSED if lower_is_better else Verdict.IMPROVED
    elif significant and hi < 0.0 and est < -bound:
        verdict = Verdict.IMPROVED if lower_is_better else Verdict.REGRESSED
    elif -bound <= lo and hi <= bound:
        verdict = Verdict.UNCHANGED
    else:
        verdict = Verdict.INCONCLUSIVE
    note = ""
    if verdict is Verdict.INCONCLUSIVE:
        if too_few:
            need = "6 pairs" if prep.paired else "4 + 4 or 3 + 5 values"
            note = (
                f"too few samples: at n_a={prep.x.size}, n_b={prep.y.size} the smallest "
                f"attainable p-value is {rank.min_pvalue:.3g} >= alpha={alpha:g} "
                f"(at alpha=0.05 the minimum is {need}; 10+ recommended)"
            )
        elif significant and abs(est) <= bound:
            note = f"significant change {math.expm1(est):+.1%} is within threshold {threshold:.1%}"
            note += " but the interval reaches beyond it"
        else:
            note = (
                f"interval [{math.exp(lo):.3g}, {math.exp(hi):.3g}] too wide to decide; "
                "collect more samples"
            )
    return Comparison(
        ratio=math.exp(est),
        ci_low=math.exp(lo),
        ci_high=math.exp(hi),
        pvalue=rank.pvalue,
        verdict=verdict,
        n_a=int(prep.x.size),
        n_b=int(prep.y.size),
        median_a=prep.median_a,
        median_b=prep.median_b,
        mde=mde_of_logs(prep.x, prep.y, alpha=alpha, power=0.8, paired=prep.paired),
        paired=prep.paired,
        alpha=alpha,
        threshold=threshold,
        lower_is_better=lower_is_better,
        ci_level=1.0 - ci_alpha,
        qvalue=qvalue,
        note=note,
    )


def compare(
    a: Iterable[float],
    b: Iterable[float],
    *,
    paired: bool = False,
    alpha: float = 0.05,
    threshold: float = 0.05,
    lower_is_better: bool = True,
) -> Comparison:
    """Compare candidate ``b`` against baseline ``a`` (positive values, e.g. seconds).

    ``threshold`` is the smallest relative change worth reporting (0.05 = 5%). Raises
    StatsInputError (a ValueError) naming the argument for empty input, NaN/inf, values
    <= 0, unequal lengths with ``paired=True``, or parameters out of range.

        >>> c = compare([10.0, 10.2, 9.9, 10.1], [10.0, 10.2, 9.9, 10.1])
        >>> c.verdict, c.ratio, c.pvalue
        ('unchanged', 1.0, 1.0)
        >>> compare([1.0, 1.1], [2.0, 2.1]).verdict  # 2 + 2 values can never be significant
        'inconclusive'
    """
    alpha = check_level("alpha", alpha)
    threshold = _check_threshold(threshold)
    prep = _prepare(a, b, bool(paired))
    return _conclude(
        prep,
        significant=prep.rank.pvalue < alpha,
        ci_alpha=alpha,
        alpha=alpha,
        threshold=threshold,
        lower_is_better=bool(lower_is_better),
        qvalue=None,
    )


def compare_many(
    pairs: Mapping[K, tuple[Iterable[float], Iterable[float]]],
    *,
    alpha: float = 0.05,
    threshold: float = 0.05,
    paired: bool = False,
    lower_is_better: bool | Mapping[K, bool] = True,
) -> dict[K, Comparison]:
    """Compare many (A, B) pairs at once, controlling the false discovery rate.

    Each pair is analysed as in :func:`compare`; the p-values are then adjusted with
    Benjamini-Hochberg (``qvalue``) and "significant" means ``q < alpha``. So among all the
    regressions and improvements reported, the expected share of false ones is at most
    ``alpha``; and when nothing changed at all, the chance of *any* false alarm in the suite
    is at most ``alpha``.

    Intervals follow Benjamini & Yekutieli (2005): with ``R`` of ``m`` comparisons
    significant, those ``R`` get intervals at level ``1 - R * alpha / m`` (false coverage
    rate control). Exactly the significant ones have ``p < R * alpha / m``, so their intervals
    exclude 1 consistently with their q-values. The other comparisons keep marginal
    ``1 - alpha`` intervals: for them only ``unchanged`` is at stake, a per-comparison
    equivalence claim whose error is a missed regression (governed by ``mde``), not a false
    discovery. ``ci_level`` records which level each interval has.

    Small samples cost more in a suite: a change is only flagged if its p-value beats
    ``alpha * R / m``, which is ``alpha / m`` when it is the only change. With 100
    benchmarks and 10 pairs each (smallest signed-rank p = 2/1024 > 0.05/100) a lone
    regression can never be flagged; 10 + 10 unpaired values (smallest p = 1e-5) can.

    ``lower_is_better`` may be one bool or a mapping with an entry for every key.

        >>> a = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03]
        >>> cs = compare_many({"sum": (a, [2 * v for v in a]), "mean": (a, a)})
        >>> cs["sum"].verdict, cs["mean"].verdict, round(cs["sum"].qvalue, 4)
        ('regressed', 'unchanged', 0.0043)
    """
    alpha = check_level("alpha", alpha)
    threshold = _check_threshold(threshold)
    directions: dict[K, bool] = {}
    for key in pairs:
        if isinstance(lower_is_better, Mapping):
            if key not in lower_is_better:
                raise StatsInputError(f"lower_is_better has no entry for {key!r}")
            directions[key] = bool(lower_is_better[key])
        else:
            directions[key] = bool(lower_is_better)
    prepared: dict[K, _Prepared] = {}
    for key, pair in pairs.items():
        try:
            a, b = pair
            prepared[key] = _prepare(a, b, bool(paired))
        except StatsInputError as exc:
            raise StatsInputError(f"{key!r}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise StatsInputError(f"{key!r}: expected a pair (a, b) of samples ({exc})") from exc
    if not prepared:
        return {}
    qvalues = bh_qvalues([p.rank.pvalue for p in prepared.values()])
    selected = int(np.count_nonzero(qvalues < alpha))
    adjusted_alpha = selected * alpha / len(prepared)
    out: dict[K, Comparison] = {}
    for (key, prep), q in zip(prepared.items(), qvalues, strict=True):
        significant = bool(q < alpha)
        out[key] = _conclude(
            prep,
            significant=significant,
            ci_alpha=adjusted_alpha if significant else alpha,
            alpha=alpha,
            threshold=threshold,
            lower_is_better=directions[key],
            qvalue=float(q),
        )
    return out
