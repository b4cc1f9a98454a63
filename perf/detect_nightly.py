"""Nightly CI, simulated: false-alarm nights a year and nights to detection of new steps.

A suite of 40 tests x 3 metrics = 120 histories: ``wall_time`` with lognormal noise of 8%,
``peak_memory`` and ``avg_memory`` with 3%; each run's value is a spike (x1.5-2.5, a noisy
neighbour) with probability 1%. Every night a run is appended to every history and detection
runs over the whole history, as the nightly workflow does: through ``detect_series``, the
function ``daskbench.history.detect`` applies to each history (the store is left out: loading
does not change the numbers, and this keeps a simulated year to about a minute).

Three rules, side by side on the same simulated nights:

* **daskbench**: ``Change.failing`` with the default settings (sequential detection of the
  newest runs, calibrated per history and night, plus the offline change points);
* **offline only**: the rule of the previous release, a regression found by
  ``detect_change_points`` whose first bad run is among the last 10 runs, not reverted;
* **coiled rule**: the rule of coiled/benchmarks, the last 3 runs all above the mean + 3 sd
  of the 10 runs before them.

Figures:

* false-alarm nights a year: nights of pure noise on which at least one of the 120 histories
  fails CI (a history re-tested 365 times a year: each night counts);
* nights to detection of a step landing after a random 60-360 runs of history: the number of
  nightly runs with the step when CI first fails (1 = the first run after the merge fails),
  median and quartiles over the trials, the share within the goal and the share never
  detected within 40 runs;
* what any detector of the monitor's kind could do at the same budget: the share within the
  goal of a test that watches only the goal's window, and of an oracle that knows the
  baseline exactly with a level per block of tail lengths, searched (``oracle_bound``):
  can all four goals be met at once? And of the same oracle taking the baseline's mean and sd
  from its runs, as any detector must (``estimated=True``);
* what estimating the baseline costs the monitor against that oracle (its evidence for a +15%
  step, on the same runs), and the trade-off: daskbench's delays at larger false-alarm rates;
* isolated spikes (x1.5-2.5, at least 8 runs apart) in otherwise clean 8% histories: failing
  nights.

    python perf/detect_nightly.py [--years 2] [--trials 200] [--spike-histories 200] [--seed 1]
                                  [--false-alarm-rate R] [--skip null,steps,tradeoff,spikes]

The defaults take a few minutes plus about 10 for the estimated oracle's level search (part
"steps"); the figures quoted in docs/history.md used ``--years 8 --trials 300
--spike-histories 1000``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from daskbench.history import History, Series, _detect
from daskbench.history._detect import detect_series
from daskbench.models import Environment, Run
from daskbench.stats import ChangePoint, MonitorSettings, detect_change_points

METRICS = (("wall_time", 0.08), ("peak_memory", 0.03), ("avg_memory", 0.03))
TESTS = 40
WARMUP = 60  # runs of history before the simulated year
SPIKE_RATE = 0.01
HORIZON = 40  # runs after a step within which detection is looked for
CASES = (  # name, metric, noise, step, goal in runs with the step (see GOAL_NOTE)
    ("+10% wall time", "wall_time", 0.08, 1.10, 21),
    ("+15% wall time", "wall_time", 0.08, 1.15, 7),
    ("+25% wall time", "wall_time", 0.08, 1.25, 4),
    ("+10% peak memory", "peak_memory", 0.03, 1.10, 4),
)
PLUS15 = [name for name, *_ in CASES].index("+15% wall time")  # the goal out of reach
GOAL_NOTE = (
    "goals: the issue's 20, 6, 3, 3 nights after the step lands, i.e. 21, 7, 4, 4 runs with\n"
    "it (the issue reports the coiled rule's +10% memory at 2 nights: its minimum, 3 runs)"
)
T0 = datetime(2025, 1, 1, 2, tzinfo=UTC)


class Lineage:
    """Runs of one label, shared by every history of a simulation (they run together)."""

    def __init__(self, size: int) -> None:
        self.ids = [f"r{i:05d}" for i in range(size)]
        self.runs = {
            run_id: Run(
                run_id,
                "main",
                T0 + timedelta(days=i),
                environment=Environment(git_commit=f"{i:07x}"),
            )
            for i, run_id in enumerate(self.ids)
        }
        self.position = {run_id: i for i, run_id in enumerate(self.ids)}

    def history(self, nights: int) -> History:
        """The lineage as ``daskbench detect`` sees it after ``nights`` runs."""
        return History(self.runs, {"main": self.ids[:nights]}, {}, self.position)


# --- the three rules -----------------------------------------------------------------------


def daskbench_fails(
    values: np.ndarray, metric: str, lineage: Lineage, monitor: MonitorSettings
) -> bool:
    n = values.size
    series = Series("main", "test", metric, tuple(lineage.ids[:n]), tuple(values.tolist()))
    changes, _ = detect_series(series, lineage.history(n), monitor=monitor)
    return any(c.failing for c in changes)


_last: tuple[bytes, list[ChangePoint]] = (b"", [])


def offline_search(values: object, **kwargs: object) -> list[ChangePoint]:
    """``detect_change_points``, remembered for the last history: the two rules that use it
    share one search per night (the result is the same)."""
    global _last
    key = np.asarray(values, dtype=np.float64).tobytes() + repr(sorted(kwargs.items())).encode()
    if _last[0] != key:
        _last = (key, detect_change_points(values, **kwargs))  # type: ignore[arg-type]
    return _last[1]


_detect.detect_change_points = offline_search  # type: ignore[assignment]


def offline_fails(values: np.ndarray, recent: int = 10, min_change: float = 0.05) -> bool:
    """The previous release: a new, unreverted regression among the offline change points."""
    found = [
        cp
        for cp in offline_search(values, alpha=0.05, min_size=5)
        if abs(cp.after / cp.before - 1.0) >= min_change
    ]
    if not found:
        return False
    latest = found[-1].after
    return any(
        cp.after > cp.before
        and cp.index >= values.size - recent
        and latest > cp.before
        and abs(latest / cp.before - 1.0) >= min_change
        for cp in found
    )


def coiled_fails(values: np.ndarray) -> bool:
    """coiled/benchmarks: the last 3 runs all above mean + 3 sd of the 10 runs before them."""
    if values.size < 13:
        return False
    before = values[-13:-3]
    return bool((values[-3:] > before.mean() + 3.0 * before.std(ddof=1)).all())


RULES: tuple[str, ...] = ("daskbench", "offline only", "coiled rule")


def verdicts(
    values: np.ndarray, metric: str, lineage: Lineage, monitor: MonitorSettings
) -> tuple[bool, bool, bool]:
    return (
        daskbench_fails(values, metric, lineage, monitor),
        offline_fails(values),
        coiled_fails(values),
    )


# --- simulated data --------------------------------------------------------------------------


def noisy(rng: np.random.Generator, n: int, cv: float, spikes: float = SPIKE_RATE) -> np.ndarray:
    values = rng.lognormal(0.0, cv, n)
    hit = rng.random(n) < spikes
    values[hit] *= rng.uniform(1.5, 2.5, int(hit.sum()))
    return values


def isolated_spikes(
    rng: np.random.Generator, n: int, cv: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Clean noise with spikes x1.5-2.5 at least 8 runs apart (every 8-20 runs); the same
    noise without them; the number of spikes."""
    clean = rng.lognormal(0.0, cv, n)
    values = clean.copy()
    at = WARMUP + int(rng.integers(0, 8))
    count = 0
    while at < n:
        values[at] *= rng.uniform(1.5, 2.5)
        count += 1
        at += int(rng.integers(8, 21))
    return values, clean, count


