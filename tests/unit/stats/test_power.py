"""minimum_detectable_effect: hand-computed values, limits, errors and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from daskbench.errors import StatsInputError
from daskbench.stats import compare, minimum_detectable_effect


def test_hand_computed_unpaired():
    # logs +-0.1, two of each per side: pooled variance = 8 * 0.01 / 6, df = 6
    a = b = np.exp([-0.1, -0.1, 0.1, 0.1])
    s = math.sqrt(0.08 / 6)
    k = stats.t.ppf(0.975, 6) + stats.t.ppf(0.8, 6)  # 2.4469 + 0.9057
    expected = math.expm1(k * s * math.sqrt(1 / 4 + 1 / 4) * math.sqrt(math.pi / 3))
    assert minimum_detectable_effect(a, b) == pytest.approx(expected)
    assert expected == pytest.approx(0.3233, abs=1e-4)  # 3.3526 * .11547 * .70711 * 1.0233


def test_hand_computed_paired():
    # log ratios .1 .2 .3 .1 .2 .3: squared deviations sum to .04, sd = sqrt(.04 / 5), df = 5
    a = np.ones(6)
    b = np.exp([0.1, 0.2, 0.3, 0.1, 0.2, 0.3])
    k = stats.t.ppf(0.975, 5) + stats.t.ppf(0.9, 5)
    sd = math.sqrt(0.04 / 5)
    expected = math.expm1(k * sd / math.sqrt(6) * math.sqrt(math.pi / 3))
    got = minimum_detectable_effect(a, b, paired=True, power=0.9)
    assert got == pytest.approx(expected)
    assert got == pytest.approx(0.1632, abs=1e-4)  # (2.5706 + 1.4759) * .036515 * 1.0233


def test_limits():
    assert minimum_detectable_effect([1.0] * 3, [2.0] * 3) == math.inf  # 2/20 >= .05
    assert minimum_detectable_effect([1.0] * 5, [1.0] * 5) == 0.0  # no noise at all
    assert minimum_detectable_effect([1.0] * 5, [1.0] * 5, paired=True) == math.inf  # 2/32
    assert minimum_detectable_effect([1.0, 2.0] * 3, [1.0, 2.0] * 3, paired=True) < math.inf
    # a looser alpha makes 3 + 3 usable
    assert minimum_detectable_effect([1.0, 1.1, 1.2], [1.0, 1.1, 1.2], alpha=0.2) < math.inf


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
