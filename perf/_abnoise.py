"""Simulated A/B samples for the statistics scripts (``stats_*.py``, ``ab_sequential.py``).

Every run of A and B gets its own noise with coefficient of variation ``cv`` on the log
scale; paired rounds also share a round component (machine state) that pairing cancels.
Three noise shapes, all with the same standard deviation of the logs:

* ``lognormal``: normal noise on the log scale (what the t tests assume);
* ``heavy tails``: Student t with 3 degrees of freedom, rescaled;
* ``outlier round``: lognormal, plus one round in which one side (A or B at random) took
  twice as long -- a hiccup of the machine.
"""

from __future__ import annotations

import math

import numpy as np

NOISES = ("lognormal", "heavy tails", "outlier round")
_SHARED = 0.2  # sd of the per-round log component shared by A and B (cancels when paired)


def sigma_of(cv: float) -> float:
    """Standard deviation of the logs of a log-normal variable with this CV."""
    return math.sqrt(math.log1p(cv * cv))


def _noise(rng: np.random.Generator, kind: str, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "heavy tails":
        return rng.standard_t(3, shape) * sigma / math.sqrt(3.0)
    return rng.normal(0.0, sigma, shape)


def draw(
    rng: np.random.Generator,
    kind: str,
    cv: float,
    n: int,
    *,
    size: int = 1,
    effect: float | np.ndarray = 1.0,
    paired: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` A/B experiments of ``n`` runs per side, shape ``(size, n)``; B is ``effect``
    times slower (a number, or one per experiment)."""
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}")
    sigma = sigma_of(cv)
    shared = rng.normal(0.0, _SHARED, (size, n)) if paired else 0.0
    log_a = shared + _noise(rng, kind, sigma, (size, n))
    log_b = shared + _noise(rng, kind, sigma, (size, n))
    log_b = log_b + np.log(np.asarray(effect, dtype=float)).reshape(-1, 1)
    if kind == "outlier round":
        rows = np.arange(size)
        cols = rng.integers(0, n, size)
        side_b = rng.random(size) < 0.5
        log_b[rows[side_b], cols[side_b]] += math.log(2.0)
        log_a[rows[~side_b], cols[~side_b]] += math.log(2.0)
    return np.exp(log_a), np.exp(log_b)


def binomial_line(
    label: str, hits: int, total: int, alpha: float, *, k: float = 2.0, width: int = 46
) -> str:
    """``hits/total = rate`` against ``alpha`` + ``k`` binomial standard errors: OK or FAIL.

    With dozens of cells, a few exceed alpha + 2 SE by chance alone; cells use k = 3 and the
    pooled rate of a group of cells k = 2.
    """
    rate = hits / total
    se = math.sqrt(alpha * (1 - alpha) / total)  # binomial SE if the rate were exactly alpha
    ok = rate <= alpha + k * se
    return (
        f"  {label:<{width}} {hits:6d}/{total:<6d} = {rate:6.2%} "
        f"(limit alpha + {k:g} SE = {alpha + k * se:.2%}) {'OK' if ok else 'FAIL'}"
    )