# --- the simulations ---------------------------------------------------------------------------


@dataclass
class NullYear:
    failing_nights: list[int]  # per rule: nights on which any history failed
    failing_history_nights: list[int]  # per rule: (history, night) pairs failing


def null_year(rng: np.random.Generator, lineage: Lineage, monitor: MonitorSettings) -> NullYear:
    nights = np.zeros((len(RULES), 365), dtype=bool)
    pairs = [0] * len(RULES)
    suite = [
        (metric, 10.0 * noisy(rng, WARMUP + 365, cv))
        for _ in range(TESTS)
        for metric, cv in METRICS
    ]
    # Night by night, as CI runs: all histories have the same length on a night, which is also
    # what the offline search caches its plan by.
    for night in range(365):
        for metric, values in suite:
            got = verdicts(values[: WARMUP + night + 1], metric, lineage, monitor)
            for r, fails in enumerate(got):
                nights[r, night] |= fails
                pairs[r] += fails
    return NullYear([int(row.sum()) for row in nights], pairs)


def delays(
    rng: np.random.Generator,
    judge: Callable[[np.ndarray, str], Sequence[bool]],
    metric: str,
    cv: float,
    step: float,
    trials: int,
) -> list[list[float]]:
    """Per rule ``judge`` applies (it says which fail CI on a history), per trial: runs with
    the step when CI first failed (inf: not within HORIZON)."""
    per_trial: list[list[float]] = []
    # In order of history length, so that consecutive trials share the offline search's plans.
    for start in sorted(WARMUP + int(s) for s in rng.integers(0, 301, trials)):
        values = 10.0 * noisy(rng, start + HORIZON, cv)
        values[start:] *= step
        first: list[float] = []
        for runs in range(1, HORIZON + 1):
            got = judge(values[: start + runs], metric)
            first = first or [math.inf] * len(got)  # one per rule the judge applies
            for r, fails in enumerate(got):
                if fails and first[r] == math.inf:
                    first[r] = runs
            if all(f < math.inf for f in first):
                break
        per_trial.append(first)
    return [list(by_rule) for by_rule in zip(*per_trial, strict=True)]


