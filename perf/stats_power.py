"""Does compare find the regressions it should? Power at 1.2 x the theoretical MDE.

The theoretical minimum detectable effect is that of the two-sample z-test on log values,
``MDE = exp((z_{1-alpha/2} + z_{power}) * sigma_log * sqrt(2/n)) - 1``. We simulate a true
slowdown of ``1 + 1.2 * MDE`` (log-normal noise, CV 8%) and count "regressed" verdicts; the
target is at least 80%.

Two settings are reported, because they answer different questions:

Paired samples get, besides their own CV-8% noise, a per-pair component that pairing
cancels, so that their log ratios have the same spread as in the unpaired formula.
Paired n = 5 can never be significant at alpha = 0.05 (smallest signed-rank p = 2/32).

* ``threshold 0``: the statistics alone (rank test + interval). The rank test is slightly
  less efficient than the z-test (3/pi on normal data), estimates the noise instead of
  knowing it, and is discrete at small n, so the 20% margin has to absorb those.
* ``threshold 5%`` (the default): a verdict also needs the *estimate* beyond 5%. Once the
  MDE approaches 5% (n >= 40 at CV 8%), a true change of ~6% has its estimate below 5% in a
  large share of runs, so power there is bounded by the threshold, not the test. That is
  by design: the threshold says which changes are worth reporting.

The ``mde est`` column is the median of :func:`minimum_detectable_effect` over the
simulated samples (t quantiles, rank efficiency, estimated noise), i.e. what a report
would show.

    python perf/stats_power.py           # 2,000 simulations per cell
    python perf/stats_power.py --quick   # 400
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from daskbench.stats import Verdict, compare, minimum_detectable_effect


def theoretical_mde(n: int, sigma: float, alpha: float, power: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return math.expm1(z * sigma * math.sqrt(2 / n))


def _pct(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.1%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations")
    parser.add_argument("--seed", type=int, default=20240602)
    args = parser.parse_args()
    cv, alpha, target = 0.08, 0.05, 0.8
    sigma = math.sqrt(math.log1p(cv**2))
    sims = 400 if args.quick else 2000
    rng = np.random.default_rng(args.seed)
    print(
        f"Power at 1.2 x theoretical MDE: log-normal CV {cv:.0%} (sigma_log {sigma:.4f}), "
        f"alpha={alpha}, target power {target:.0%}, {sims} simulations per cell"
    )
    header = (
        f"{'design':<9}{'n':>4}{'MDE z':>8}{'mde est':>9}{'true chg':>10}"
        f"{'power thr 0':>13}{'power thr 5%':>14}  verdict (thr 0)"
    )
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    shortfalls = []
    for paired in (False, True):
        for n in (5, 10, 20, 40):
            mde = theoretical_mde(n, sigma, alpha, target)
            effect = 1 + 1.2 * mde
            hits = {0.0: 0, 0.05: 0}
            estimates = []
            for _ in range(sims):
                if paired:
                    # Each value has its own CV-8% noise plus a per-pair component shared by
                    # A and B (e.g. the machine state), which pairing cancels. The log-ratio
                    # sd is then sigma * sqrt(2), so the z-test MDE formula applies as is.
                    shared = rng.normal(0, sigma, n)
                    a = np.exp(shared + rng.normal(0, sigma, n))
                    b = np.exp(shared + rng.normal(0, sigma, n)) * effect
                else:
                    a = np.exp(rng.normal(0, sigma, n))
                    b = np.exp(rng.normal(0, sigma, n)) * effect
                for threshold in hits:
                    c = compare(a, b, paired=paired, alpha=alpha, threshold=threshold)
                    hits[threshold] += c.verdict == Verdict.REGRESSED
                estimates.append(minimum_detectable_effect(a, b, alpha=alpha, paired=paired))
            p0, p5 = hits[0.0] / sims, hits[0.05] / sims
            se = math.sqrt(target * (1 - target) / sims)
            ok = p0 >= target - 2 * se
            if not ok:
                shortfalls.append((paired, n))
            print(
                f"{'paired' if paired else 'unpaired':<9}{n:>4}{mde:>8.1%}"
                f"{_pct(float(np.median(estimates))):>9}{effect - 1:>10.1%}"
                f"{p0:>13.1%}{p5:>14.1%}  {'OK' if ok else 'BELOW TARGET'}"
            )
    print(f"(binomial SE of a power near 80%: {math.sqrt(0.16 / sims):.1%})")
    if shortfalls:
        print(
            "below target at:",
            ", ".join(f"{'paired' if p else 'unpaired'} n={n}" for p, n in shortfalls),
        )
    print(f"({time.perf_counter() - start:.1f}s)")
    return 1 if shortfalls else 0


if __name__ == "__main__":
    raise SystemExit(main())
