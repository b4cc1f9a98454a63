"""Sequential detection of new steps: hand-computed values, calibration, spikes, properties."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special

from daskbench.errors import StatsInputError
from daskbench.stats import MonitorSettings, Shift, _monitor, declared_after, scan_tail


def at(values: object, index: int, **kwargs: object) -> Shift:
    """The candidate starting at ``index``."""
    (shift,) = [s for s in scan_tail(values, **kwargs).shifts if s.index == index]  # type: ignore[arg-type]
    return shift


def lognormal(n: int, cv: float = 0.05, seed: int = 0) -> list[float]:
    return list(np.random.default_rng(seed).lognormal(0.0, cv, n))


def test_doctests() -> None:
    assert doctest.testmod(_monitor, raise_on_error=False).failed == 0


# --- known answers ---------------------------------------------------------------------------


def test_evidence_by_hand_in_raw_units() -> None:
    # Zero and negative values: analysed as they are (no logs). Baseline: median 0, median
    # absolute deviation 1, so the robust sd is 1.4826; scores are value / 1.4826, mean 0.
    baseline = [0.0, 1.0, -1.0, 2.0, -2.0, 0.0, 1.0, -1.0, 2.0, -2.0]
    shift = at([*baseline, 3.0, 4.0], 10)
    s = 1.4826
    var = (4 * (1 / s) ** 2 + 4 * (2 / s) ** 2) / 9  # sample variance of the scores, > 1
    t = (3 / s + 4 / s) / math.sqrt(var * 2 * (1 + 2 / 10))
    evidence = -special.ndtri(special.stdtr(2.0 * 9, -t))  # t with 2 (n_b - 1) dof
    assert shift.evidence == pytest.approx(evidence, rel=1e-9)
    assert (shift.runs, shift.baseline, shift.before, shift.after) == (2, 10, 0.0, 3.5)
    assert not shift.declared


def test_scores_are_clipped_and_the_variance_floored() -> None:
    # A 0/1 baseline (MAD 0.5, robust sd 0.7413): scores -0.6745 and +0.6745, variance 0.479,
    # floored at 1. A run of 100 counts as 3 (the clip), as would any larger one.
    baseline = [0.0, 1.0] * 10
    for spike in (100.0, 1e9):
        shift = at([*baseline, spike, spike], 20)
        t = (2 * 3.0 - 2 * 0.0) / math.sqrt(1.0 * 2 * (1 + 2 / 20))
        assert shift.evidence == pytest.approx(-special.ndtri(special.stdtr(38.0, -t)))


def test_positive_histories_are_analysed_in_logs() -> None:
    # A step that doubles the values is the same step at any level.
    low = at([1.0, 1.1] * 10 + [2.0, 2.2], 20)
    high = at([100.0, 110.0] * 10 + [200.0, 220.0], 20)
    assert low.evidence == pytest.approx(high.evidence)
    assert high.ratio == pytest.approx(2.1 / 1.05)


def test_declared_after_matches_the_formula() -> None:
    # Baseline 1.0/1.1 alternating: symmetric scores (mean 0) of variance below 1 (floored).
    # d runs at 3.0 all score 3: t = 3 d / sqrt(d (1 + d / 20)).
    values = [1.0, 1.1] * 10 + [3.0] * 8
    cfg = MonitorSettings()
    expected = next(
        d
        for d in range(2, 9)
        if -special.ndtri(special.stdtr(38.0, -3 * d / math.sqrt(d * (1 + d / 20))))
        >= cfg.threshold_for(d)
    )
    assert declared_after(values, 20) == expected == 4
    assert declared_after(values[:23], 20) is None  # 3 runs are not enough yet


def test_a_big_step_is_declared_after_a_few_runs_at_its_first_value() -> None:
    values = lognormal(100, cv=0.03) + [v * 1.3 for v in lognormal(6, cv=0.03, seed=1)]
    scan = scan_tail(values)
    best = scan.strongest
    assert best is not None
    assert (best.index, best.declared) == (100, True)
    assert best.ratio == pytest.approx(1.3, rel=0.03)
    # Each run counts as a clip (3) at most: 3 runs make 3 sqrt(3) / sqrt(1 + 3/100) = 5.1,
    # past the lower level of short tails (4.63) against 100 runs of baseline, and against 60,
    # but not yet against 30 (next test).
    assert declared_after(values, 100) == 3
    assert declared_after(values[40:], 60) == 3


def test_a_shorter_baseline_needs_more_runs() -> None:
    values = lognormal(30, cv=0.03) + [v * 1.3 for v in lognormal(6, cv=0.03, seed=1)]
    assert declared_after(values, 30) == 4


def test_one_run_is_never_declared() -> None:
    values = [*lognormal(100), 1000000.0]
    best = scan_tail(values).strongest
    assert best is not None
    assert best.runs == 1
    assert not best.declared
    assert best.evidence > 2.5  # but it is visible


def test_baselines_do_not_cross_breaks() -> None:
    # A known step 40 runs ago, beyond a 30-run window: the newest runs are compared with the
    # regime since, and are no shift. Without the break, they are one against the old regime.
    cfg = MonitorSettings(window=30)
    values = lognormal(100, cv=0.02) + [2 * v for v in lognormal(40, cv=0.02, seed=2)]
    known = scan_tail(values, breaks=[100], settings=cfg)
    assert not any(s.declared for s in known.shifts)
    assert all(s.baseline <= s.index - 100 for s in known.shifts)
    assert scan_tail(values, settings=cfg).strongest.declared  # type: ignore[union-attr]
    # Within the (default, 60-run) window the step itself is still a candidate, at the break.
    assert scan_tail(values, breaks=[100]).strongest.index == 100  # type: ignore[union-attr]


def test_direction() -> None:
    values = lognormal(80) + [0.5] * 6
    assert not any(s.declared for s in scan_tail(values, worse="higher").shifts)
    assert at(values, 80, worse="higher").evidence < -4.0
    assert scan_tail(values, worse="lower").strongest.index == 80  # type: ignore[union-attr]
    assert scan_tail(values, worse="lower").strongest.declared  # type: ignore[union-attr]


def test_short_histories_have_no_candidates() -> None:
    assert scan_tail([1.0] * 10).shifts == ()
    assert scan_tail([1.0] * 10).strongest is None
    assert [s.index for s in scan_tail([1.0] * 12).shifts] == [10, 11]


def test_constant_history_then_a_new_constant() -> None:
    # No spread at all: each differing run counts as a clip, with the variance floor of 1.
    flat = [5.0] * 40
    assert not scan_tail([*flat, 6.0]).strongest.declared  # type: ignore[union-attr]
    assert not scan_tail([*flat, 6.0, 6.0]).strongest.declared  # type: ignore[union-attr]
    # 3 runs: 3 * 3 / sqrt(3 (1 + 3 / 40)) = 5.0 before the t correction, past the short level.
    assert declared_after([*flat, 6.0, 6.0, 6.0, 6.0], 40) == 3
    assert all(s.evidence == 0.0 for s in scan_tail(flat * 2).shifts)


# --- calibration -----------------------------------------------------------------------------


def simulated_walks(window: int, clip: float, seed: int) -> np.ndarray:
    """200,000 nights of the calibration model, brute force: clipped normal scores with
    outliers at +clip, as standardised partial sums (one row per night, column d - 1)."""
    rng = np.random.default_rng(seed)
    scores = np.clip(rng.normal(size=(200_000, window)), -clip, clip)
    scores[rng.random(scores.shape) < _monitor._OUTLIER_RATE] = clip
    _probs, mean, sd, _ = _monitor._increment(clip)
    d = np.arange(1, window + 1)
    return np.asarray((np.cumsum(scores, axis=1) - mean * d) / (sd * np.sqrt(d)))


def test_threshold_matches_a_simulated_random_walk() -> None:
    # The propagation against brute force at a rate that 200,000 simulated nights resolve.
    rate, window, clip = 0.01, 12, 3.0
    b = _monitor.alarm_threshold(rate, window=window, clip=clip)
    walk = simulated_walks(window, clip, seed=1)
    observed = (walk[:, 1:].max(axis=1) >= b).mean()
    assert observed == pytest.approx(rate, rel=0.1)


def test_two_level_boundary_matches_a_simulated_random_walk() -> None:
    # Tails of up to 3 runs against the lower level, longer ones against the higher: the whole
    # boundary is crossed at the rate, and the higher level alone at (1 - share) of it.
    rate, window, clip, short_window, share = 0.01, 12, 3.0, 3, 0.4
    short, long = _monitor.alarm_boundary(
        rate, window=window, clip=clip, short_window=short_window, short_share=share
    )
    assert short < long
    walk = simulated_walks(window, clip, seed=2)
    bound = np.where(np.arange(1, window + 1) <= short_window, short, long)
    assert (walk[:, 1:] >= bound[1:]).any(axis=1).mean() == pytest.approx(rate, rel=0.1)
    long_alone = (walk[:, 1:] >= long).any(axis=1).mean()
    assert long_alone == pytest.approx(rate * (1 - share), rel=0.1)


def test_threshold_grows_as_the_rate_falls_and_the_window_widens() -> None:
    assert _monitor.alarm_threshold(1e-4) < _monitor.alarm_threshold(1e-5)
    assert _monitor.alarm_threshold(1e-5, window=30) < _monitor.alarm_threshold(1e-5, window=60)
    s = MonitorSettings()
    assert s.pvalue(s.threshold, 10) == pytest.approx(s.false_alarm_rate, rel=0.05)
    assert s.pvalue(s.short_threshold, 3) == pytest.approx(s.false_alarm_rate, rel=0.05)
    # Evidence a short tail gets declared with is less surprising in a long tail.
    assert s.pvalue(s.short_threshold, 10) > s.false_alarm_rate
    assert s.pvalue(-1.0, 2) == 1.0
    flat = MonitorSettings(short_share=0.0)
    assert flat.short_threshold == flat.threshold == _monitor.alarm_threshold(2e-5)
    # A short level no tail can be judged against (shorter than min_runs) costs nothing.
    unused = MonitorSettings(short_window=2, min_runs=3)
    assert unused.short_threshold == unused.threshold
    assert unused.threshold == _monitor.alarm_threshold(2e-5, min_runs=3)


@pytest.mark.slow
def test_false_alarms_per_night_on_noise() -> None:
    # 4,000 nights of 5% lognormal noise with 1% spikes, at a rate of 1e-2 per night (where a
    # test can count them; perf/detect_nightly.py checks the default rate): the share of nights
    # declared is the rate, within the noise of the count (40 +- 6 expected).
    cfg = MonitorSettings(false_alarm_rate=0.01, window=10)
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(4000):
        values = rng.lognormal(0.0, 0.05, 60)
        spikes = rng.random(60) < 0.01
        values[spikes] *= 2.0
        hits += scan_tail(values, settings=cfg).strongest.declared  # type: ignore[union-attr]
    assert 0.005 <= hits / 4000 <= 0.015


# --- input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"false_alarm_rate": 0.0}, "false_alarm_rate"),
        ({"false_alarm_rate": 0.6}, "false_alarm_rate"),
        ({"min_runs": 0}, "min_runs"),
        ({"window": 1, "min_runs": 2}, "window"),
        ({"min_baseline": 1}, "min_baseline"),
        ({"baseline": 5}, "baseline"),
        ({"clip": 0.1}, "clip"),
        ({"short_window": 60}, "short_window"),
        ({"short_window": -1}, "short_window"),
        ({"short_share": 1.0}, "short_share"),
        ({"short_share": -0.1}, "short_share"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(StatsInputError, match=message):
        MonitorSettings(**kwargs)  # type: ignore[arg-type]


def test_bad_input_is_refused() -> None:
    with pytest.raises(StatsInputError, match="worse"):
        scan_tail([1.0] * 20, worse="up")
    with pytest.raises(StatsInputError, match="not finite"):
        scan_tail([1.0, math.nan])
    with pytest.raises(StatsInputError, match="index"):
        declared_after([1.0] * 20, 20)


# --- properties ------------------------------------------------------------------------------

baseline_strategy = st.lists(st.floats(0.0, 0.3), min_size=5, max_size=60)


@settings(max_examples=80, deadline=None)
@given(
    half=baseline_strategy,
    spike=st.floats(1.0, 1e6),
    before=st.lists(st.floats(0.0, 0.3), max_size=3),
    after=st.lists(st.floats(0.0, 0.3), max_size=40),
    centre=st.floats(1e-3, 1e3),
)
def test_a_lone_spike_among_ordinary_runs_is_never_declared(
    half: list[float], spike: float, before: list[float], after: list[float], centre: float
) -> None:
    # A baseline symmetric around its median (so its mean score is the median's), then runs no
    # slower than that median, one of them a spike of any size: nothing is ever declared, at
    # any position of the spike, before or after the normal runs that follow it.
    baseline = [centre * math.exp(s * e) for e in half for s in (1.0, -1.0)]
    tail = [centre * math.exp(-e) for e in before] + [centre * spike]
    tail += [centre * math.exp(-e) for e in after]
    values = baseline + tail
    for end in range(len(baseline) + 1, len(values) + 1):
        assert not any(s.declared for s in scan_tail(values[:end]).shifts)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    base=st.integers(10, 80),
    runs=st.integers(1, 12),
    small=st.floats(1.0, 2.0),
    extra=st.floats(1.0, 3.0),
)
def test_evidence_at_the_step_grows_with_the_step(
    seed: int, base: int, runs: int, small: float, extra: float
) -> None:
    values = np.array(lognormal(base + runs, cv=0.05, seed=seed))
    weak, strong = values.copy(), values.copy()
    weak[base:] *= small
    strong[base:] *= small * extra
    assert at(strong, base).evidence >= at(weak, base).evidence - 1e-9


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), small=st.floats(1.0, 1.5), extra=st.floats(1.0, 2.0))
def test_a_bigger_step_is_declared_no_later(seed: int, small: float, extra: float) -> None:
    values = np.array(lognormal(70, cv=0.05, seed=seed))
    weak, strong = values.copy(), values.copy()
    weak[50:] *= small
    strong[50:] *= small * extra
    late = declared_after(weak, 50)
    early = declared_after(strong, 50)
    assert late is None or (early is not None and early <= late)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(10, 90), scale=st.floats(1e-4, 1e4))
def test_scale_invariance_and_mirror_symmetry(seed: int, n: int, scale: float) -> None:
    values = np.array(lognormal(n, cv=0.1, seed=seed))
    reference = [s.evidence for s in scan_tail(values).shifts]
    assert [s.evidence for s in scan_tail(values * scale).shifts] == pytest.approx(reference)
    # Lower-is-worse on the reciprocals is higher-is-worse on the values.
    mirrored = [s.evidence for s in scan_tail(1.0 / values, worse="lower").shifts]
    assert mirrored == pytest.approx(reference)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(10, 90),
    shift=st.floats(-1e3, 1e3),
    scale=st.floats(1e-3, 1e3),
)
def test_raw_histories_are_affine_invariant(seed: int, n: int, shift: float, scale: float) -> None:
    values = np.random.default_rng(seed).normal(0.0, 1.0, n)
    moved = values * scale + shift
    assume(values.min() <= 0.0 and moved.min() <= 0.0)  # both analysed without logs
    reference = [s.evidence for s in scan_tail(values).shifts]
    got = [s.evidence for s in scan_tail(moved).shifts]
    assert got == pytest.approx(reference, rel=1e-6, abs=1e-6)
    assert [s.evidence for s in scan_tail(-values, worse="lower").shifts] == pytest.approx(
        reference
    )


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(1e-3, 1e3), min_size=10, max_size=100))
def test_results_are_well_formed(values: list[float]) -> None:
    scan = scan_tail(values)
    for s in scan.shifts:
        assert s.runs == len(values) - s.index >= 1
        assert 10 <= s.baseline <= s.index
        assert not (s.declared and s.runs < 2)
        assert s.threshold == MonitorSettings().threshold_for(s.runs)
        assert s.declared == (s.evidence >= s.threshold and s.runs >= 2)
