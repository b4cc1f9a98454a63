"""Sequential A/B: the e-process, its confidence sequences, e-BH over a family, stopping."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from daskbench.errors import StatsInputError
from daskbench.stats import Verdict
from daskbench.stats._sequential import (
    PRIOR_SCALES,
    SequentialDesign,
    critical_t,
    log_e_value,
    sequential_compare_many,
    sequential_min_rounds,
)


def series_of(ratios, a=None):
    """(round, a, b) triples with B/A = ratios[r] in round r."""
    a = a if a is not None else [1.0 + 0.1 * (r % 3) for r in range(len(ratios))]
    return [(r, a[r], a[r] * q) for r, q in enumerate(ratios)]


# ------------------------------------------------------------------------- e-process


def test_log_e_value_hand_computed():
    # t = 0: every Bayes factor is (1 + n g) ** -1/2; t -> inf: (1 + n g) ** ((n - 1) / 2)
    n = 10
    at_zero = np.mean([(1 + n * g) ** -0.5 for g in PRIOR_SCALES])
    at_inf = np.mean([(1 + n * g) ** ((n - 1) / 2) for g in PRIOR_SCALES])
    assert log_e_value(0.0, n) == pytest.approx(math.log(at_zero))
    assert log_e_value(math.inf, n) == pytest.approx(math.log(at_inf))
    # one factor by the formula, at t**2 = 9, n = 5, g = 4: (1/sqrt 21) * (3.25 / (1 + 9/84))**2.5
    one = 21**-0.5 * (1 + 9 / 4) ** 2.5 / (1 + 9 / 84) ** 2.5
    others = [
        (1 + 5 * g) ** -0.5 * ((1 + 9 / 4) / (1 + 9 / ((1 + 5 * g) * 4))) ** 2.5
        for g in PRIOR_SCALES
    ]
    assert others[1] == pytest.approx(one)
    assert log_e_value(9.0, 5) == pytest.approx(math.log(np.mean(others)))
    assert log_e_value(123.0, 1) == 0.0


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_e_value_has_mean_one_under_no_change(n):
    # Under "no change" the t statistic has Student's t distribution with n - 1 df; the
    # Bayes factor is a likelihood ratio of that statistic, so its mean is exactly 1.
    def integrand(t):
        return math.exp(log_e_value(t * t, n)) * stats.t.pdf(t, n - 1)

    total, _ = integrate.quad(integrand, -np.inf, np.inf, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_ville_bound_with_peeking_after_every_round():
    # P(E_n >= 1/a at any n <= 25) <= a for normal data, whatever its mean-free noise level.
    rng = np.random.default_rng(11)
    sims, horizon, a = 3000, 25, 0.05
    crossed = 0
    for _ in range(sims):
        d = rng.normal(0, 0.2, horizon)
        csum, csq = np.cumsum(d), np.cumsum(d * d)
        for n in range(2, horizon + 1):
            mean = csum[n - 1] / n
            var = (csq[n - 1] - n * mean * mean) / (n - 1)
            if log_e_value(mean * mean / (var / n), n) >= math.log(1 / a):
                crossed += 1
                break
    assert crossed / sims <= a  # in fact about a / 2: Ville's bound is not tight


def test_critical_t_inverts_the_e_value():
    for n, level in ((3, 0.05), (8, 0.05 / 60), (30, 0.01)):
        c = critical_t(n, math.log(1 / level))
        assert log_e_value(c * c, n) == pytest.approx(math.log(1 / level), abs=1e-9)
        # anytime validity costs width: wider than the fixed-n t interval at the same level
        assert c > stats.t.ppf(1 - level / 2, n - 1)
    assert critical_t(3, math.log(1e6)) == math.inf  # 3 pairs can never reach E = 1e6
    # the most 4 pairs can give is mean((1 + 4g) ** 1.5) = 1181 < 60 / .05; 5 pairs: 27520,
    # which is < 10000 / .05, and 6 pairs: 7.5e5
    assert [sequential_min_rounds(m) for m in (1, 60, 1000, 10000)] == [3, 5, 5, 6]


# ------------------------------------------------------------------ family decisions


def test_clear_change_is_decided_at_the_first_look():
    design = SequentialDesign(first=5, max_rounds=20)
    ratios = [1.5, 1.52, 1.49, 1.51, 1.5, 1.5, 1.5]
    result = sequential_compare_many({"x": series_of(ratios)}, design)
    c = result.comparisons["x"]
    assert (c.verdict, c.stop, c.method) == (Verdict.REGRESSED, "decided", "sequential-t")
    assert result.rounds_used["x"] == 5
    assert (c.n_a, c.n_b) == (5, 5)  # rounds after the decision are not used
    assert c.ci_low > 1.0
    assert c.pvalue < 0.05
    assert c.qvalue == pytest.approx(c.pvalue)  # a family of one
    assert result.done
    # swapping A and B: improved, mirrored interval, same evidence
    swapped = [(r, b, a) for r, a, b in series_of(ratios)]
    s = sequential_compare_many({"x": swapped}, design).comparisons["x"]
    assert s.verdict == Verdict.IMPROVED
    assert s.ratio == pytest.approx(1 / c.ratio)
    assert s.ci_low == pytest.approx(1 / c.ci_high)
    assert s.pvalue == pytest.approx(c.pvalue)


def test_noisy_null_stays_open_then_hits_the_limit():
    rng = np.random.default_rng(2)
    ratios = list(np.exp(rng.normal(0, 0.1, 12)))
    design = SequentialDesign(first=4, max_rounds=10, futility=0.0)
    series = {"x": series_of(ratios)}
    mid = sequential_compare_many(series, design, rounds_run=6)
    assert mid.open == {"x"}
    assert mid.comparisons["x"].stop == "running"
    assert mid.rounds_used["x"] == 6
    end = sequential_compare_many(series, design)  # 12 rounds of data, limit 10
    assert end.done
    assert end.comparisons["x"].stop == "limit"
    assert end.comparisons["x"].n_a == 10
    assert end.comparisons["x"].verdict == Verdict.INCONCLUSIVE


def test_futility_stops_hopeless_comparisons_early():
    rng = np.random.default_rng(3)
    ratios = list(np.exp(rng.normal(0, 0.15, 20)))
    design = SequentialDesign(first=5, max_rounds=20, futility=0.05)
    result = sequential_compare_many({"x": series_of(ratios)}, design)
    c = result.comparisons["x"]
    assert c.stop == "futile"
    assert result.rounds_used["x"] < 20
    assert "no verdict was likely" in c.note


def test_quiet_null_is_decided_unchanged():
    ratios = [1.0 + 0.002 * ((-1) ** r) for r in range(12)]
    result = sequential_compare_many({"x": series_of(ratios)}, SequentialDesign(5, 20))
    assert result.comparisons["x"].verdict == Verdict.UNCHANGED
    assert result.comparisons["x"].stop == "decided"


def test_verdicts_never_flip_as_rounds_are_added():
    # The replay after round r is what the runner sees; once decided, a comparison keeps its
    # verdict and its rounds, and later looks only add decisions.
    rng = np.random.default_rng(5)
    n_rounds, design = 16, SequentialDesign(first=4, max_rounds=16)
    series = {}
    for i in range(30):
        effect = 1.25 if i < 4 else 1.0
        series[i] = series_of(list(effect * np.exp(rng.normal(0, 0.06, n_rounds))))
    seen: dict[int, tuple[str, int]] = {}
    for r in range(4, n_rounds + 1):
        result = sequential_compare_many(series, design, rounds_run=r)
        for key, c in result.comparisons.items():
            if key in seen:
                assert (c.verdict, result.rounds_used[key]) == seen[key]
            elif c.stop == "decided":
                seen[key] = (c.verdict, result.rounds_used[key])
        assert result.open == {k for k, c in result.comparisons.items() if c.stop == "running"}
    decided = {k for k, (v, _) in seen.items() if v == Verdict.REGRESSED}
    assert decided == {0, 1, 2, 3}


def test_family_correction_and_selected_intervals():
    rng = np.random.default_rng(8)
    series = {i: series_of(list(np.exp(rng.normal(0, 0.05, 8)))) for i in range(60)}
    series["slow"] = series_of([1.5, 1.45, 1.55, 1.5, 1.52, 1.48, 1.5, 1.51])
    result = sequential_compare_many(series, SequentialDesign(first=8, max_rounds=8))
    flagged = [k for k, c in result.comparisons.items() if c.verdict in {"regressed", "improved"}]
    assert flagged == ["slow"]
    slow = result.comparisons["slow"]
    assert slow.ci_level == pytest.approx(1 - 0.05 / 61)  # R = 1 of m = 61
    assert slow.qvalue < 0.05
    for key, c in result.comparisons.items():
        assert c.ci_low <= c.ratio <= c.ci_high
        if key != "slow":
            assert c.ci_level == pytest.approx(0.95)
            assert c.mde > slow.mde * 0  # defined
            assert c.noise_cv is not None


def test_missing_rounds_and_errors():
    design = SequentialDesign(first=3, max_rounds=6)
    pairs = [(0, 1.0, 2.0), (2, 1.0, 2.0), (5, 1.0, 2.0)]  # a benchmark that failed twice
    c = sequential_compare_many({"x": pairs}, design).comparisons["x"]
    assert c.n_a == 3
    few = sequential_compare_many({"x": pairs[:2]}, design).comparisons["x"]
    assert few.verdict == Verdict.INCONCLUSIVE
    assert "too few samples" in few.note
    with pytest.raises(StatsInputError, match="'x': a round appears twice"):
        sequential_compare_many({"x": [(0, 1.0, 1.0), (0, 1.0, 1.1)]}, design)
    with pytest.raises(StatsInputError, match=r"'x': b: value .*must be > 0"):
        sequential_compare_many({"x": [(0, 1.0, 0.0)]}, design)
    with pytest.raises(StatsInputError, match="'x': expected"):
        sequential_compare_many({"x": [(0, 1.0)]}, design)  # type: ignore[list-item]
    with pytest.raises(StatsInputError, match=r"max_rounds .* at least first"):
        SequentialDesign(first=5, max_rounds=3)
    with pytest.raises(StatsInputError, match="futility"):
        SequentialDesign(first=5, max_rounds=10, futility=1.0)
    with pytest.raises(StatsInputError, match="alpha"):
        SequentialDesign(first=5, max_rounds=10, alpha=0.0)
    assert sequential_compare_many({}, design).comparisons == {}


ratio = st.floats(0.5, 2.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(ratio, min_size=1, max_size=12),
    st.integers(1, 8),
    st.integers(0, 8),
    st.booleans(),
)
def test_properties(ratios, first, extra, lower):
    design = SequentialDesign(first=first, max_rounds=first + extra)
    ab = sequential_compare_many({"k": series_of(ratios)}, design, lower_is_better=lower)
    ba = sequential_compare_many(
        {"k": [(r, b, a) for r, a, b in series_of(ratios)]}, design, lower_is_better=lower
    )
    c, s = ab.comparisons["k"], ba.comparisons["k"]
    assert c.ci_low <= c.ratio <= c.ci_high
    assert 0.0 <= c.pvalue <= 1.0
    assert s.ratio == pytest.approx(1 / c.ratio, rel=1e-9)
    assert s.pvalue == pytest.approx(c.pvalue, rel=1e-9, abs=1e-300)
    flip = {"regressed": "improved", "improved": "regressed"}
    assert s.verdict == flip.get(c.verdict, c.verdict)
    assert ab.rounds_used["k"] == ba.rounds_used["k"] <= design.max_rounds
    if c.verdict in {"regressed", "improved"}:
        assert c.significant
        assert c.ci_low > 1.0 or c.ci_high < 1.0