def spike_nights(
    seed: int, lineage: Lineage, monitor: MonitorSettings, histories: int
) -> tuple[int, int, list[int], list[str]]:
    """Spikes placed, nights evaluated, failing nights per rule, and for daskbench's failing
    nights whether they fail without the spikes too (noise, not the spike)."""
    rng = np.random.default_rng([seed, 3])
    spikes = evaluated = 0
    failing = [0] * len(RULES)
    causes: list[str] = []
    for h in range(histories):
        values, clean, count = isolated_spikes(rng, WARMUP + 100, 0.08)
        values, clean = 10.0 * values, 10.0 * clean
        spikes += count
        for night in range(100):
            n = WARMUP + night + 1
            got = verdicts(values[:n], "wall_time", lineage, monitor)
            evaluated += 1
            for r, fails in enumerate(got):
                failing[r] += fails
            if got[0]:
                alone = daskbench_fails(clean[:n], "wall_time", lineage, monitor)
                causes.append(f"history {h} night {night}: {'noise' if alone else 'spike'}")
    return spikes, evaluated, failing, causes


def clipped_scores(
    rng: np.random.Generator, shift: float, shape: tuple[int, int], clip: float = 3.0
) -> np.ndarray:
    """The monitor's scores of runs ``shift`` noise sd off the baseline: N(shift, 1) clipped
    at +-``clip``, the simulation's spikes at +``clip``."""
    z = np.clip(rng.normal(shift, 1.0, shape), -clip, clip)
    z[rng.random(shape) < SPIKE_RATE] = clip
    return z


def standardised(total: Any, runs: Any, clip: float) -> Any:
    """The oracle's evidence: a sum of ``runs`` clipped scores standardised by the calibration
    model's mean and sd (``_increment``), as the monitor's boundary is computed."""
    from daskbench.stats._monitor import _increment

    _, mu, sd, _ = _increment(clip)
    return (total - runs * mu) / (sd * np.sqrt(runs))


def single_window_bound(cv: float, step: float, runs: int, rate: float) -> float:
    """P(a run-``runs`` test fails CI on the ``runs``-th run of the step), for the best test
    that watches only that window: the whole false-alarm budget on one clipped sum, known
    baseline, the spikes of the simulation. No detector that also watches other windows (to
    catch other step sizes) can do better there."""
    from daskbench.stats._monitor import alarm_threshold

    b = alarm_threshold(rate, window=runs, min_runs=runs)
    rng = np.random.default_rng(0)
    scores = clipped_scores(rng, math.log(step) / cv, (200_000, runs))
    z = standardised(scores.sum(axis=1), runs, 3.0)
    return float((z >= b).mean())


