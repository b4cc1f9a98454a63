"""Benjamini-Hochberg q-values: hand-computed cases, errors and properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from daskbench.errors import StatsInputError
from daskbench.stats._fdr import bh_qvalues


def test_small_hand_computed():
    # sorted p: .01 .03 .04 .5 -> m*p/rank: .04 .06 .0533 .5 -> running min from the top
    q = bh_qvalues([0.01, 0.04, 0.03, 0.5])
    assert q.tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_ten_hand_computed():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    # 10*p/rank: .01 .04 .13 .1025 .084 .1 .10571 .25625 .23556 .216
    expected = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.74 / 7, 0.216, 0.216, 0.216]
    assert bh_qvalues(p).tolist() == pytest.approx(expected)
    # order of the input does not matter beyond permuting the output
    assert bh_qvalues(p[::-1]).tolist() == pytest.approx(expected[::-1])


def test_capped_at_one_and_ties():
    assert bh_qvalues([0.9, 0.95]).tolist() == pytest.approx([0.95, 0.95])
    assert bh_qvalues([0.6, 0.6, 0.6]).tolist() == pytest.approx([0.6, 0.6, 0.6])
    assert bh_qvalues([1.0, 0.0]).tolist() == [1.0, 0.0]


def test_single_and_empty():
    assert bh_qvalues([0.03]).tolist() == [0.03]
    assert bh_qvalues([]).tolist() == []


@pytest.mark.parametrize("bad", [[0.1, float("nan")], [1.5], [-0.01], [[0.1, 0.2]]])
def test_rejects_invalid(bad):
    with pytest.raises(StatsInputError, match="pvalues"):
        bh_qvalues(bad)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.sampled_from([0.01, 0.05, 0.2]))
def test_matches_step_up_procedure(p, alpha):
    q = bh_qvalues(p)
    assert np.all(q >= np.asarray(p) - 1e-15)
    assert np.all(q <= 1.0)
    assert q == pytest.approx(stats.false_discovery_control(p), abs=1e-12)
    # q <= alpha rejects exactly the k smallest, k the largest rank with p_(k) <= k alpha / m
    m = len(p)
    ps = np.sort(p)
    ok = np.flatnonzero(ps <= np.arange(1, m + 1) * alpha / m)
    k = ok[-1] + 1 if ok.size else 0
    margin = 1e-12  # m * p / k vs p <= k * alpha / m can differ in the last bit
    if not np.any(np.abs(q - alpha) < margin):
        assert int(np.count_nonzero(q <= alpha)) == k
    # monotone: a smaller p never gets a larger q
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)
