"""Sequential A/B: add rounds while a comparison is undecided, stop as soon as it is decided.

Looking at a t test after every round and stopping at the first ``p < alpha`` ("naive
re-testing") inflates false alarms several-fold. Here every comparison is judged by an
*e-process* instead: a number ``E_n`` that, when nothing changed, stays below ``1 / a`` at
*all* rounds with probability ``1 - a`` (Ville's inequality). So ``E`` may be looked at
after every round and the experiment stopped whenever convenient -- when decided, at the
round limit, or because other comparisons are decided -- and ``1 / E`` is still a valid
p-value at the stopping time.

The e-process is the scale-invariant Bayes factor of the t test (a normal prior on the
standardised effect ``mu / sigma``, the right-Haar prior ``1 / sigma`` on the noise; Lai
1976, Rouder et al. 2009), averaged over prior scales ``g`` in :data:`PRIOR_SCALES`. Under
"no change" it is a nonnegative martingale in the filtration of the scale-free statistics,
with closed form, for ``n`` pairs, ``nu = n - 1`` and the usual t statistic::

    BF_g = (1 + n g) ** -1/2 * ((1 + t**2 / nu) / (1 + t**2 / ((1 + n g) nu))) ** (n / 2)

Like the fixed-n t test it assumes roughly normal log ratios, and is conservative for heavy
tails and outlier rounds (``perf/ab_sequential.py`` measures it).

Across the family (every benchmark x metric of a candidate) the e-values are combined with
e-BH (Wang & Ramdas 2022): reject the largest set ``R`` in which every member has
``E_i >= m / (alpha |R|)``. Any such self-consistent set keeps the false discovery rate at
most ``alpha`` for e-values with *arbitrary* dependence, and each e-value may be taken at its
own stopping time. Two consequences used here:

* only *actionable* comparisons (estimate beyond the threshold) are candidates for ``R``: a
  subset of a self-consistent family is still a self-consistent set with denominator ``m``;
* a rejected comparison is frozen at the round it was rejected; later rejections only grow
  ``R``, so a verdict once reached never flips back.

Intervals are the matching e-confidence sequences ``{delta: E(delta) < 1 / level}``
(anytime-valid, exactly dual to the test): at level ``|R| alpha / m`` for the rejected ones
(e-BY: false coverage rate at most ``alpha`` whatever the selection), ``alpha`` otherwise.
``unchanged`` (the ``1 - alpha`` sequence inside the threshold band) also stops a comparison,
and so does *futility*: when, at the current estimate and noise, the chance of reaching any
verdict by the round limit is below ``futility``. Stopping early never makes a false alarm
more likely; it only gives up power, which ``perf/ab_sequential.py`` measures.

    >>> design = SequentialDesign(first=5, max_rounds=20)
    >>> ratios = {"fast": [1.50, 1.52, 1.49, 1.51, 1.50], "same": [1.0, 1.1, 0.9, 1.05, 0.95]}
    >>> series = {k: [(r, 1.0, v) for r, v in enumerate(vs)] for k, vs in ratios.items()}
    >>> result = sequential_compare_many(series, design)
    >>> result.comparisons["fast"].verdict, result.comparisons["fast"].stop
    ('regressed', 'decided')
    >>> result.comparisons["same"].verdict, result.comparisons["same"].stop, result.done
    ('inconclusive', 'futile', True)
    >>> patient = SequentialDesign(first=5, max_rounds=20, futility=0.0)
    >>> sorted(sequential_compare_many(series, patient).open)  # wants round 6
    ['same']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, TypeVar

import numpy as np
from scipy import optimize, special

from daskbench.errors import StatsInputError
from daskbench.stats._compare import (
    POWER,
    Comparison,
    check_threshold,
    decide,
    directions,
    inconclusive_note,
    log_values,
)
from daskbench.stats._noise import log_ratio_noise_cv
from daskbench.stats._ttests import MIN_PER_SIDE, mean_and_squares, t_quantile
from daskbench.stats._validate import check_level

__all__ = [
    "PRIOR_SCALES",
    "SequentialDesign",
    "SequentialResult",
    "critical_t",
    "log_e_value",
    "sequential_compare_many",
    "sequential_min_rounds",
]

K = TypeVar("K")

# Prior variances of the standardised effect mu / sigma, averaged with equal weight: from
# about 1 (a change the size of the noise) to 8 noise sds. Power hardly depends on the exact
# grid (measured); the largest scale sets how early a huge change can be decided.
PRIOR_SCALES = (1.0, 4.0, 16.0, 64.0)

RoundPairs = Sequence[tuple[int, float, float]]


def log_e_value(t2: float, n: int) -> float:
    """``log E_n`` of the mixture t e-process at ``n`` pairs with squared t statistic ``t2``.

    ``0`` (E = 1) below 2 pairs. Increasing in ``t2``; ``t2 = inf`` gives the largest value
    ``n`` pairs can ever reach.

        >>> log_e_value(0.0, 1), round(log_e_value(0.0, 10), 3), round(log_e_value(100.0, 10), 2)
        (0.0, -1.938, 9.18)
    """
    if n < 2:
        return 0.0
    nu = n - 1.0
    terms = []
    for g in PRIOR_SCALES:
        big = 1.0 + n * g
        # log((1 + t2/nu) / (1 + t2/(big nu))) = log(big) + log1p(nu (1 - big) / (big nu + t2)),
        # finite (-> log(big)) as t2 -> inf.
        ratio = math.log(big) + math.log1p(nu * (1.0 - big) / (big * nu + t2))
        terms.append(-0.5 * math.log(big) + 0.5 * n * ratio)
    top = max(terms)
    return top + math.log(math.fsum(math.exp(v - top) for v in terms) / len(terms))


@lru_cache(maxsize=4096)
def critical_t(n: int, log_level: float) -> float:
    """The ``|t|`` at which ``log E_n`` reaches ``log_level`` (``inf`` if it never does)."""
    if n < 2 or log_e_value(math.inf, n) < log_level:
        return math.inf
    if log_e_value(0.0, n) >= log_level:
        return 0.0
    hi = 1.0
    while log_e_value(hi, n) < log_level:
        hi *= 4.0
    t2 = optimize.brentq(lambda v: log_e_value(v, n) - log_level, 0.0, hi, xtol=1e-12, rtol=1e-12)
    return math.sqrt(t2)


def sequential_min_rounds(family_size: int = 1, *, alpha: float = 0.05) -> int:
    """The fewest pairs at which a sequential comparison can be decided in a family of ``m``.

    A lone change needs ``E >= m / alpha``; ``n`` pairs can give at most the value at an
    infinite t statistic. (The fixed-n t test needs 3.)

        >>> sequential_min_rounds(1), sequential_min_rounds(60), sequential_min_rounds(120)
        (3, 5, 5)
    """
    target = math.log(family_size / check_level("alpha", alpha))
    n = MIN_PER_SIDE
    while log_e_value(math.inf, n) < target:
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class SequentialDesign:
    """An A/B with ``first`` rounds, then one more at a time up to ``max_rounds``.

    ``futility``: a comparison stops adding rounds when its chance of reaching any verdict
    by ``max_rounds`` (at its current estimate and noise) is below this; 0 turns it off.
    """

    first: int
    max_rounds: int
    alpha: float = 0.05
    threshold: float = 0.05
    futility: float = 0.05

    def __post_init__(self) -> None:
        for name in ("first", "max_rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StatsInputError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_rounds < self.first:
            raise StatsInputError(
                f"max_rounds ({self.max_rounds}) must be at least first ({self.first})"
            )
        check_level("alpha", self.alpha)
        check_threshold(self.threshold)
        if not 0.0 <= self.futility < 1.0:
            raise StatsInputError(f"futility must be in [0, 1), got {self.futility!r}")


@dataclass(frozen=True, slots=True)
class _State:
    """One comparison's data up to a look, with its t statistic and e-value."""

    n: int
    estimate: float
    se: float
    log_e: float

    @classmethod
    def of(cls, d: np.ndarray) -> _State:
        n = d.size
        if n == 0:
            return cls(0, 0.0, math.inf, 0.0)
        mean, squares = mean_and_squares(d)
        if n < 2:
            return cls(n, mean, math.inf, 0.0)
        se = math.sqrt(squares / (n - 1) / n)
        if se > 0.0:
            return cls(n, mean, se, log_e_value((mean / se) ** 2, n))
        # no noise at all: a known shift (E as large as n pairs allow) or exactly none
        return cls(n, mean, se, log_e_value(0.0 if mean == 0.0 else math.inf, n))

    def interval(self, level: float) -> tuple[float, float]:
        """The e-confidence sequence at ``level`` (its error rate), at this look."""
        if self.n < MIN_PER_SIDE:
            return -math.inf, math.inf
        if self.se == 0.0:
            return self.estimate, self.estimate
        half = critical_t(self.n, math.log(1.0 / level)) * self.se
        return self.estimate - half, self.estimate + half