# Tails judged against one level each in the oracle bound: blocks ending at the goals' windows.
ORACLE_BLOCKS = ((2, 4), (5, 7), (8, 21))
SOLVED_BLOCK = 1  # the level solved for the false-alarm rate (the others are searched)
# Clips of the oracle's scores: the monitor's, and a lower one that leaves spikes less weight.
ORACLE_CLIPS = (3.0, 2.5)
# Runs of history before a simulated step (WARMUP + 0-300): the estimated oracle's baselines.
BASELINE_RUNS = (WARMUP, WARMUP + 300)


def sd_error(clip: float) -> float:
    """``s`` such that the relative error of the sd of ``n`` clipped scores is about
    N(0, s^2 / n): sqrt((kurtosis - 1) / 4) of the calibration model's scores."""
    from daskbench.stats._monitor import _increment

    probs, mu, sd, half = _increment(clip)
    scores = np.arange(-half, half + 1) * clip / half
    kurtosis = float(probs @ (scores - mu) ** 4) / sd**4
    return math.sqrt((kurtosis - 1.0) / 4.0)


def estimated_crossing(bounds: Sequence[float], clip: float, baseline: tuple[int, int]) -> float:
    """P(a history without a step crosses ``bounds`` (tails of 1, 2, ... runs; one run is
    never judged) on a night) when each tail sum is standardised by a baseline's mean and sd
    of clipped scores from ``baseline[0]..baseline[1]`` runs, drawn evenly.

    ``S_d - d mu >= d e + b_d sd (1 + r) sqrt(d (1 + d / n))`` with the mean's error
    ``e = sd g / sqrt(n)`` and the sd's ``r = sd_error(clip) h / sqrt(n)``: the known-baseline
    walk (``_crossing``) against ``g sqrt(d / n) + b_d (1 + r) sqrt(1 + d / n)``, averaged over
    ``n`` (midpoints of three equal parts of its range) and ``g``, ``h`` (independent standard
    normals, probabilists' Gauss-Hermite). ``perf/detect_nightly.py`` checks it by Monte Carlo.
    """
    from daskbench.stats._monitor import _crossing

    spread = sd_error(clip)
    parts = np.linspace(baseline[0], baseline[1] + 1, 4)
    sizes = (parts[:-1] + parts[1:]) / 2.0
    nodes, weights = np.polynomial.hermite_e.hermegauss(10)  # the mean's error
    sd_nodes, sd_weights = np.polynomial.hermite_e.hermegauss(6)  # the sd's
    weights, sd_weights = weights / weights.sum(), sd_weights / sd_weights.sum()
    b = np.asarray(bounds, dtype=np.float64)
    d = np.arange(1, b.size + 1, dtype=np.float64)
    total = 0.0
    for size in sizes:
        for h, v in zip(sd_nodes, sd_weights, strict=True):
            widened = b * (1.0 + spread * h / math.sqrt(size)) * np.sqrt(1.0 + d / size)
            for g, w in zip(nodes, weights, strict=True):
                moved = g * np.sqrt(d / size) + widened
                total += v * w * _crossing(tuple(moved.tolist()), 2, clip) / sizes.size
    return total


def estimated_crossing_check(
    clip: float, level: float, baseline: tuple[int, int] = BASELINE_RUNS, trials: int = 20_000
) -> tuple[float, float, int]:
    """``estimated_crossing`` of one level for tails of 2-21 runs, against Monte Carlo: real
    baselines of clipped scores (``trials`` per length, every 10th length of ``baseline``),
    their mean and sample sd. Returns both rates and the Monte Carlo's count of crossings."""
    rng = np.random.default_rng(7)
    d = np.arange(1, 22, dtype=np.float64)
    hits = total = 0
    for n in range(baseline[0], baseline[1] + 1, 10):
        base = clipped_scores(rng, 0.0, (trials, n), clip)
        mean = base.mean(axis=1, keepdims=True)
        sd_hat = base.std(axis=1, ddof=1, keepdims=True)
        tail = clipped_scores(rng, 0.0, (trials, d.size), clip)
        z = (np.cumsum(tail, axis=1) - d * mean) / (sd_hat * np.sqrt(d * (1.0 + d / n)))
        hits += int((z[:, 1:] >= level).any(axis=1).sum())
        total += trials
    return estimated_crossing([level] * d.size, clip, baseline), hits / total, hits


