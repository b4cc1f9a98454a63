"""Sequential detection of a shift at the end of a history: have the newest runs moved?

:func:`detect_change_points` finds old steps well, but needs ``min_size`` values after a step
before it can see it. This module answers the nightly question instead: *given everything up
to tonight, is there enough evidence that the last few runs are worse than before?* It is
meant to be asked again every night over the same growing history, and is calibrated for that.

1. **Candidates.** Every start ``k`` of the last ``window`` values is a candidate for the first
   run of a new regime. Its *baseline* is the regime before it: up to ``baseline`` values
   before ``k``, not crossing a known earlier change point (``breaks``).
2. **Scores.** Positive histories are analysed in logs (a step is then a ratio, and noise of
   a few percent is close to normal). Values are standardised by the baseline's median and
   robust scale (1.4826 times its median absolute deviation) and clipped at ``+-clip``: a
   spike counts as ``clip`` noise standard deviations at most, whatever its size.
3. **Evidence.** For candidate ``k`` with ``d`` values after it, ``T = sum(tail scores) -
   d * mean(baseline scores)`` is standardised by ``sqrt(v * d * (1 + d / n_b))``, where
   ``v`` is the variance of the ``n_b`` baseline scores (at least 1) and the last factor is
   the uncertainty of the baseline's mean. That is a two-sample t statistic; it is turned into
   a normal deviate through Student's t with ``2 (n_b - 1)`` degrees of freedom (see
   ``_DF_FACTOR``), so a short baseline (an uncertain scale) needs stronger evidence. The
   largest of these over ``k`` is
   the generalised likelihood ratio statistic of a mean shift of unknown size and start
   (window-limited, Lai 1995): a large step wins with a short tail, a small one with a long
   tail.
4. **Boundary.** A shift is *declared* when that evidence reaches its threshold, with at
   least ``min_runs`` values after the start (one value never can be: it may be a spike). The
   boundary has two levels: ``short_threshold`` for tails of at most ``short_window`` runs,
   ``threshold`` for longer ones. It is computed, not guessed: ``1 - short_share`` of the
   ``false_alarm_rate`` fixes ``threshold`` as if it were the only level, then
   ``short_threshold`` is lowered until the whole boundary is crossed on a given night with
   probability ``false_alarm_rate`` exactly, by a random walk of clipped standard normal
   scores where 1% of the scores are outliers at ``+clip`` (exact, by propagating the walk's
   distribution on a fine grid). The lower short level is where a large step is decided: it
   buys a run or two on a step of about 3 noise standard deviations for a few percent more
   on the long level (``perf/detect_nightly.py``). Since detection runs again every night,
   ``false_alarm_rate`` is per history *and per night*: a suite of ``H`` histories run ``N``
   times a year fails CI on about ``H * N * false_alarm_rate`` nights a year of pure noise
   (the default 2e-5 gives at most 0.88 for 120 histories run nightly).

**Spikes.** A run scores at most ``clip``, whatever its size. In a tail of ``d >= 2`` runs
whose other runs score at most the baseline's mean ``m`` (runs no slower than usual),
``T <= clip - m <= 1.5 clip``, since ``m >= -clip / 2`` (half the baseline lies at or above
its median, which scores 0). With ``v >= 1`` the evidence is then at most
``1.5 clip / sqrt(2)`` = 3.2 for the default ``clip = 3``, below either level of any
``false_alarm_rate`` up to 1e-3: a spike among ordinary runs never declares a shift, however
large, and the ordinary runs after it clear it.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> history = list(rng.lognormal(0.0, 0.05, 60)) + [1.5, 1.45, 1.52, 1.49]
    >>> best = scan_tail(history).strongest
    >>> best.index, best.runs, best.declared, round(best.ratio, 2)
    (60, 4, True, 1.49)
    >>> declared_after(history, 60)  # the third run of the new regime fails CI
    3
    >>> scan_tail(history[:61]).strongest.declared  # one run: never declared
    False
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from daskbench.errors import StatsInputError
from daskbench.stats._validate import as_sample

__all__ = [
    "MonitorSettings",
    "Shift",
    "TailScan",
    "alarm_boundary",
    "alarm_threshold",
    "declared_after",
    "scan_tail",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Share of runs assumed to be upward outliers (a noisy neighbour, a cold cache) when the
# threshold is calibrated: each sits at +clip, the most a run can count.
_OUTLIER_RATE = 0.01

# Degrees of freedom of the t distribution that turns the statistic into a normal deviate, per
# degree of freedom of the baseline (n_b - 1). Student's t with n_b - 1 would be exact for a
# plain t statistic; flooring the variance at _V_FLOOR removes the lower half of its
# uncertainty (a baseline that happens to look quiet cannot make a run look extreme), and
# clipping bounds the scores. On simulated nights (lognormal noise, 1% spikes, baselines of 20,
# 60 and 200 values, rates of 1e-3 to 1e-5) the false-alarm rate is then 0.57 - 0.97 of the
# nominal rate; without any correction it is up to 11 times above it (baselines of 20).
_DF_FACTOR = 2.0
# The variance of the scores is at least that of normal noise (1): a baseline with less spread
# than the robust scale says (or none) cannot make the tail look extreme, and one run can never
# count for more than clip / sqrt(v) (see "Spikes" above).
_V_FLOOR = 1.0

# 1.4826 * MAD estimates the standard deviation of normal noise.
_MAD_TO_SD = 1.4826
# sqrt(pi / 2) * mean absolute deviation does too: the fallback when over half the values tie.
_MEAN_AD_TO_SD = math.sqrt(math.pi / 2.0)

# Grid step of the threshold's random-walk propagation, as a fraction of clip: within 0.3% of
# a grid four times finer on the threshold.
_GRID_PER_CLIP = 60


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the end of a history is watched; see the module docstring.

    >>> s = MonitorSettings()
    >>> 4.5 < s.short_threshold < s.threshold < 5.0
    True
    """

    false_alarm_rate: float = 2e-5  # per history and per night, without any change
    window: int = 60  # candidate starts among the last `window` values
    baseline: int = 200  # at most this many values before a candidate are its baseline
    min_baseline: int = 10  # candidates with a shorter baseline are not evaluated
    min_runs: int = 2  # a shift needs this many values after its start to be declared
    clip: float = 3.0  # scores are clipped at +-clip robust standard deviations
    short_window: int = 4  # tails of at most this many runs have the lower boundary ...
    short_share: float = 0.3  # ... paid for by this share of the rate on the higher one
    threshold: float = field(init=False, repr=False, compare=False)
    short_threshold: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.false_alarm_rate < 0.5:
            raise StatsInputError(
                f"false_alarm_rate must be in (0, 0.5), got {self.false_alarm_rate!r}"
            )
        if self.min_runs < 1:
            raise StatsInputError(f"min_runs must be >= 1, got {self.min_runs!r}")
        if self.window < self.min_runs:
            raise StatsInputError(
                f"window must be >= min_runs = {self.min_runs}, got {self.window!r}"
            )
        if self.min_baseline < 2:
            raise StatsInputError(f"min_baseline must be >= 2, got {self.min_baseline!r}")
        if self.baseline < self.min_baseline:
            raise StatsInputError(
                f"baseline must be >= min_baseline = {self.min_baseline}, got {self.baseline!r}"
            )
        if not 0.5 <= self.clip <= 10.0:
            raise StatsInputError(f"clip must be in [0.5, 10], got {self.clip!r}")
        if not 0 <= self.short_window < self.window:
            raise StatsInputError(
                f"short_window must be in [0, window = {self.window}), got {self.short_window!r}"
            )
        if not 0.0 <= self.short_share < 1.0:
            raise StatsInputError(f"short_share must be in [0, 1), got {self.short_share!r}")
        short, long = alarm_boundary(
            self.false_alarm_rate,
            window=self.window,
            min_runs=self.min_runs,
            clip=self.clip,
            short_window=self.short_window,
            short_share=self.short_share,
        )
        object.__setattr__(self, "threshold", long)
        object.__setattr__(self, "short_threshold", short)

    def threshold_for(self, runs: int) -> float:
        """The evidence a tail of ``runs`` values needs to be declared.

        >>> s = MonitorSettings()
        >>> s.threshold_for(4) == s.short_threshold, s.threshold_for(5) == s.threshold
        (True, True)
        """
        return self.short_threshold if runs <= self.short_window else self.threshold

    def pvalue(self, evidence: float, runs: int) -> float:
        """The chance that a history without a change shows this much evidence on one night.

        ``evidence`` of a tail of ``runs`` values, against the boundary moved up or down so
        that it passes through it (the model that calibrates the boundary): at either level,
        the p-value of evidence at the boundary is ``false_alarm_rate``.

        >>> s = MonitorSettings()
        >>> round(s.pvalue(s.threshold, 9) / s.false_alarm_rate, 1)
        1.0
        >>> round(s.pvalue(s.short_threshold, 2) / s.false_alarm_rate, 1)
        1.0
        """
        if evidence <= 0.0:
            return 1.0
        shift = float(evidence) - self.threshold_for(runs)
        bounds = _levels(
            self.short_threshold + shift, self.threshold + shift, self.short_window, self.window
        )
        return min(1.0, _crossing(bounds, self.min_runs, self.clip))