@dataclass(frozen=True)
class SequentialResult(Generic[K]):
    """Verdicts after the last look, and what still wants rounds.

    ``open``: the comparisons that want another round (empty once the experiment is over).
    ``rounds_used[k]``: the rounds of the experiment comparison ``k`` took into account (the
    look at which it stopped, or the last look).
    """

    comparisons: dict[K, Comparison]
    rounds_used: dict[K, int]
    open: frozenset[K]
    looks: int
    design: SequentialDesign = field(repr=False)

    @property
    def done(self) -> bool:
        return not self.open


def _rounds(key: object, pairs: RoundPairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        items = sorted((int(r), float(a), float(b)) for r, a, b in pairs)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{key!r}: expected (round, a, b) triples ({exc})") from exc
    rounds = [r for r, _, _ in items]
    if len(set(rounds)) != len(rounds):
        raise StatsInputError(f"{key!r}: a round appears twice; pairs must be one per round")
    if not items:
        empty = np.zeros(0)
        return np.zeros(0, dtype=np.int64), empty, empty
    try:
        xa, xb, x, y = log_values([a for _, a, _ in items], [b for _, _, b in items], True)
    except StatsInputError as exc:
        raise StatsInputError(f"{key!r}: {exc}") from exc
    return np.asarray(rounds, dtype=np.int64), np.stack([xa, xb]), y - x


def _ebh(log_e: Mapping[K, float], candidates: Iterable[K], m: int, alpha: float) -> set[K]:
    """e-BH restricted to ``candidates`` with denominator ``m``: the largest self-consistent
    set, i.e. every member with ``E >= m / (alpha |R|)``."""
    values = sorted((log_e[k] for k in candidates), reverse=True)
    k = 0
    for i, v in enumerate(values, start=1):
        if v >= math.log(m / (alpha * i)):
            k = i
    if k == 0:
        return set()
    cut = math.log(m / (alpha * k))
    return {key for key in candidates if log_e[key] >= cut}


def _qvalues(log_e: Mapping[K, float], candidates: set[K], m: int) -> dict[K, float]:
    """BH-adjusted ``1 / E`` among the candidates (denominator ``m``): ``q < alpha`` exactly
    for the e-BH set. A non-candidate gets the value it would have as one."""

    def adjusted(members: list[K]) -> dict[K, float]:
        order = sorted(members, key=lambda k: -log_e[k])
        out: dict[K, float] = {}
        running = 1.0
        for rank in range(len(order), 0, -1):
            key = order[rank - 1]
            p = min(1.0, math.exp(-log_e[key]))
            running = min(running, p * m / rank)
            out[key] = running
        return out

    base = adjusted(list(candidates))
    for key in log_e:
        if key not in candidates:
            base[key] = adjusted([*candidates, key])[key]
    return base


def _conditional_power(
    state: _State, look: int, design: SequentialDesign, m: int, rejected: int
) -> float:
    """Chance of a verdict by ``max_rounds`` if the current estimate and noise were the truth."""
    left = design.max_rounds - look
    n_final = state.n + left
    if left <= 0 or state.n < MIN_PER_SIDE:
        return 1.0
    sd = state.se * math.sqrt(state.n) * math.sqrt(left) / n_final  # of the final mean
    if sd == 0.0:
        return 1.0
    se_final = state.se * math.sqrt(state.n / n_final)
    bound = math.log1p(design.threshold)
    reject_level = math.log(m / (design.alpha * (rejected + 1)))
    edge = max(critical_t(n_final, reject_level) * se_final, bound)
    p_reject = special.ndtr((state.estimate - edge) / sd) + special.ndtr(
        (-edge - state.estimate) / sd
    )
    inner = bound - critical_t(n_final, math.log(1.0 / design.alpha)) * se_final
    p_same = 0.0
    if inner > 0:
        p_same = special.ndtr((inner - state.estimate) / sd) - special.ndtr(
            (-inner - state.estimate) / sd
        )
    return float(p_reject + p_same)


def sequential_compare_many(
    series: Mapping[K, RoundPairs],
    design: SequentialDesign,
    *,
    lower_is_better: bool | Mapping[K, bool] = True,
    rounds_run: int | None = None,
) -> SequentialResult[K]:
    """Replay the sequential design over paired ``(round, a, b)`` values of every comparison.

    Looks happen after rounds ``design.first``, ``first + 1``, ... up to ``rounds_run`` (by
    default one past the highest round seen) or ``design.max_rounds``. At each look every
    comparison still open is judged on its pairs from earlier rounds; decided ones keep the
    state of the look that decided them. The result is a pure function of the data, so the
    runner can call it after every round to learn which benchmarks still need rounds, and a
    report can recompute it from stored results.

    Rounds need not be complete: a comparison simply has fewer pairs where a benchmark
    failed. Raises StatsInputError naming the key for bad values or a round given twice.
    """
    bound = math.log1p(design.threshold)
    ways = directions(series, lower_is_better)
    data = {key: _rounds(key, pairs) for key, pairs in series.items()}
    m = len(data)
    if rounds_run is None:
        rounds_run = max((int(r[-1]) + 1 for r, _, _ in data.values() if r.size), default=0)
    last = min(rounds_run, design.max_rounds)
    # Before the first look (an interim call) every comparison shows all its data so far.
    states = {k: _State.of(d[r < last]) for k, (r, _, d) in data.items()}
    used = dict.fromkeys(data, last)
    stop: dict[K, str] = {}
    rejected: set[K] = set()

    def actionable() -> set[K]:
        # Candidates for a discovery: beyond the threshold, with enough pairs. Stopped ones
        # stay candidates with their frozen e-values (each taken at its own stopping time).
        big = {k for k, s in states.items() if s.n >= MIN_PER_SIDE and abs(s.estimate) > bound}
        return big | rejected

    for look in range(design.first, last + 1):
        for key, (rounds, _, d) in data.items():
            if key not in stop:
                states[key] = _State.of(d[rounds < look])
        log_e = {k: s.log_e for k, s in states.items()}
        newly = _ebh(log_e, actionable(), m, design.alpha) - rejected
        rejected |= newly
        for key in data:
            if key in newly:
                if key not in stop:
                    used[key] = look
                stop[key] = "decided"
                continue
            if key in stop:
                continue
            lo, hi = states[key].interval(design.alpha)
            if -bound <= lo and hi <= bound:
                stop[key] = "decided"  # unchanged
            elif look >= design.max_rounds:
                stop[key] = "limit"
            elif design.futility > 0 and (
                _conditional_power(states[key], look, design, m, len(rejected)) < design.futility
            ):
                stop[key] = "futile"
            if key in stop:
                used[key] = look
    open_keys = frozenset(k for k in data if k not in stop and last < design.max_rounds)
    log_e = {k: s.log_e for k, s in states.items()}
    qvalues = _qvalues(log_e, actionable(), m) if m else {}
    comparisons = {
        key: _comparison(
            states[key],
            data[key][1],
            data[key][2],
            design,
            significant=key in rejected,
            selected=len(rejected),
            m=m,
            qvalue=qvalues[key],
            lower_is_better=ways[key],
            stop=stop.get(key, "running" if key in open_keys else "limit"),
        )
        for key in data
    }
    return SequentialResult(comparisons, used, open_keys, last, design)


def _comparison(
    state: _State,
    values: np.ndarray,
    d: np.ndarray,
    design: SequentialDesign,
    *,
    significant: bool,
    selected: int,
    m: int,
    qvalue: float,
    lower_is_better: bool,
    stop: str,
) -> Comparison:
    """The comparison of one key from its state at its stopping look (its first pairs)."""
    alpha = design.alpha
    level = selected * alpha / m if significant else alpha
    lo, hi = state.interval(level)
    verdict = decide(
        state.estimate,
        lo,
        hi,
        significant=significant,
        threshold=design.threshold,
        lower_is_better=lower_is_better,
    )
    mde_level = level if significant else min(alpha, (selected + 1) * alpha / m)
    if state.n < MIN_PER_SIDE:
        mde = math.inf
    elif state.se == 0.0:
        mde = 0.0
    else:
        shift = critical_t(state.n, math.log(1.0 / mde_level)) + t_quantile(state.n - 1, POWER)
        mde = math.expm1(shift * state.se)
    note = ""
    if verdict == "inconclusive":
        if state.n < MIN_PER_SIDE:
            note = f"too few samples: {state.n} pairs; a verdict needs {MIN_PER_SIDE} or more"
        elif stop == "futile":
            note = (
                f"stopped after {state.n} pairs: at this noise no verdict was likely by "
                f"{design.max_rounds} rounds"
            )
        else:
            note = inconclusive_note(state.estimate, lo, hi, qvalue < alpha, design.threshold)
    n = state.n
    used = values[:, :n] if values.size else values
    return Comparison(
        ratio=math.exp(state.estimate),
        ci_low=math.exp(lo),
        ci_high=math.exp(hi),
        pvalue=min(1.0, math.exp(-state.log_e)),
        verdict=verdict,
        n_a=n,
        n_b=n,
        median_a=float(np.median(used[0])) if n else math.nan,
        median_b=float(np.median(used[1])) if n else math.nan,
        mde=mde,
        paired=True,
        alpha=alpha,
        threshold=design.threshold,
        lower_is_better=lower_is_better,
        ci_level=1.0 - level,
        qvalue=qvalue,
        note=note,
        method="sequential-t",
        noise_cv=log_ratio_noise_cv(d[:n]),
        stop=stop,
    )
