"""Robust noise of a benchmark and what it implies: hand-computed values, robustness, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daskbench.errors import StatsInputError
from daskbench.stats._noise import benchmark_noise, noise_cv, paired_noise_cv, robust_sd
from daskbench.stats._power import planned_mde, rounds_needed


def test_robust_sd_hand_computed():
    # 0 1 2 3 100: median 2, absolute deviations 2 1 0 1 98 -> MAD 1;
    # 1 * 1.4826 * 1.206 (the n = 5 small-sample factor) = 1.788
    assert robust_sd(np.array([0.0, 1.0, 2.0, 3.0, 100.0])) == pytest.approx(1.4826 * 1.206, 1e-4)
    # n = 20: factor 20 / 19.2
    x = np.arange(20.0)  # median 9.5, deviations .5 .5 1.5 1.5 ... -> MAD 5
    assert robust_sd(x) == pytest.approx(5 * 1.482602 * 20 / 19.2, rel=1e-6)
    assert math.isnan(robust_sd(np.array([1.0])))


def test_noise_cv_hand_computed():
    # logs 0, log 1.1, log 0.9, 0, log 5: median 0, MAD = log(1.1) = .09531
    sigma = math.log(1.1) * 1.482602 * 1.206
    assert noise_cv([1.0, 1.1, 0.9, 1.0, 5.0]) == pytest.approx(math.sqrt(math.expm1(sigma**2)))
    # paired: log ratios log 1.1, 0, log 1.1, 0 -> MAD = log(1.1) / 2, per run / sqrt(2)
    sigma = math.log(1.1) / 2 * 1.482602 * 1.363 / math.sqrt(2)
    got = paired_noise_cv([1.0, 2.0, 3.0, 4.0], [1.1, 2.0, 3.3, 4.0])
    assert got == pytest.approx(math.sqrt(math.expm1(sigma**2)))


def test_noise_cv_is_about_unbiased_and_robust():
    rng = np.random.default_rng(3)
    for cv, n in ((0.03, 6), (0.1, 10), (0.3, 20)):
        sigma = math.sqrt(math.log1p(cv * cv))
        estimates = [noise_cv(np.exp(rng.normal(0, sigma, n))) for _ in range(3000)]
        # the small-sample factors make the median estimate land near the truth
        assert float(np.median(estimates)) == pytest.approx(cv, rel=0.12), (cv, n)
    quiet = np.exp(rng.normal(0, 0.02, 10))
    spiky = quiet.copy()
    spiky[4] *= 3.0  # one wild run
    assert noise_cv(spiky) < 1.5 * noise_cv(quiet)
    assert np.std(np.log(spiky)) > 10 * np.std(np.log(quiet))  # a plain CV would explode


def test_pairing_removes_shared_drift():
    rng = np.random.default_rng(5)
    drift = np.exp(rng.normal(0, 0.3, 12))
    a = drift * np.exp(rng.normal(0, 0.02, 12))
    b = drift * np.exp(rng.normal(0, 0.02, 12))
    assert noise_cv(a) > 0.15
    assert paired_noise_cv(a, b) < 0.05


def test_benchmark_noise_report():
    values = [1.00, 1.04, 0.97, 1.02, 0.99, 1.01, 1.03, 0.98]
    n = benchmark_noise(values, rounds=10)
    assert n.cv == pytest.approx(noise_cv(values))
    assert n.n == 8
    assert n.rounds == 10
    assert n.mde == pytest.approx(planned_mde(n.cv, 10))
    assert n.rounds_for(0.05) == rounds_needed(0.05, n.cv)
    assert n.rounds_for(0.10) == rounds_needed(0.10, n.cv)
    assert n.rounds_for(0.05) >= n.rounds_for(0.10)
    family = benchmark_noise(values, rounds=10, family_size=60)
    assert family.mde > n.mde
    with pytest.raises(StatsInputError, match="not one of"):
        n.rounds_for(0.2)
    noisy = benchmark_noise(np.exp(np.linspace(-1, 1, 9)), effects=(0.05,), max_rounds=20)
    assert noisy.needed == (None,)


def test_errors():
    with pytest.raises(StatsInputError, match="at least 2 runs"):
        benchmark_noise([1.0])
    with pytest.raises(StatsInputError, match="values: value"):
        noise_cv([1.0, 0.0])
    with pytest.raises(StatsInputError, match="equal lengths"):
        paired_noise_cv([1.0, 2.0], [1.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=2, max_size=30), st.floats(0.001, 1000.0))
def test_properties(values, scale):
    cv = noise_cv(values)
    assert cv >= 0.0
    # scale-free, and the same for A vs B as for B vs A
    assert noise_cv([v * scale for v in values]) == pytest.approx(cv, rel=1e-6, abs=1e-9)
    half = len(values) // 2
    if half >= 2:
        a, b = values[:half], values[half : 2 * half]
        assert paired_noise_cv(a, b) == pytest.approx(paired_noise_cv(b, a), rel=1e-12)