@dataclass(frozen=True, slots=True)
class Shift:
    """A candidate shift of the newest values: ``values[index:]`` against the baseline.

    ``before`` and ``after`` are the medians of the baseline and of the tail, ``evidence`` the
    normal-equivalent standardised shift (positive: worse), ``runs`` the values since
    ``index`` and ``baseline`` the number of baseline values.

    >>> Shift(index=50, runs=2, before=2.0, after=2.5, evidence=6.1, threshold=4.9,
    ...       baseline=50, declared=True).ratio
    1.25
    """

    index: int
    runs: int
    before: float
    after: float
    evidence: float
    threshold: float
    baseline: int
    declared: bool

    @property
    def ratio(self) -> float:
        """``after / before``: 1.25 is 25% higher. ``nan`` if ``before`` is 0."""
        return self.after / self.before if self.before != 0.0 else math.nan


@dataclass(frozen=True, slots=True)
class TailScan:
    """Every evaluable candidate shift of the newest values, ordered by index."""

    shifts: tuple[Shift, ...]

    @property
    def strongest(self) -> Shift | None:
        """The declared candidate with the most evidence (the likeliest start); if none is
        declared, the one closest to its threshold; ``None`` if there is no candidate.

        (A one-run tail can score higher than the declared step it ends.)
        """
        declared = [s for s in self.shifts if s.declared]
        if declared:
            return max(declared, key=lambda s: s.evidence)
        return max(self.shifts, key=lambda s: s.evidence - s.threshold, default=None)

    def declared_near(self, index: int, slack: int = 0) -> bool:
        """Whether a shift starting within ``slack`` of ``index`` is declared."""
        return any(s.declared and abs(s.index - index) <= slack for s in self.shifts)


