"""Benjamini-Hochberg false discovery rate control.

A suite compares dozens of benchmarks at once; testing each at ``alpha`` would flag about
``alpha * m`` of them by chance on every run. Benjamini-Hochberg (1995) keeps the expected
share of false discoveries among the flagged ones at or below ``alpha`` (for independent or
positively dependent tests), and when nothing has changed at all it also bounds the chance of
flagging *anything* by ``alpha``.

    >>> bh_qvalues([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from daskbench.errors import StatsInputError

__all__ = ["bh_qvalues"]


def bh_qvalues(pvalues: Iterable[float]) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values ("q-values"), in the order given.

    With ``m`` p-values sorted ascending, ``q_(i) = min over j >= i of min(1, m * p_(j) / j)``.
    Rejecting every hypothesis with ``q <= alpha`` is exactly the BH step-up procedure at
    level ``alpha``: find the largest ``k`` with ``p_(k) <= k * alpha / m`` and reject the
    ``k`` smallest. The running minimum from the top makes q monotone in p, so a smaller
    p-value never gets a larger q-value.

    Raises StatsInputError for values outside [0, 1] or NaN. An empty input gives an empty
    array.

    >>> bh_qvalues([0.02, 0.01]).tolist()
    [0.02, 0.02]
    >>> bh_qvalues([]).tolist()
    []
    """
    p = np.asarray(list(pvalues), dtype=np.float64)
    if p.ndim != 1:
        raise StatsInputError(f"pvalues: expected a flat sequence, got shape {p.shape}")
    if p.size == 0:
        return p
    bad = ~((p >= 0.0) & (p <= 1.0))  # also catches NaN, for which both comparisons fail
    if bad.any():
        idx = int(np.flatnonzero(bad)[0])
        raise StatsInputError(f"pvalues: value {p[idx]!r} at index {idx} is not in [0, 1]")
    m = p.size
    # A stable sort keeps equal p-values in input order; they get equal q-values anyway.
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, m + 1, dtype=np.float64)
    scaled = p[order] * m / ranks
    # Running minimum from the largest p downwards: the step-up part of the procedure.
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(monotone, 1.0)
    return q
