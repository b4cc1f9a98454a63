"""MDE from data and for planning: hand-computed values, power by simulation, errors, properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from daskbench.errors import StatsInputError
from daskbench.stats import compare, minimum_detectable_effect
from daskbench.stats._power import min_rounds, planned_mde, rounds_needed


def test_hand_computed_unpaired_rank():
    # logs +-0.1, two of each per side: pooled variance = 8 * 0.01 / 6, df = 6
    a = b = np.exp([-0.1, -0.1, 0.1, 0.1])
    s = math.sqrt(0.08 / 6)
    k = stats.t.ppf(0.975, 6) + stats.t.ppf(0.8, 6)  # 2.4469 + 0.9057
    expected = math.expm1(k * s * math.sqrt(1 / 4 + 1 / 4) * math.sqrt(math.pi / 3))
    assert minimum_detectable_effect(a, b, method="rank") == pytest.approx(expected)
    assert expected == pytest.approx(0.3233, abs=1e-4)  # 3.3526 * .11547 * .70711 * 1.0233


def test_hand_computed_paired_rank():
    # log ratios .1 .2 .3 .1 .2 .3: squared deviations sum to .04, sd = sqrt(.04 / 5), df = 5
    a = np.ones(6)
    b = np.exp([0.1, 0.2, 0.3, 0.1, 0.2, 0.3])
    k = stats.t.ppf(0.975, 5) + stats.t.ppf(0.9, 5)
    sd = math.sqrt(0.04 / 5)
    expected = math.expm1(k * sd / math.sqrt(6) * math.sqrt(math.pi / 3))
    got = minimum_detectable_effect(a, b, paired=True, power=0.9, method="rank")
    assert got == pytest.approx(expected)
    assert got == pytest.approx(0.1632, abs=1e-4)  # (2.5706 + 1.4759) * .036515 * 1.0233


def test_limits_rank():
    def mde(a, b, **kw):
        return minimum_detectable_effect(a, b, method="rank", **kw)

    assert mde([1.0] * 3, [2.0] * 3) == math.inf  # 2/20 >= .05
    assert mde([1.0] * 5, [1.0] * 5) == 0.0  # no noise at all
    assert mde([1.0] * 5, [1.0] * 5, paired=True) == math.inf  # 2/32
    assert mde([1.0, 2.0] * 3, [1.0, 2.0] * 3, paired=True) < math.inf
    # a looser alpha makes 3 + 3 usable
    assert mde([1.0, 1.1, 1.2], [1.0, 1.1, 1.2], alpha=0.2) < math.inf
    # ... and a family makes it harder: 6 pairs reach .05 but not .05 / 60
    assert mde([1.0, 2.0] * 3, [1.0, 2.1] * 3, paired=True, family_size=60) == math.inf


def _nct_shift(df, alpha, power):
    """Standardised shift detected with ``power``, solved with scipy's noncentral t."""
    crit = stats.t.ppf(1 - alpha / 2, df)
    return optimize.brentq(lambda d: stats.nct.sf(crit, df, d) - power, 0.0, 50.0)


def test_hand_computed_t():
    # paired log ratios .1 .2 .3 .1 .2 .3: sd = sqrt(.04 / 5), se = sd / sqrt(6), df = 5
    a = np.ones(6)
    b = np.exp([0.1, 0.2, 0.3, 0.1, 0.2, 0.3])
    se = math.sqrt(0.04 / 5) / math.sqrt(6)
    got = minimum_detectable_effect(a, b, paired=True)
    assert got == pytest.approx(math.expm1(_nct_shift(5, 0.05, 0.8) * se), rel=1e-6)
    # a family of 60: the lone change must pass .05 / 60
    got60 = minimum_detectable_effect(a, b, paired=True, family_size=60)
    assert got60 == pytest.approx(math.expm1(_nct_shift(5, 0.05 / 60, 0.8) * se), rel=1e-6)
    assert got60 > 2 * got
    # unpaired, equal spreads and sizes: Welch's df is 2n - 2 = 6, se = s * sqrt(2 / n)
    x = np.exp([-0.1, -0.1, 0.1, 0.1])
    s = math.sqrt(0.04 / 3)
    expected = math.expm1(_nct_shift(6, 0.05, 0.8) * s * math.sqrt(0.5))
    assert minimum_detectable_effect(x, x) == pytest.approx(expected, rel=1e-6)


def test_limits():
    assert minimum_detectable_effect([1.0] * 2, [2.0] * 2) == math.inf  # below 3 per side
    assert minimum_detectable_effect([1.0] * 3, [2.0] * 3) == 0.0  # no noise: any change
    assert minimum_detectable_effect([1.0] * 3, [1.0] * 3, paired=True) == 0.0
    assert minimum_detectable_effect([1.0, 2.0, 3.0], [1.0, 2.1, 2.9], paired=True) < math.inf