@dataclass
class Oracle:
    levels: tuple[float, ...]  # per block of ORACLE_BLOCKS
    shares: list[float]  # per case of CASES: share detected within the goal


def oracle_bound(
    rate: float,
    blocks: Sequence[tuple[int, int]] = ORACLE_BLOCKS,
    trials: int = 100_000,
    grid: int = 25,
    clip: float = 3.0,
    estimated: bool = False,
    baseline: tuple[int, int] = BASELINE_RUNS,
) -> tuple[Oracle, Oracle | None]:
    """How close can a boundary of the monitor's kind come to all four goals at once?

    An oracle that knows each history's baseline exactly (no estimation: the monitor must
    estimate it) and watches only tails of the goals' lengths, 2 to 21 runs, ``blocks`` of
    tail lengths with a level each; the levels are searched on a grid, the one of
    ``SOLVED_BLOCK`` solved so that a history without a step crosses the boundary with
    exactly ``rate`` per night (the exact random-walk computation of the monitor's boundary:
    the same scores, clipped at ``clip`` sd as the monitor's are so that a spike counts at most
    that much, 1% of them spikes). Step trials use the simulation's noise.

    With ``estimated``, the oracle still knows the noise's distribution (clipped normal, 1%
    spikes) but, as any detector must, takes the baseline's mean and standard deviation from
    the runs before the tails it watches: those of their clipped scores, from as many runs as
    the simulation's steps have before them (``baseline``: 60-360, drawn per history; with
    its levels the same for every length, calibrated on their mix), so a tail of ``d``
    runs is standardised by ``sd_hat * sqrt(d * (1 + d / n))``. Its boundary is calibrated for
    that: the random walk's crossing averaged over the baseline's length and the errors of
    its mean and sd (normal, independent, with their large-sample variances; Gauss-Hermite).

    Returns the boundary that maximises the smallest share within the goal over the four
    cases, and the one with the largest +15% share among those that keep the other cases
    at >= 50% (None if there is no such boundary).
    """
    import itertools

    from scipy import optimize

    from daskbench.stats._monitor import _crossing, _increment

    longest = blocks[-1][1]
    rng = np.random.default_rng(2)

    # Per case: each block's largest standardised tail sum over the nights up to the goal.
    block_max = []
    lengths = np.arange(1, longest + 1)
    _, mu, sd, _ = _increment(clip)
    spread = sd_error(clip)
    for _, _, cv, step, goal in CASES:
        before = clipped_scores(rng, 0.0, (trials, longest), clip)
        after = clipped_scores(rng, math.log(step) / cv, (trials, goal), clip)
        if estimated:  # the baseline's length and the errors of its mean and sd, per history
            n = rng.integers(baseline[0], baseline[1] + 1, trials)[:, np.newaxis]
            error = sd * rng.standard_normal((trials, 1)) / np.sqrt(n)
            sd_hat = sd * (1.0 + spread * rng.standard_normal((trials, 1)) / np.sqrt(n))
        top = np.full((trials, len(blocks)), -np.inf)
        for night in range(1, goal + 1):
            tail = np.concatenate([before, after[:, :night]], axis=1)[:, ::-1][:, :longest]
            if estimated:
                total = np.cumsum(tail, axis=1) - lengths * (mu + error)
                z = total / (sd_hat * np.sqrt(lengths * (1.0 + lengths / n)))
            else:
                z = standardised(np.cumsum(tail, axis=1), lengths, clip)
            for b, (lo, hi) in enumerate(blocks):
                top[:, b] = np.maximum(top[:, b], z[:, lo - 1 : hi].max(axis=1))
        block_max.append(top)

    def crossing(levels: Sequence[float]) -> float:
        bounds = [levels[0]]  # a one-run tail is never judged (min_runs 2)
        for level, (lo, hi) in zip(levels, blocks, strict=True):
            bounds += [level] * (hi - lo + 1)
        if estimated:
            return estimated_crossing(bounds, clip, baseline)
        return _crossing(tuple(bounds), 2, clip)

    def solve(searched: tuple[float, ...]) -> tuple[float, ...] | None:
        def with_level(m: float) -> tuple[float, ...]:
            return (*searched[:SOLVED_BLOCK], m, *searched[SOLVED_BLOCK:])

        def gap(m: float) -> float:
            return math.log(max(crossing(with_level(m)), 1e-300)) - math.log(rate)

        if gap(12.0) > 0.0 or gap(2.0) < 0.0:
            return None
        return with_level(float(optimize.brentq(gap, 2.0, 12.0, xtol=1e-3)))

    best: Oracle | None = None
    best_15: Oracle | None = None
    axis = [float(v) for v in np.linspace(3.6, 6.0, grid)]
    for searched in itertools.product(axis, repeat=len(blocks) - 1):
        levels = solve(searched)
        if levels is None:
            continue
        found = Oracle(
            levels, [float((bm >= np.array(levels)).any(axis=1).mean()) for bm in block_max]
        )
        if best is None or min(found.shares) > min(best.shares):
            best = found
        others = [s for c, s in enumerate(found.shares) if c != PLUS15]
        better = best_15 is None or found.shares[PLUS15] > best_15.shares[PLUS15]
        if min(others) >= 0.5 and better:
            best_15 = found
    assert best is not None, "no boundary on the grid meets the rate"
    return best, best_15