def scan_tail(
    values: Iterable[float],
    *,
    worse: str = "higher",
    breaks: Sequence[int] = (),
    settings: MonitorSettings | None = None,
) -> TailScan:
    """Every evaluable candidate shift of the last ``settings.window`` values, by index.

    ``worse`` is ``"higher"`` (times, memory) or ``"lower"`` (throughput): the direction whose
    shifts are looked for. ``breaks`` are indices where a regime is known to start (change
    points found earlier); a baseline never reaches back across one. A candidate is evaluable
    when its baseline has at least ``min_baseline`` values, so a short history has none.

    >>> [s.index for s in scan_tail([1.0] * 12 + [2.0] * 2).shifts]
    [10, 11, 12, 13]
    """
    x = as_sample(values, "values")
    cfg = settings if settings is not None else MonitorSettings()
    sign = _sign(worse)
    return TailScan(tuple(_scan(x, sign, sorted(breaks), cfg)))


def declared_after(
    values: Iterable[float],
    index: int,
    *,
    worse: str = "higher",
    breaks: Sequence[int] = (),
    settings: MonitorSettings | None = None,
    slack: int = 0,
) -> int | None:
    """After how many values from ``index`` on a shift starting there was first declared.

    Replays the nightly question on ``values[:index + r]`` for ``r = min_runs, ...`` up to
    the present (at most ``window``): the first ``r`` at which a candidate within ``slack``
    of ``index`` is declared, or ``None``. ``r = 2`` means the second run of the new regime
    failed CI.

    >>> declared_after([1.0, 1.1] * 10 + [3.0] * 6, 20)
    4
    """
    x = as_sample(values, "values")
    cfg = settings if settings is not None else MonitorSettings()
    if not 0 <= index < x.size:
        raise StatsInputError(f"index must be in [0, {x.size}), got {index!r}")
    sign = _sign(worse)
    known = sorted(b for b in breaks if b <= index - slack)
    last = min(x.size - index, cfg.window)
    for runs in range(cfg.min_runs, last + 1):
        scan = TailScan(tuple(_scan(x[: index + runs], sign, known, cfg)))
        if scan.declared_near(index, slack):
            return runs
    return None


@lru_cache(maxsize=64)
def alarm_threshold(
    false_alarm_rate: float, *, window: int = 60, min_runs: int = 2, clip: float = 3.0
) -> float:
    """The evidence a history without any change reaches on a night with ``false_alarm_rate``.

    >>> round(alarm_threshold(2e-5), 2)
    4.88
    """
    target = math.log(false_alarm_rate)

    def gap(b: float) -> float:
        crossing = _crossing(_levels(b, b, 0, window), min_runs, clip)
        return math.log(max(crossing, 1e-300)) - target

    # The answer lies between the single-value quantile and a Bonferroni bound over windows.
    lo = float(special.ndtri(1.0 - false_alarm_rate)) - 1.0
    hi = float(special.ndtri(1.0 - false_alarm_rate / (4.0 * window))) + 2.0
    return float(optimize.brentq(gap, lo, hi, xtol=1e-4))


