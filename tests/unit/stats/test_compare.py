"""compare / compare_many: hand-computed values, edge cases, errors and properties."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from daskbench.errors import StatsInputError
from daskbench.stats import Comparison, Verdict, compare, compare_many, minimum_detectable_effect
from daskbench.stats._ranks import _mwu_cdf, _signrank_cdf, min_pvalue

FLIP = {
    Verdict.REGRESSED: Verdict.IMPROVED,
    Verdict.IMPROVED: Verdict.REGRESSED,
    Verdict.UNCHANGED: Verdict.UNCHANGED,
    Verdict.INCONCLUSIVE: Verdict.INCONCLUSIVE,
}


# ---------------------------------------------------------------- hand-computed values


def test_unpaired_hand_computed():
    # logs x = [0, .1, .3], y = [.2, .5]; differences y - x sorted:
    # [-.1, .1, .2, .2, .4, .5] -> Hodges-Lehmann shift = median = .2
    # U = #(y > x) = 5 of 6; the exact null counts for 3 + 2 values are 1,1,2,2,2,1,1
    # (10 arrangements), so p = 2 * P(U <= 1) = 2 * 2/10 = 0.4
    c = compare(np.exp([0.0, 0.1, 0.3]), np.exp([0.2, 0.5]), method="rank")
    assert c.ratio == pytest.approx(math.exp(0.2))
    assert c.pvalue == pytest.approx(0.4)
    assert (c.n_a, c.n_b) == (3, 2)
    assert c.median_a == pytest.approx(math.exp(0.1))
    assert c.median_b == pytest.approx((math.exp(0.2) + math.exp(0.5)) / 2)
    # 3 + 2 values can never reach 0.05: unbounded interval, inconclusive, and it says why
    assert (c.ci_low, c.ci_high) == (0.0, math.inf)
    assert c.verdict == Verdict.INCONCLUSIVE
    assert "too few samples" in c.note
    assert c.pvalue == pytest.approx(stats.mannwhitneyu([0.2, 0.5], [0, 0.1, 0.3]).pvalue)


def test_complete_separation_four_each():
    # All 70 arrangements equally likely; only 1 per tail this extreme: p = 2/70.
    # P(U <= 0) = 1/70 <= .025 < P(U <= 1) = 2/70, so c = 0 and the Moses interval is
    # [min, max] of the 16 ratios b_j / a_i = [5/4, 8/1]. The median of the 16 ratios
    # lies between 2.5 and 8/3: HL ratio = sqrt(2.5 * 8/3).
    c = compare([1, 2, 3, 4], [5, 6, 7, 8], method="rank")
    assert c.pvalue == pytest.approx(2 / 70)
    assert c.ratio == pytest.approx(math.sqrt(2.5 * 8 / 3))
    assert (c.ci_low, c.ci_high) == (pytest.approx(1.25), pytest.approx(8.0))
    assert c.verdict == Verdict.REGRESSED
    assert c.significant
    assert c.note == ""
    assert compare([1, 2, 3, 4], [5, 6, 7, 8], lower_is_better=False, method="rank").verdict == (
        "improved"
    )
    assert c.method == "mann-whitney"


def test_paired_hand_computed():
    # log ratios d = [.1, .2, .6]; Walsh averages .1 .15 .2 .35 .4 .6 -> median .275.
    # All signs positive: T+ = 6 = max, p = 2 / 2**3 = 0.25.
    a = np.array([1.0, 2.0, 3.0])
    c = compare(a, a * np.exp([0.1, 0.2, 0.6]), paired=True, method="rank")
    assert c.ratio == pytest.approx(math.exp(0.275))
    assert c.pvalue == pytest.approx(0.25)
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.paired


def test_paired_six_pairs_all_up():
    # 2 / 2**6 = 0.03125 < .05; c = 0 so the interval spans min..max of the log ratios.
    d = np.array([0.1, 0.12, 0.15, 0.2, 0.22, 0.3])
    a = np.linspace(1, 2, 6)
    c = compare(a, a * np.exp(d), paired=True, method="rank")
    assert c.method == "wilcoxon"
    assert c.pvalue == pytest.approx(0.03125)
    assert c.ci_low == pytest.approx(math.exp(0.1))
    assert c.ci_high == pytest.approx(math.exp(0.3))
    assert c.verdict == Verdict.REGRESSED


def test_exact_null_distributions():
    assert [round(p * 10) for p in _mwu_cdf(2, 3)] == [1, 2, 4, 6, 8, 9, 10]
    assert _mwu_cdf(2, 3) == _mwu_cdf(3, 2)[: len(_mwu_cdf(2, 3))]
    # signed rank n=3: sums 0,1,2,3(x2),4,5,6 of 8 sign patterns
    assert [round(p * 8) for p in _signrank_cdf(3)] == [1, 2, 3, 5, 6, 7, 8]
    assert min_pvalue(4, 4, paired=False) == pytest.approx(2 / 70)
    assert min_pvalue(3, 4, paired=False) == pytest.approx(2 / 35)
    assert min_pvalue(6, 6, paired=True) == pytest.approx(2 / 64)
    assert min_pvalue(2000, 2000, paired=True) == 0.0  # no overflow


@pytest.mark.parametrize(
    ("n_a", "n_b", "ties", "expected"),
    [
        (5, 5, False, "exact"),
        (4, 11, False, "exact"),
        (12, 9, True, "asymptotic"),
        (40, 35, False, "asymptotic"),
    ],
)
def test_pvalue_matches_scipy_mann_whitney(n_a, n_b, ties, expected):
    rng = np.random.default_rng(n_a * 100 + n_b)
    a = np.exp(rng.normal(0, 0.1, n_a))
    b = np.exp(rng.normal(0.05, 0.1, n_b))
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    ref = stats.mannwhitneyu(np.log(b), np.log(a), method=expected).pvalue
    assert compare(a, b, method="rank").pvalue == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(("n", "ties"), [(8, False), (20, False), (15, True), (70, False)])
def test_pvalue_matches_scipy_wilcoxon(n, ties):
    rng = np.random.default_rng(n)
    a = np.exp(rng.normal(0, 0.1, n))
    b = a * np.exp(rng.normal(0.03, 0.05, n))
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)  # also makes some log ratios exactly zero
    d = np.log(b) - np.log(a)
    method = "approx" if ties or n > 60 else "exact"
    ref = stats.wilcoxon(d, zero_method="zsplit", correction=True, method=method).pvalue
    assert compare(a, b, paired=True, method="rank").pvalue == pytest.approx(ref, rel=1e-9)


# ------------------------------------------------------- t tests (the default method)


def test_paired_t_hand_computed():
    # log ratios d = .1 .2 .3: mean .2, sd .1, se .1 / sqrt(3) = .057735, t = 3.4641, df 2.
    # For df = 2, P(|T| > t) = 1 - t / sqrt(t**2 + 2) = 1 - 3.4641 / 3.7417 = .074180, and
    # t_{2, .975} = 4.302653, so the 95% interval is .2 +- .248414.
    a = np.array([1.0, 2.0, 3.0])
    c = compare(a, a * np.exp([0.1, 0.2, 0.3]), paired=True)
    t = 0.2 / (0.1 / math.sqrt(3))
    assert c.pvalue == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-9)
    assert c.pvalue == pytest.approx(0.074180, abs=1e-6)
    assert c.ratio == pytest.approx(math.exp(0.2))
    assert math.log(c.ci_low) == pytest.approx(0.2 - 0.248414, abs=1e-6)
    assert math.log(c.ci_high) == pytest.approx(0.2 + 0.248414, abs=1e-6)
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.method == "paired-t"
    assert "too wide" in c.note


def test_welch_hand_computed():
    # logs x = 0 .1 .2 (mean .1, var .01), y = .3 .5 .7 (mean .5, var .04):
    # se**2 = .01/3 + .04/3 = 1/60, t = .4 * sqrt(60) = 3.0984,
    # df = (1/60)**2 / ((.01/3)**2 / 2 + (.04/3)**2 / 2) = 2.9412 (= 50/17)
    x, y = np.array([0.0, 0.1, 0.2]), np.array([0.3, 0.5, 0.7])
    c = compare(np.exp(x), np.exp(y))
    ref = stats.ttest_ind(y, x, equal_var=False)
    assert ref.df == pytest.approx(50 / 17)
    assert ref.statistic == pytest.approx(0.4 * math.sqrt(60))
    assert c.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert c.ratio == pytest.approx(math.exp(0.4))
    lo, hi = ref.confidence_interval(0.95)
    assert (math.log(c.ci_low), math.log(c.ci_high)) == (pytest.approx(lo), pytest.approx(hi))
    assert c.method == "welch-t"


@pytest.mark.parametrize(
    ("n", "paired"), [(4, True), (9, True), (30, True), (5, False), (25, False)]
)
def test_t_matches_scipy(n, paired):
    rng = np.random.default_rng(n)
    a = np.exp(rng.normal(0, 0.1, n))
    n_b = n if paired else n + 3
    base = a if paired else np.exp(rng.normal(0, 0.1, n_b))
    b = base * np.exp(rng.normal(0.05, 0.05, n_b))
    x, y = np.log(a), np.log(b)
    ref = stats.ttest_rel(y, x) if paired else stats.ttest_ind(y, x, equal_var=False)
    for alpha in (0.05, 0.01):
        c = compare(a, b, paired=paired, alpha=alpha)
        assert c.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
        lo, hi = ref.confidence_interval(1 - alpha)
        assert math.log(c.ci_low) == pytest.approx(lo, rel=1e-9)
        assert math.log(c.ci_high) == pytest.approx(hi, rel=1e-9)
        assert c.ci_level == pytest.approx(1 - alpha)


def test_t_constants_and_minimum_sizes():
    # No noise at all: the shift is known exactly (p = 0, zero-width interval) from 3 + 3 up.
    c = compare([1.0] * 3, [2.0] * 3)
    assert (c.ratio, c.ci_low, c.ci_high, c.pvalue) == (2.0, 2.0, 2.0, 0.0)
    assert c.verdict == Verdict.REGRESSED
    assert c.mde == 0.0
    assert c.noise_cv == 0.0
    # ... but 2 + 2 (or 2 pairs) is below the policy minimum: no verdict, and it says why
    for small in (compare([1.0] * 2, [2.0] * 2), compare([1.0, 1.1], [2.0, 2.2], paired=True)):
        assert small.verdict == Verdict.INCONCLUSIVE
        assert (small.ci_low, small.ci_high, small.mde) == (0.0, math.inf, math.inf)
        assert "too few samples" in small.note
        assert "3 " in small.note
    assert compare([1.0, 1.1, 1.2], [2.0, 2.1, 2.3], paired=True).verdict == Verdict.REGRESSED


def test_one_outlier_round_makes_t_cautious_never_wrong():
    # A wild value inflates the t test's standard error faster than the mean: less power,
    # never a false verdict. (The rank test shrugs it off; see the _rank variant above.)
    rng = np.random.default_rng(7)
    a = np.exp(rng.normal(0, 0.05, 10))
    b = a * np.exp(rng.normal(0, 0.03, 10))
    b[3] *= 20.0  # one round where B hiccupped
    c = compare(a, b, paired=True)
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.ci_low < 1 < c.ci_high
    assert c.noise_cv is not None
    assert c.noise_cv < 0.1  # robust: the outlier does not make the noise estimate explode


def test_consistent_large_effect_decided_in_a_family_of_60():
    # Issue 9: a 1.5x slowdown in every one of 8 paired rounds, among 59 unchanged
    # comparisons. The signed-rank test cannot decide it (p >= 2/256 > 0.05/60); the t test on
    # the log ratios can, and the unchanged ones raise no alarm.
    rng = np.random.default_rng(9)
    rounds = 8
    pairs = {}
    for i in range(60):
        drift = np.exp(rng.normal(0, 0.2, rounds))  # machine state shared within a round
        a = drift * np.exp(rng.normal(0, 0.05, rounds))
        b = drift * np.exp(rng.normal(0, 0.05, rounds)) * (1.5 if i == 0 else 1.0)
        pairs[i] = (a, b)
    cs = compare_many(pairs, paired=True)
    assert cs[0].verdict == Verdict.REGRESSED
    assert cs[0].ci_low > 1.0
    assert cs[0].ci_level == pytest.approx(1 - 0.05 / 60)  # the only selected one: R = 1
    assert not [k for k, c in cs.items() if k != 0 and c.verdict in {"regressed", "improved"}]
    ranks = compare_many(pairs, paired=True, method="rank")
    assert ranks[0].verdict == Verdict.INCONCLUSIVE
    assert ranks[0].pvalue == pytest.approx(2 / 2**8)


# ----------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("method", ["t", "rank"])
def test_identical_constants_are_unchanged(method):
    c = compare([3.0] * 5, [3.0] * 5, method=method)
    assert (c.ratio, c.ci_low, c.ci_high, c.pvalue) == (1.0, 1.0, 1.0, 1.0)
    assert c.verdict == Verdict.UNCHANGED
    assert compare([3.0] * 6, [3.0] * 6, paired=True, method=method).verdict == Verdict.UNCHANGED


def test_different_constants_rank():
    # No noise at all: the interval collapses on the ratio; the normal approximation would
    # give p = 0.004 but no permutation test of 5 + 5 goes below 2/252.
    c = compare([1.0] * 5, [2.0] * 5, method="rank")
    assert (c.ratio, c.ci_low, c.ci_high) == (pytest.approx(2.0),) * 3
    assert c.pvalue == pytest.approx(2 / 252)
    assert c.verdict == Verdict.REGRESSED
    assert c.mde == 0.0
    # ... but 3 + 3 is still too few to say anything
    small = compare([1.0] * 3, [2.0] * 3, method="rank")
    assert small.verdict == Verdict.INCONCLUSIVE
    assert small.pvalue == pytest.approx(0.1)


def test_minimum_sizes_rank():
    def rank(a, b, **kw):
        return compare(a, b, method="rank", **kw)

    assert rank([1, 2, 3, 4], [10, 11, 12, 13]).verdict == Verdict.REGRESSED
    assert rank([1, 2, 3], [10, 11, 12, 13]).verdict == Verdict.INCONCLUSIVE  # 2/35
    assert rank([1, 2, 3], [10, 11, 12, 13, 14]).verdict == Verdict.REGRESSED  # 2/56
    a = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    b = [2.0, 2.3, 2.1, 2.9, 2.5, 3.3]
    assert rank(a, b, paired=True).verdict == Verdict.REGRESSED
    five = rank(a[:5], b[:5], paired=True)
    assert five.verdict == Verdict.INCONCLUSIVE
    assert "6 pairs" in five.note
    one = rank([1.0], [5.0])
    assert (one.ratio, one.pvalue, one.verdict) == (pytest.approx(5.0), 1.0, "inconclusive")


def test_unequal_sizes_and_heavy_tails_rank():
    rng = np.random.default_rng(7)
    a = np.exp(rng.standard_t(1.5, 30) * 0.05)
    b = np.exp(rng.standard_t(1.5, 12) * 0.05 + 0.4)
    a[0] = 1e6  # a wild outlier barely moves rank statistics
    c = compare(a, b, method="rank")
    assert c.verdict == Verdict.REGRESSED
    assert 1.3 < c.ratio < 1.8


def test_small_significant_change_within_threshold():
    rng = np.random.default_rng(3)
    a = np.exp(rng.normal(0, 0.01, 200))
    b = np.exp(rng.normal(0.02, 0.01, 200))
    c = compare(a, b)
    assert c.pvalue < 1e-6
    assert c.verdict == Verdict.UNCHANGED  # 2% is real but under the 5% threshold
    strict = compare(a, b, threshold=0.0)
    assert strict.verdict == Verdict.REGRESSED
    wide = compare(a[:12], b[:12] * 1.03, threshold=0.045)
    assert wide.verdict in {Verdict.INCONCLUSIVE, Verdict.REGRESSED}


def test_comparison_is_frozen_and_verdict_is_a_string():
    c = compare([1, 2, 3, 4], [5, 6, 7, 8])
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.ratio = 2.0  # type: ignore[misc]
    assert c.verdict == "regressed"
    assert repr(c.verdict) == "'regressed'"
    assert c.qvalue is None
    assert c.mde == pytest.approx(minimum_detectable_effect([1, 2, 3, 4], [5, 6, 7, 8]))


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ([], [1.0], "a: needs at least 1"),
        ([1.0], [], "b: needs at least 1"),
        ([1.0, float("nan")], [1.0], r"a: value .*nan"),
        ([1.0], [float("inf")], r"b: value .*inf"),
        ([1.0, 0.0], [1.0], r"a: value .*0\.0.* at index 1 must be > 0"),
        ([1.0], [-2.0], r"b: value .*-2\.0"),
        (["x"], [1.0], "a: values must be numbers"),
    ],
)
def test_rejects_bad_samples(a, b, match):
    with pytest.raises(StatsInputError, match=match):
        compare(a, b)


def test_rejects_bad_parameters():
    with pytest.raises(StatsInputError, match="equal lengths: a has 2 values, b has 3"):
        compare([1, 2], [1, 2, 3], paired=True)
    for alpha in (0, 1, -0.1, float("nan"), True):
        with pytest.raises(StatsInputError, match="alpha"):
            compare([1], [1], alpha=alpha)
    for threshold in (-0.01, float("inf"), float("nan"), False):
        with pytest.raises(StatsInputError, match="threshold"):
            compare([1], [1], threshold=threshold)
    assert issubclass(StatsInputError, ValueError)


def test_compare_many_errors_name_the_key():
    with pytest.raises(StatsInputError, match=r"'q2': b: value .*nan"):
        compare_many({"q1": ([1.0], [1.0]), "q2": ([1.0], [float("nan")])})
    with pytest.raises(StatsInputError, match="no entry for 'q2'"):
        compare_many({"q1": ([1.0], [1.0]), "q2": ([1.0], [1.0])}, lower_is_better={"q1": True})
    with pytest.raises(StatsInputError, match="'q1': expected a pair"):
        compare_many({"q1": ([1.0], [1.0], [1.0])})  # type: ignore[dict-item]


# ----------------------------------------------------------------------- compare_many


def test_compare_many_adjusts_and_keeps_keys():
    rng = np.random.default_rng(11)
    base = {f"k{i}": np.exp(rng.normal(0, 0.05, 10)) for i in range(6)}
    pairs = {
        k: (v, v * 1.5 if k == "k0" else np.exp(rng.normal(0, 0.05, 10))) for k, v in base.items()
    }
    directions = {k: k != "k0" for k in pairs}  # k0 is a throughput: higher is better
    cs = compare_many(pairs, lower_is_better=directions)
    assert list(cs) == list(pairs)
    assert cs["k0"].verdict == Verdict.IMPROVED
    ps = [compare(a, b).pvalue for a, b in pairs.values()]
    assert [c.pvalue for c in cs.values()] == pytest.approx(ps)
    assert [c.qvalue for c in cs.values()] == pytest.approx(stats.false_discovery_control(ps))
    selected = [c for c in cs.values() if c.significant]
    for c in cs.values():
        level = 1 - len(selected) * 0.05 / 6 if c.significant else 0.95
        assert c.ci_level == pytest.approx(level)
    assert compare_many({}) == {}


def test_compare_many_single_pair_equals_compare():
    a, b = [1.0, 1.1, 1.2, 1.3, 0.9], [1.4, 1.5, 1.6, 1.45, 1.55]
    many = compare_many({"x": (a, b)})["x"]
    one = compare(a, b)
    assert many.qvalue == pytest.approx(one.pvalue)
    assert dataclasses.replace(many, qvalue=None) == one


# ------------------------------------------------------------------------- properties

values = st.lists(st.integers(1, 10**6).map(lambda v: v / 1000), min_size=1, max_size=14)
factor = st.sampled_from([0.5, 0.9, 1.0, 1.03, 1.1, 1.5, 3.0])
fast = settings(max_examples=60, deadline=None)


def _inverse(x: float) -> float:
    return 0.0 if x == math.inf else math.inf if x == 0.0 else 1 / x


def _assert_consistent(c: Comparison) -> None:
    up = 1 + c.threshold
    assert c.ci_low <= c.ratio <= c.ci_high
    assert 0.0 <= c.pvalue <= 1.0
    if c.verdict in {Verdict.REGRESSED, Verdict.IMPROVED}:
        assert c.significant
        higher = (c.verdict == Verdict.REGRESSED) == c.lower_is_better
        if higher:
            assert c.ci_low >= 1.0
            assert c.ratio >= up * (1 - 1e-12)
        else:
            assert c.ci_high <= 1.0
            assert c.ratio <= (1 + 1e-12) / up
    elif c.verdict == Verdict.UNCHANGED:
        assert c.ci_low * (1 + 1e-12) >= 1 / up
        assert c.ci_high <= up * (1 + 1e-12)
    if c.ci_high == math.inf:
        assert c.verdict == Verdict.INCONCLUSIVE


methods = st.sampled_from(["t", "rank"])


@fast
@given(values, values, factor, st.booleans(), methods)
def test_swapping_inverts_ratio_and_flips_verdict(a, b, k, lower, method):
    b = [v * k for v in b]
    ab = compare(a, b, lower_is_better=lower, method=method)
    ba = compare(b, a, lower_is_better=lower, method=method)
    assert ba.pvalue == ab.pvalue
    assert ba.ratio == pytest.approx(1 / ab.ratio, rel=1e-12)
    assert ba.ci_low == pytest.approx(_inverse(ab.ci_high), rel=1e-12)
    assert ba.ci_high == pytest.approx(_inverse(ab.ci_low), rel=1e-12)
    assert ba.verdict == FLIP[ab.verdict]


@fast
@given(values, factor, st.data(), methods)
def test_paired_swap(a, k, data, method):
    noise = data.draw(st.lists(st.floats(0.8, 1.25), min_size=len(a), max_size=len(a)))
    b = [v * k * e for v, e in zip(a, noise, strict=True)]
    ab, ba = compare(a, b, paired=True, method=method), compare(b, a, paired=True, method=method)
    assert ba.pvalue == ab.pvalue
    assert ba.ratio == pytest.approx(1 / ab.ratio, rel=1e-12)
    assert ba.verdict == FLIP[ab.verdict]
    _assert_consistent(ab)


@fast
@given(values, values, factor, st.integers(-30, 30), st.floats(0.001, 1000))
def test_scaling_leaves_ratio_and_verdict(a, b, k, power_of_two, scale):
    b = [v * k for v in b]
    ref = compare(a, b)
    # Scaling by 2**k is exact in floating point, so the result is bit-identical...
    s = 2.0**power_of_two
    exact = compare([v * s for v in a], [v * s for v in b])
    assert dataclasses.replace(exact, median_a=ref.median_a, median_b=ref.median_b) == ref
    # ... and by any other constant, equal up to rounding.
    other = compare([v * scale for v in a], [v * scale for v in b])
    assert other.pvalue == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    # (the rank tests see the same ranks, so the very same p-value)
    other_rank = compare([v * scale for v in a], [v * scale for v in b], method="rank")
    assert other_rank.pvalue == compare(a, b, method="rank").pvalue
    assert other.ratio == pytest.approx(ref.ratio, rel=1e-9)
    assert other.median_b == pytest.approx(ref.median_b * scale, rel=1e-12)


@fast
@given(values, st.booleans())
def test_identical_samples_never_change(a, paired):
    c = compare(a, a, paired=paired)
    assert c.ratio == 1.0
    assert c.pvalue == 1.0
    assert c.verdict in {Verdict.UNCHANGED, Verdict.INCONCLUSIVE}


@fast
@given(
    values,
    values,
    factor,
    st.sampled_from([0.0, 0.02, 0.05, 0.2]),
    st.sampled_from([0.01, 0.05, 0.1]),
    st.booleans(),
    methods,
)
def test_verdict_consistent_with_interval(a, b, k, threshold, alpha, lower, method):
    b = [v * k for v in b]
    c = compare(a, b, alpha=alpha, threshold=threshold, lower_is_better=lower, method=method)
    _assert_consistent(c)
    assert c.noisy == (c.mde > c.threshold)


@fast
@given(values, values, factor, st.booleans(), st.sampled_from([0.01, 0.05, 0.2]))
def test_t_interval_is_dual_to_the_test(a, b, k, paired, alpha):
    # The interval at level 1 - alpha excludes 1 exactly when p < alpha.
    if paired:
        b = (b * len(a))[: len(a)]
    b = [v * k for v in b]
    c = compare(a, b, paired=paired, alpha=alpha, threshold=0.0)
    if abs(c.pvalue - alpha) < 1e-9 or c.ci_low == 0.0:
        return  # on the boundary rounding decides; below the minimum size there is no test
    assert (c.pvalue < alpha) == (c.ci_low > 1.0 or c.ci_high < 1.0)
    assert c.ci_low <= c.ratio <= c.ci_high


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(values, values, factor), min_size=1, max_size=6))
def test_compare_many_consistent(triples):
    pairs = {i: (a, [v * k for v in b]) for i, (a, b, k) in enumerate(triples)}
    cs = compare_many(pairs)
    selected = sum(c.significant for c in cs.values())
    for key, c in cs.items():
        _assert_consistent(c)
        assert c.qvalue is not None
        assert c.qvalue >= c.pvalue - 1e-15
        if c.significant:
            # false-coverage-rate intervals: R of m selected get level 1 - R * alpha / m,
            # never narrower than the plain 1 - alpha interval
            assert c.ci_level == pytest.approx(1 - selected * c.alpha / len(cs))
            assert c.ci_level >= 1 - c.alpha - 1e-12
        # anything compare_many calls a change, compare alone would not call the opposite
        alone = compare(*pairs[key])
        assert {c.verdict, alone.verdict} != {Verdict.REGRESSED, Verdict.IMPROVED}
