"""Change-point detection: hand-made histories with known answers, errors, and properties."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daskbench.errors import StatsInputError
from daskbench.stats import ChangePoint, detect_change_points
from daskbench.stats._changepoint import _log_scan_pvalue, update_change_points


def noisy(levels: list[tuple[float, int]], *, cv: float = 0.02, seed: int = 0) -> np.ndarray:
    """Concatenated regimes ``(level, length)`` with multiplicative normal noise."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.full(n, level) for level, n in levels])
    return values * (1.0 + rng.normal(0.0, cv, values.size))


def indices(values: object, **kwargs: object) -> list[int]:
    return [cp.index for cp in detect_change_points(values, **kwargs)]  # type: ignore[arg-type]


# --- known answers ---------------------------------------------------------------------------


def test_clean_step_is_found_at_its_first_index() -> None:
    (cp,) = detect_change_points([1.0] * 10 + [2.0] * 10)
    assert cp.index == 10
    assert (cp.before, cp.after, cp.ratio) == (1.0, 2.0, 2.0)
    assert 0.0 < cp.pvalue < 0.05


@pytest.mark.parametrize("seed", range(5))
def test_noisy_step_exact_index(seed: int) -> None:
    values = noisy([(100.0, 60), (110.0, 40)], seed=seed)  # a 10% step at 5 noise sd
    (cp,) = detect_change_points(values)
    assert cp.index == 60
    assert cp.ratio == pytest.approx(1.10, abs=0.02)
    assert cp.before == pytest.approx(100.0, rel=0.01)


@pytest.mark.parametrize("seed", range(10))
def test_pure_noise_has_no_change_point(seed: int) -> None:
    assert indices(noisy([(50.0, 300)], cv=0.05, seed=seed)) == []