# --- the scan ---------------------------------------------------------------------------------


def _sign(worse: str) -> float:
    if worse == "higher":
        return 1.0
    if worse == "lower":
        return -1.0
    raise StatsInputError(f"worse must be 'higher' or 'lower', got {worse!r}")


def _scan(x: FloatArray, sign: float, breaks: list[int], cfg: MonitorSettings) -> list[Shift]:
    n = x.size
    starts = np.arange(max(0, n - cfg.window), n)
    if starts.size == 0:
        return []
    # Each candidate's baseline starts after the last break before it (and spans <= baseline).
    lows = np.array([breaks[j - 1] if (j := bisect.bisect_left(breaks, k)) else 0 for k in starts])
    lows = np.maximum(lows, starts - cfg.baseline)
    sizes = starts - lows
    keep = sizes >= cfg.min_baseline
    if not keep.any():
        return []
    starts, lows, sizes = starts[keep], lows[keep], sizes[keep]

    logs = bool((x > 0.0).all())
    y = sign * (np.log(x) if logs else x)
    # One row per candidate k: its baseline y[k - width : k], then its tail y[k : k + window].
    width = int(sizes.max())
    cols = starts[:, np.newaxis] + np.arange(-width, cfg.window)
    rows = y[np.clip(cols, 0, n - 1)]
    in_base = cols[:, :width] >= lows[:, np.newaxis]
    in_tail = cols[:, width:] < n
    whole = bool(in_base.all())  # no baseline cut short by a break or the start
    base = rows[:, :width] if whole else np.where(in_base, rows[:, :width], np.inf)
    ordered = np.sort(base, axis=1)  # (+inf, outside the baseline, sorts last)
    centre = _row_medians(ordered, sizes)
    spread = np.abs(base - centre[:, np.newaxis])
    scale = _MAD_TO_SD * _row_medians(np.sort(spread, axis=1), sizes)
    tied = scale == 0.0
    if tied.any():  # over half the baseline equal: the mean absolute deviation, if any
        mean_ad = np.where(in_base, spread, 0.0).sum(axis=1) / sizes
        scale = np.where(tied, _MEAN_AD_TO_SD * mean_ad, scale)

    scores = _scores(rows, centre, scale, cfg.clip)
    base_scores = scores[:, :width] if whole else np.where(in_base, scores[:, :width], 0.0)
    mean = base_scores.sum(axis=1) / sizes
    squares = (base_scores - mean[:, np.newaxis]) ** 2
    var = (squares if whole else squares * in_base).sum(axis=1) / (sizes - 1)
    var = np.maximum(var, _V_FLOOR)

    runs = n - starts
    total = np.where(in_tail, scores[:, width:], 0.0).sum(axis=1) - runs * mean
    t = total / np.sqrt(var * runs * (1.0 + runs / sizes))
    # To a normal deviate through Student's t (see _DF_FACTOR), in the upper tail.
    evidence = -special.ndtri(special.stdtr(_DF_FACTOR * (sizes - 1.0), -t))

    raw_ordered = np.exp(sign * ordered) if logs else sign * ordered
    # (for sign < 0 the rows are in descending order: the middle values are the same)
    before = _row_medians(raw_ordered, sizes)
    tails = np.where(in_tail, x[np.minimum(cols[:, width:], n - 1)], np.inf)
    after = _row_medians(np.sort(tails, axis=1), runs)
    thresholds = np.array([cfg.threshold_for(r) for r in runs.tolist()])
    declared = (evidence >= thresholds) & (runs >= cfg.min_runs)
    return [
        Shift(k, r, b, a, e, th, size, flag)
        for k, r, b, a, e, th, size, flag in zip(
            starts.tolist(),
            runs.tolist(),
            before.tolist(),
            after.tolist(),
            evidence.tolist(),
            thresholds.tolist(),
            sizes.tolist(),
            declared.tolist(),
            strict=True,
        )
    ]


def _scores(y: FloatArray, centre: FloatArray, scale: FloatArray, c: float) -> FloatArray:
    """Clipped standardised values, row by row; with zero scale, +-c (or 0 at the centre)."""
    diff = y - centre[:, np.newaxis]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / scale[:, np.newaxis]
    z = np.where(scale[:, np.newaxis] > 0.0, z, np.sign(diff) * c)
    return np.asarray(np.clip(z, -c, c), dtype=np.float64)