# The trade-off: daskbench's default false-alarm rate and larger budgets.
TRADEOFF_RATES = (2e-5, 5e-5, 1e-4, 2e-4, 4e-4)


def tradeoff(
    rng: np.random.Generator, lineage: Lineage, trials: int
) -> list[tuple[MonitorSettings, list[list[float]]]]:
    """daskbench's nights to detection of each case at each rate of TRADEOFF_RATES (its other
    settings the defaults): what a larger false-alarm budget buys."""
    out = []
    for rate in TRADEOFF_RATES:
        monitor = MonitorSettings(false_alarm_rate=rate)

        def judge(values: np.ndarray, metric: str, m: MonitorSettings = monitor) -> list[bool]:
            return [daskbench_fails(values, metric, lineage, m)]

        got = [delays(rng, judge, metric, cv, step, trials)[0] for _, metric, cv, step, _ in CASES]
        out.append((monitor, got))
    return out


def estimation_cost(
    rng: np.random.Generator, monitor: MonitorSettings, trials: int = 2000
) -> tuple[float, float, float]:
    """What estimating the baseline costs: a +15% wall-time step after 7 runs (its goal), the
    monitor's evidence for the step's true start against that of the oracle of
    ``oracle_bound`` on the same values (the baseline's median and scale known, the
    calibration model's mean and sd of clipped scores). Returns both means and the sd of the
    difference, in evidence units (normal deviates)."""
    from daskbench.stats import scan_tail

    _, _, cv, step, goal = CASES[PLUS15]
    ours, oracle = [], []
    for _ in range(trials):
        start = WARMUP + int(rng.integers(0, 301))
        values = 10.0 * noisy(rng, start + goal, cv)
        values[start:] *= step
        shifts = scan_tail(values, settings=monitor).shifts
        ours.append(next(s.evidence for s in shifts if s.index == start))
        z = np.clip(np.log(values[start:] / 10.0) / cv, -monitor.clip, monitor.clip)
        oracle.append(float(standardised(z.sum(), goal, monitor.clip)))
    diff = np.array(ours) - np.array(oracle)
    return float(np.mean(ours)), float(np.mean(oracle)), float(diff.std())


# --- output ------------------------------------------------------------------------------------