@pytest.mark.parametrize("seed", range(5))
def test_bimodal_noise_has_no_change_point(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.where(rng.random(200) < 0.3, 130.0, 100.0) + rng.normal(0, 1, 200)
    assert indices(values) == []


def test_spikes_are_not_change_points() -> None:
    values = noisy([(100.0, 120)], seed=3)
    values[[20, 60, 61, 100]] = [400.0, 1e6, 900.0, 0.001]
    assert indices(values) == []


def test_burst_shorter_than_min_size_is_not_a_change_point() -> None:
    values = noisy([(100.0, 50), (150.0, 4), (100.0, 50)], seed=4)
    assert indices(values, min_size=5) == []


def test_spike_next_to_a_step_does_not_move_it() -> None:
    values = noisy([(10.0, 100), (7.0, 60)], seed=5)
    values[103] = 19.0  # as high above the old level as the step is below it
    assert indices(values) == [100]


@pytest.mark.parametrize("min_size", [3, 4, 5])
def test_big_step_near_the_end_is_located_exactly(min_size: int) -> None:
    # 8 values after a 15% step (7.5 noise sd): ranks compress the step, and the rank CUSUM
    # alone put it at 46 (41 with min_size 3 or 4).
    values = np.random.default_rng(0).normal(1, 0.02, 60)
    values[52:] *= 1.15
    (cp,) = detect_change_points(values, min_size=min_size)
    assert cp.index == 52
    assert cp.ratio == pytest.approx(1.15, abs=0.03)


def test_new_regressions_at_the_end_are_located_within_one_value() -> None:
    # The culprit run of a new regression: 6-12 values after a 10-20% step at 2% noise, at the
    # end of 40-200 values, in either direction.
    rng = np.random.default_rng(13)
    misses = []
    for _ in range(300):
        n, tail = int(rng.integers(40, 201)), int(rng.integers(6, 13))
        values = rng.normal(1.0, 0.02, n)
        values[n - tail :] *= 1.0 + float(rng.uniform(0.10, 0.20)) * rng.choice([-1.0, 1.0])
        found = indices(values)
        if not any(abs(i - (n - tail)) <= 1 for i in found):
            misses.append((n, tail, found))
    assert len(misses) <= 3, misses  # "nearly all": 0 of 300 at the time of writing


def test_hardest_end_steps_are_located_within_one_value() -> None:
    # The hardest case of the above: only min_size + 1 values after a 10-14% step. Noise
    # makes the exact split genuinely ambiguous now and then (about 1 case in 1,000 is off by
    # more than one value, found by a hypothesis search), so this is a rate, over a fixed
    # sample, not a universal property.
    rng = np.random.default_rng(2026)
    misses = 0
    for _ in range(1000):
        n, tail = int(rng.integers(40, 201)), 6
        values = rng.normal(1.0, 0.02, n)
        values[n - tail :] *= 1.0 + float(rng.uniform(0.10, 0.14)) * rng.choice([-1.0, 1.0])
        if not any(abs(i - (n - tail)) <= 1 for i in indices(values)):
            misses += 1
    assert misses <= 5  # 0.5%; about 0.1% at the time of writing


def test_two_steps_temporary_regression() -> None:
    values = noisy([(100.0, 50), (120.0, 30), (100.0, 50)], seed=6)
    cps = detect_change_points(values)
    assert [cp.index for cp in cps] == [50, 80]
    assert cps[0].ratio == pytest.approx(1.2, abs=0.02)
    assert cps[1].ratio == pytest.approx(1 / 1.2, abs=0.02)


def test_short_regression_inside_a_long_history() -> None:
    # One CUSUM over all 1,000 values barely notices 20 shifted values; the seeded short
    # intervals do.
    values = noisy([(100.0, 600), (108.0, 20), (100.0, 380)], seed=7)
    assert indices(values) == [600, 620]


def test_staircase_and_ties() -> None:
    values = [1.0, 2.0, 1.0, 2.0, 2.0] * 6 + [3.0, 4.0, 3.0, 3.0, 4.0] * 6 + [5.0, 6.0] * 15
    assert indices(values) == [30, 60]


def test_change_points_are_ordered_frozen_and_significant() -> None:
    values = noisy([(1.0, 40), (1.3, 40), (0.9, 40), (1.5, 40)], seed=8)
    cps = detect_change_points(values, alpha=0.01)
    assert [cp.index for cp in cps] == [40, 80, 120]
    assert all(cp.pvalue <= 0.01 for cp in cps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cps[0].index = 3  # type: ignore[misc]


def test_min_change_drops_small_shifts() -> None:
    values = noisy([(100.0, 200), (101.5, 200)], cv=0.002, seed=9)
    assert indices(values) == [200]
    assert indices(values, min_change=0.02) == []


def test_ratio_with_zero_before_is_nan() -> None:
    assert math.isnan(ChangePoint(index=3, before=0.0, after=1.0, pvalue=0.01).ratio)
    (cp,) = detect_change_points([0.0] * 10 + [1.0] * 10)
    assert math.isnan(cp.ratio)


# --- degenerate input and errors -------------------------------------------------------------


def test_short_and_constant_histories_have_no_change_points() -> None:
    assert detect_change_points([1.0] * 4 + [9.0] * 5) == []  # fewer than 2 * min_size
    assert detect_change_points([3.0] * 100) == []
    assert detect_change_points([7.0]) == []


@pytest.mark.parametrize("bad", [[], [1.0, math.nan, 2.0], [1.0, math.inf], [[1.0, 2.0]], ["a"]])
def test_unusable_values_are_rejected(bad: list[object]) -> None:
    with pytest.raises(StatsInputError):
        detect_change_points(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"min_size": 0},
        {"min_change": -0.1},
        {"since": -1},
        {"since": 21},
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(StatsInputError, match=next(iter(kwargs))):
        detect_change_points([1.0] * 10 + [2.0] * 10, **kwargs)  # type: ignore[arg-type]


# --- incremental use -------------------------------------------------------------------------


def test_since_analyses_only_the_tail_with_absolute_indices() -> None:
    values = noisy([(1.0, 100), (2.0, 100), (3.0, 100)], seed=10)
    assert indices(values) == [100, 200]
    assert indices(values, since=150) == [200]
    (cp,) = detect_change_points(values, since=150)
    assert cp.before == pytest.approx(2.0, rel=0.02)


def test_update_keeps_old_change_points_and_finds_new_ones() -> None:
    history = noisy([(1.0, 400), (1.2, 400), (1.0, 300), (1.3, 100)], seed=11)
    old = detect_change_points(history[:1000])
    assert [cp.index for cp in old] == [400, 800]
    new = update_change_points(history, old, window=150)
    assert new[:2] == old  # settled: kept as they were, whatever the tail does
    assert [cp.index for cp in new] == [400, 800, 1100]
    assert [cp.index for cp in new] == indices(history)


def test_update_rejects_a_window_too_short_for_min_size() -> None:
    with pytest.raises(StatsInputError, match="window"):
        update_change_points([1.0] * 50, [], window=9)


# --- p-value ---------------------------------------------------------------------------------


def test_pvalue_is_calibrated_on_noise() -> None:
    # Each history is one test at level alpha: the share with any change point must not exceed
    # alpha (the Bonferroni split makes it conservative).
    rng = np.random.default_rng(12)
    hits = sum(bool(detect_change_points(rng.normal(size=100))) for _ in range(300))
    assert hits / 300 <= 0.05


def test_scan_pvalue_is_monotone_and_bounded() -> None:
    z = np.linspace(0.0, 40.0, 200)
    logp = _log_scan_pvalue(z, 500, 5)
    assert np.all(np.diff(logp) <= 1e-12)
    assert logp[0] == 0.0
    assert logp[-1] < -300


# --- properties ------------------------------------------------------------------------------

regimes_strategy = st.lists(
    st.tuples(st.floats(0.5, 2.0), st.integers(10, 60)), min_size=1, max_size=4
)
# Clear steps (>= 20% at 5% noise) between regimes of >= 20 values: where the answer is not
# in doubt, a reversed history must give the mirrored answer. (With weak or crowded steps the
# greedy search may, legitimately, settle for a different one of two equally good splits.)
clear_regimes_strategy = st.lists(
    st.tuples(st.sampled_from([1.0, 1.25, 1.6, 2.0]), st.integers(20, 60)), min_size=1, max_size=4
).filter(lambda r: all(a[0] != b[0] for a, b in itertools.pairwise(r)))


@settings(max_examples=60, deadline=None)
@given(
    regimes=regimes_strategy,
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(0, 10),
)
def test_positive_affine_maps_leave_indices_unchanged(
    regimes: list[tuple[float, int]], seed: int, scale: float, shift: float
) -> None:
    values = noisy(regimes, cv=0.05, seed=seed)
    assert indices(values * scale + shift) == indices(values)


@settings(max_examples=60, deadline=None)
@given(regimes=clear_regimes_strategy, seed=st.integers(0, 2**16))
def test_reversed_history_gives_mirrored_indices(
    regimes: list[tuple[float, int]], seed: int
) -> None:
    values = noisy(regimes, cv=0.05, seed=seed)
    forward = indices(values)
    backward = sorted(values.size - i for i in indices(values[::-1]))
    assert len(forward) == len(backward)
    assert all(abs(f - b) <= 2 for f, b in zip(forward, backward, strict=True))


@settings(max_examples=40, deadline=None)
@given(value=st.floats(-1e6, 1e6), n=st.integers(1, 300), min_size=st.integers(1, 20))
def test_constant_history_never_has_a_change_point(value: float, n: int, min_size: int) -> None:
    assert detect_change_points([value] * n, min_size=min_size) == []


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 3).map(float), min_size=1, max_size=120),
    min_size=st.integers(1, 10),
)
def test_results_are_well_formed_on_heavily_tied_data(values: list[float], min_size: int) -> None:
    cps = detect_change_points(values, min_size=min_size)
    if cps:
        bounds = [0, *(cp.index for cp in cps), len(values)]
        assert all(b - a >= min_size for a, b in itertools.pairwise(bounds))
    assert all(0.0 <= cp.pvalue <= 0.05 for cp in cps)