def _row_medians(ordered: FloatArray, sizes: IntArray) -> FloatArray:
    """Medians of the first ``sizes[i]`` values of each sorted row."""
    rows = np.arange(sizes.size)
    lo = ordered[rows, (sizes - 1) // 2]
    hi = ordered[rows, sizes // 2]
    return np.asarray(0.5 * (lo + hi), dtype=np.float64)


# --- calibration ------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _increment(clip: float) -> tuple[FloatArray, float, float, int]:
    """The score distribution on the grid: clipped N(0, 1), with _OUTLIER_RATE at +clip.

    Returns its probabilities on ``-clip .. clip`` (step ``clip / _GRID_PER_CLIP``), mean,
    standard deviation and the step.
    """
    half = _GRID_PER_CLIP
    step = clip / half
    edges = (np.arange(-half, half + 2) - 0.5) * step
    cdf = special.ndtr(edges)
    cdf[0], cdf[-1] = 0.0, 1.0
    probs = np.diff(cdf) * (1.0 - _OUTLIER_RATE)
    probs[-1] += _OUTLIER_RATE
    grid = np.arange(-half, half + 1) * step
    mean = float(probs @ grid)
    sd = math.sqrt(float(probs @ (grid - mean) ** 2))
    return np.asarray(probs, dtype=np.float64), mean, sd, half


def _levels(short: float, long: float, short_window: int, window: int) -> tuple[float, ...]:
    """The boundary for tails of ``d = 1 .. window`` runs: ``short`` up to ``short_window``."""
    return (short,) * short_window + (long,) * (window - short_window)


@lru_cache(maxsize=64)
def alarm_boundary(
    false_alarm_rate: float,
    *,
    window: int = 60,
    min_runs: int = 2,
    clip: float = 3.0,
    short_window: int = 4,
    short_share: float = 0.3,
) -> tuple[float, float]:
    """The two levels ``(short, long)`` of the boundary crossed with ``false_alarm_rate`` by a
    history without any change on one night (see the module docstring).

    >>> short, long = alarm_boundary(2e-5)
    >>> round(short, 2), round(long, 2)
    (4.63, 4.95)
    >>> alarm_boundary(2e-5, short_share=0.0) == (alarm_threshold(2e-5),) * 2
    True
    >>> alarm_boundary(2e-5, short_window=1) == (alarm_threshold(2e-5),) * 2  # min_runs 2
    True
    """
    if short_window < min_runs:
        short_share = 0.0  # no tail is judged against the short level: it gets no share
    long = alarm_threshold(
        false_alarm_rate * (1.0 - short_share), window=window, min_runs=min_runs, clip=clip
    )
    if short_share == 0.0:
        return long, long
    target = math.log(false_alarm_rate)

    def gap(b: float) -> float:
        crossing = _crossing(_levels(b, long, short_window, window), min_runs, clip)
        return math.log(max(crossing, 1e-300)) - target

    # Lower than `long` (that level alone is crossed with less than the rate), above 0.
    short = float(optimize.brentq(gap, 0.5, long, xtol=1e-4))
    return short, long


def _crossing(bounds: tuple[float, ...], min_runs: int, clip: float) -> float:
    """P(S_d - d mu >= bounds[d - 1] sd sqrt(d) for some d = min_runs .. len(bounds)), S a
    walk of scores from ``_increment``: the chance of one night's false alarm.

    The walk's distribution is carried on the grid, each point standing for a cell of one
    step; the part of each cell past the boundary is removed and counted (so the result is
    continuous in the bounds). Far below, mass cannot come back within the window: the grid
    stops there.
    """
    probs, mu, sd, half = _increment(clip)
    step = clip / half
    window = len(bounds)
    limits = [d * mu + b * sd * math.sqrt(d) for d, b in enumerate(bounds, start=1)]
    lowest = math.floor((window * mu - 12.0 * sd * math.sqrt(window)) / step) - half
    highest = max(max(math.ceil(limit / step) for limit in limits), half) + half
    size = highest - lowest + 1
    dens = np.zeros(size)
    dens[-lowest - half : -lowest + half + 1] = probs  # S_1, offset so index 0 is `lowest`
    crossed = 0.0
    positions = np.arange(lowest, highest + 1) * step
    for d in range(1, window + 1):
        if d > 1:
            dens = np.convolve(dens, probs)[half : half + size]
        if d >= min_runs:
            share = np.clip((positions - limits[d - 1]) / step + 0.5, 0.0, 1.0)
            crossed += float(dens @ share)
            dens *= 1.0 - share
    return crossed