def test_planned_mde_has_the_promised_power():
    # Simulate the paired t test at the planned MDE: it must detect about 80% of the time.
    rng = np.random.default_rng(4)
    sims, alpha = 4000, 0.05
    for cv, n, family in ((0.10, 10, 1), (0.03, 6, 1), (0.10, 8, 60), (0.30, 20, 120)):
        mde = planned_mde(cv, n, family_size=family)
        sigma = math.sqrt(math.log1p(cv * cv))
        a = rng.normal(0, sigma, (sims, n))
        b = rng.normal(0, sigma, (sims, n)) + math.log1p(mde)
        p = stats.ttest_rel(b, a, axis=1).pvalue
        detected = float(np.mean(p < alpha / family))
        assert detected == pytest.approx(0.8, abs=3 * math.sqrt(0.16 / sims)), (cv, n, family)


def test_planned_mde_matches_the_mde_from_data():
    # With data whose spread equals the planned noise, both formulas agree.
    sigma = math.sqrt(math.log1p(0.08**2))
    d = np.tile([-1.0, 1.0], 6) * sigma * math.sqrt(2) * math.sqrt(11 / 12)  # sd = sigma*sqrt2
    got = minimum_detectable_effect(np.ones(12), np.exp(d), paired=True, family_size=7)
    assert got == pytest.approx(planned_mde(0.08, 12, family_size=7), rel=1e-9)


def test_rounds_needed_and_min_rounds():
    for effect, cv, family in ((0.10, 0.05, 1), (0.05, 0.05, 60), (0.5, 0.3, 120), (0.02, 0.01, 1)):
        n = rounds_needed(effect, cv, family_size=family)
        assert n is not None
        assert planned_mde(cv, n, family_size=family) <= effect
        if n > 3:
            assert planned_mde(cv, n - 1, family_size=family) > effect
    assert rounds_needed(0.01, 0.5, max_rounds=50) is None
    assert rounds_needed(0.5, 0.0) == 3  # no noise: the policy minimum
    # the unpaired plan is conservative: the fewest degrees of freedom Welch's test can have
    assert rounds_needed(0.10, 0.05, paired=False) == rounds_needed(0.10, 0.05)
    assert planned_mde(0.1, 8, paired=False) == planned_mde(0.1, 8)
    # the rank tests' floor: 2 / 2**n < alpha / m
    assert [min_rounds(m, method="rank") for m in (1, 60, 120)] == [6, 12, 13]
    assert min_rounds(1, method="rank", paired=False) == 4  # 2 / C(8, 4) = 2/70
    assert [min_rounds(m) for m in (1, 60, 120)] == [3, 3, 3]


def test_compare_reports_it():
    a = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02]
    b = [1.2, 1.0, 1.1, 0.97, 1.04, 1.01]
    assert compare(a, b).mde == pytest.approx(minimum_detectable_effect(a, b))


def test_errors():
    with pytest.raises(StatsInputError, match="b: needs at least 1"):
        minimum_detectable_effect([1.0], [])
    with pytest.raises(StatsInputError, match="a: value"):
        minimum_detectable_effect([1.0, -1.0], [1.0])
    with pytest.raises(StatsInputError, match="equal lengths"):
        minimum_detectable_effect([1.0] * 6, [1.0] * 7, paired=True)
    with pytest.raises(StatsInputError, match="method must be one of t, rank"):
        minimum_detectable_effect([1.0] * 5, [1.0] * 5, method="bootstrap")  # type: ignore[arg-type]
    for bad_family in (0, 1.5, True):
        with pytest.raises(StatsInputError, match="family_size"):
            minimum_detectable_effect([1.0] * 5, [1.0] * 5, family_size=bad_family)
    with pytest.raises(StatsInputError, match="cv must be"):
        planned_mde(-0.1, 10)
    with pytest.raises(StatsInputError, match="rounds must be"):
        planned_mde(0.1, 0)
    with pytest.raises(StatsInputError, match="effect must be"):
        rounds_needed(0.0, 0.1)
    for bad in (0, 1, 1.5, float("nan")):
        with pytest.raises(StatsInputError, match="power"):
            minimum_detectable_effect([1.0] * 5, [1.0] * 5, power=bad)
        with pytest.raises(StatsInputError, match="alpha"):
            minimum_detectable_effect([1.0] * 5, [1.0] * 5, alpha=bad)


sample = st.lists(st.floats(0.5, 2.0), min_size=4, max_size=12)


@settings(max_examples=40, deadline=None)
@given(sample, sample, st.floats(0.01, 100))
def test_properties(a, b, scale):
    mde = minimum_detectable_effect(a, b)
    assert mde >= 0.0
    # scale-free, symmetric in a and b, and more data (the same values twice) lowers it
    assert minimum_detectable_effect([v * scale for v in a], [v * scale for v in b]) == (
        pytest.approx(mde, rel=1e-6, abs=1e-12)
    )
    assert minimum_detectable_effect(b, a) == pytest.approx(mde, rel=1e-12, abs=1e-15)
    assert minimum_detectable_effect(a * 2, b * 2) <= mde * (1 + 1e-9)
    # higher power or stricter alpha needs a larger effect
    assert minimum_detectable_effect(a, b, power=0.9) >= mde
    assert minimum_detectable_effect(a, b, alpha=0.01) >= mde
    assert minimum_detectable_effect(a, b, family_size=60) >= mde