def quantile(xs: Sequence[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(xs: Sequence[float], goal: int) -> str:
    def fmt(v: float) -> str:
        return f">{HORIZON}" if v == math.inf else f"{v:.0f}"

    within = sum(x <= goal for x in xs) / len(xs)
    never = sum(x == math.inf for x in xs) / len(xs)
    med = quantile(xs, 0.5)
    return (
        f"{fmt(med)} [{fmt(quantile(xs, 0.25))}-{fmt(quantile(xs, 0.75))}] "
        f"{within:4.0%} ok {never:3.0%} never"
    )


def poisson_interval(k: int) -> tuple[float, float]:
    """A 90% interval for a Poisson mean from a count (Wilson-Hilferty, good for k >= 0)."""
    lo = 0.0 if k == 0 else k * (1 - 1 / (9 * k) - 1.645 / (3 * math.sqrt(k))) ** 3
    k1 = k + 1
    hi = k1 * (1 - 1 / (9 * k1) + 1.645 / (3 * math.sqrt(k1))) ** 3
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=2, help="simulated years of pure noise")
    parser.add_argument("--trials", type=int, default=200, help="steps simulated per case")
    parser.add_argument("--spike-histories", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--false-alarm-rate", type=float, default=None, help="daskbench's (default: its own)"
    )
    parser.add_argument(
        "--short-share",
        type=float,
        default=None,
        help="share of the rate spent on the lower level of short tails (0: one level, as "
        "the previous release; default: daskbench's own)",
    )
    parser.add_argument(
        "--skip", default="", help="comma list of parts to skip: null,steps,tradeoff,spikes"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    rng = np.random.default_rng(args.seed)
    overrides = {
        key: value
        for key, value in (
            ("false_alarm_rate", args.false_alarm_rate),
            ("short_share", args.short_share),
        )
        if value is not None
    }
    monitor = MonitorSettings(**overrides)
    lineage = Lineage(WARMUP + 400)
    t0 = time.perf_counter()
    width = 34
    print(
        f"{TESTS} tests x {len(METRICS)} metrics = {TESTS * len(METRICS)} histories "
        f"({', '.join(f'{m} {cv:.0%}' for m, cv in METRICS)} lognormal noise, "
        f"{SPIKE_RATE:.0%} spikes x1.5-2.5), {WARMUP} runs of history before the year; "
        f"daskbench false_alarm_rate={monitor.false_alarm_rate:g} (thresholds "
        f"{monitor.short_threshold:.3f} up to {monitor.short_window} runs, "
        f"{monitor.threshold:.3f} after; short_share {monitor.short_share:g})"
    )
    print(f"{'':{width}}" + "".join(f"{r:>32}" for r in RULES))

    if "null" not in skip:
        years = [null_year(rng, lineage, monitor) for _ in range(args.years)]
        row = []
        for r in range(len(RULES)):
            total = sum(y.failing_nights[r] for y in years)
            per_year = [y.failing_nights[r] for y in years]
            lo, hi = poisson_interval(total)
            row.append(
                f"{total / args.years:.2f} [{lo / args.years:.2f}-{hi / args.years:.2f}] "
                f"max {max(per_year)}"
            )
        print(f"{'false-alarm nights / year':{width}}" + "".join(f"{c:>32}" for c in row))
        history_nights = args.years * 365 * TESTS * len(METRICS)
        rates = [sum(y.failing_history_nights[r] for y in years) for r in range(len(RULES))]
        print(
            f"{'  per history and night':{width}}"
            + "".join(f"{k / history_nights:>32.2e}" for k in rates)
        )
        print(
            f"  ({args.years} simulated years, {history_nights} history-nights; "
            "[90% interval] of the yearly mean, max: worst year)"
        )

    if "steps" not in skip:
        print(
            f"nights to detection, in runs with the step: median [q25-q75], within goal; "
            f"{args.trials} steps each"
        )
        for name, metric, cv, step, goal in CASES:
            got = delays(
                rng,
                lambda v, m: verdicts(v, m, lineage, monitor),
                metric,
                cv,
                step,
                args.trials,
            )
            size = math.log(step) / cv
            label = f"  {name} ({size:.1f} sd) goal {goal}"
            print(f"{label:{width}}" + "".join(f"{summary(xs, goal):>32}" for xs in got))
        print("  " + GOAL_NOTE.replace("\n", "\n  "))
        budget = 1.0 / (365 * TESTS * len(METRICS))  # 1 false-alarm night a year
        bounds = ", ".join(
            f"{name} {single_window_bound(cv, step, goal, budget):.0%}"
            for name, _, cv, step, goal in CASES
        )
        print(
            "  best possible share within the goal, for a test that spends the whole budget of "
            f"1 false-alarm night a year on the goal's window alone (scores clipped at 3 sd): "
            f"{bounds}"
        )

        def shares(found: Oracle) -> str:
            levels = ", ".join(
                f"{lo}-{hi} runs {level:.2f}"
                for (lo, hi), level in zip(ORACLE_BLOCKS, found.levels, strict=True)
            )
            got = ", ".join(
                f"{name} {share:.1%}" for (name, *_), share in zip(CASES, found.shares, strict=True)
            )
            return f"{got} (levels: {levels})"

        print(
            "  all goals at once, for an oracle that knows the baseline exactly and watches only "
            "the goals' tails (2-21 runs),\n  one level per block of tail lengths, levels "
            "searched, the same budget; the smallest share is largest with"
        )
        for clip in ORACLE_CLIPS:
            best, best_15 = oracle_bound(budget, clip=clip)
            mark = " (the monitor's)" if clip == monitor.clip else ""
            print(f"    scores clipped at {clip:g} sd{mark}: {shares(best)}")
            print(
                "      the most +15% within its goal while the others keep >= 50%: "
                + (shares(best_15).split(" (")[0] if best_15 is not None else "none")
            )
        print(
            "  the same oracle, but taking the baseline's mean and sd from its "
            f"{BASELINE_RUNS[0]}-{BASELINE_RUNS[1]} runs, as any detector must (those of their "
            "clipped scores;\n  levels on a coarser grid)"
        )
        longest = (BASELINE_RUNS[1], BASELINE_RUNS[1])
        for clip, baseline in [(c, BASELINE_RUNS) for c in ORACLE_CLIPS] + [(2.5, longest)]:
            # The closest case to the goals gets a finer grid.
            grid = 21 if baseline == longest else 11
            best, best_15 = oracle_bound(
                budget, clip=clip, estimated=True, grid=grid, baseline=baseline
            )
            if baseline == longest:
                print(
                    f"    as if every history had {longest[0]} runs of baseline (the most the "
                    f"simulation's have), clipped at {clip:g} sd, levels on a finer grid:"
                )
                print(f"      {shares(best)}")
            else:
                print(f"    scores clipped at {clip:g} sd: {shares(best)}")
            print(
                "      the most +15% within its goal while the others keep >= 50%: "
                + (shares(best_15).split(" (")[0] if best_15 is not None else "none")
            )
        checks = []
        for clip, level, trials in ((2.5, 3.9, 100_000), (3.0, 3.4, 20_000)):
            ours, simulated, hits = estimated_crossing_check(clip, level, trials=trials)
            checks.append(
                f"clip {clip:g}, level {level:g}: {ours:.2e} vs {simulated:.2e} "
                f"({hits} crossings; ratio {ours / simulated:.2f})"
            )
        print(
            "    its calibration against Monte Carlo (real baselines, one level for tails of 2-21 "
            "runs): " + "; ".join(checks)
        )

    if "tradeoff" not in skip:
        ours, known, spread = estimation_cost(rng, monitor)
        print(
            "what estimating the baseline costs: evidence for a +15% step's true start after "
            f"7 runs, daskbench {ours:.2f} vs the oracle's {known:.2f} on the same runs "
            f"(difference {ours - known:+.2f}, sd {spread:.2f}; the threshold is "
            f"{monitor.threshold_for(7):.2f})"
        )
        histories = TESTS * len(METRICS)
        print(
            "the trade-off: daskbench at larger false-alarm rates (bound on false-alarm nights "
            f"a year for {histories} histories: {histories} x 365 x rate); {args.trials} steps "
            "each, median runs to detection and share within the goal"
        )
        for found, got in tradeoff(rng, lineage, args.trials):
            cells = "; ".join(
                f"{name} {summary(xs, goal).split(' ok')[0]}"
                for (name, *_, goal), xs in zip(CASES, got, strict=True)
            )
            rate = found.false_alarm_rate
            print(f"  rate {rate:g} (<= {histories * 365 * rate:.1f} nights): {cells}")

    if "spikes" not in skip:
        spikes, evaluated, failing, causes = spike_nights(
            args.seed, lineage, monitor, args.spike_histories
        )
        print(f"{'isolated spikes: failing nights':{width}}" + "".join(f"{k:>32}" for k in failing))
        print(
            f"  ({args.spike_histories} clean 8% histories, {spikes} spikes x1.5-2.5, "
            f"{evaluated} nights)"
        )
        for cause in causes:
            print(f"  daskbench failing: {cause} (noise: fails with the spikes removed too)")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
