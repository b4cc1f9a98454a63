"""How often does daskbench cry wolf? A/A simulations of compare and compare_many.

Both samples come from the same log-normal distribution (CV 8%, n = 10 per side), so every
"regressed" or "improved" verdict is a false alarm. The target: the false alarm rate of one
comparison, and the chance of *any* false alarm in a 100-benchmark suite (compare_many,
Benjamini-Hochberg), are both at most alpha, within binomial error (2 standard errors).

With the default threshold of 5%, a verdict also needs the estimated change beyond 5%, which
removes many chance hits; threshold 0 shows the test itself.

    python perf/stats_false_alarms.py           # 2,000 comparisons, 200 suites of 100
    python perf/stats_false_alarms.py --quick   # 500 comparisons, 40 suites
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from daskbench.stats import Verdict, compare, compare_many
from daskbench.stats._ranks import min_pvalue

ALARMS = {Verdict.REGRESSED, Verdict.IMPROVED}


def draw_pair(
    rng: np.random.Generator, n: int, sigma: float, paired: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Two A/A samples with CV-8% noise each; paired ones also share a per-pair component
    (e.g. the machine state), which pairing cancels."""
    shared = rng.normal(0.0, sigma, n) if paired else 0.0
    a = np.exp(shared + rng.normal(0.0, sigma, n))
    b = np.exp(shared + rng.normal(0.0, sigma, n))
    return a, b


def verdict_line(label: str, hits: int, total: int, alpha: float) -> str:
    rate = hits / total
    se = math.sqrt(alpha * (1 - alpha) / total)  # binomial SE if the rate were exactly alpha
    ok = rate <= alpha + 2 * se
    return (
        f"  {label:<44} {hits:5d}/{total:<5d} = {rate:6.2%} "
        f"(SE {math.sqrt(max(rate * (1 - rate), 1e-12) / total):.2%}; "
        f"limit alpha + 2 SE = {alpha + 2 * se:.2%}) {'OK' if ok else 'FAIL'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    n, cv, alpha = 10, 0.08, args.alpha
    sigma = math.sqrt(math.log1p(cv**2))
    singles = 500 if args.quick else 2000
    suites, per_suite = (40, 100) if args.quick else (200, 100)
    rng = np.random.default_rng(args.seed)
    print(
        f"A/A false alarms: log-normal CV {cv:.0%} (sigma_log {sigma:.4f}), n={n} per side, "
        f"alpha={alpha}"
    )
    failed = False
    start = time.perf_counter()
    for paired in (False, True):
        design = "paired (Wilcoxon signed-rank)" if paired else "unpaired (Mann-Whitney)"
        print(f"\n{design}")
        pairs = [draw_pair(rng, n, sigma, paired) for _ in range(singles)]
        for threshold in (0.05, 0.0):
            hits = sum(
                compare(a, b, paired=paired, alpha=alpha, threshold=threshold).verdict in ALARMS
                for a, b in pairs
            )
            line = verdict_line(f"compare, threshold {threshold:.0%}", hits, singles, alpha)
            failed |= line.endswith("FAIL")
            print(line)
        any_alarm = {0.05: 0, 0.0: 0}
        alarms_total = {0.05: 0, 0.0: 0}
        for _ in range(suites):
            suite = {i: draw_pair(rng, n, sigma, paired) for i in range(per_suite)}
            for threshold in any_alarm:
                result = compare_many(suite, alpha=alpha, threshold=threshold, paired=paired)
                count = sum(c.verdict in ALARMS for c in result.values())
                alarms_total[threshold] += count
                any_alarm[threshold] += count > 0
        for threshold, hits in any_alarm.items():
            label = f"suites of {per_suite} with any alarm, thr {threshold:.0%}"
            line = verdict_line(label, hits, suites, alpha)
            failed |= line.endswith("FAIL")
            print(line + f"  [{alarms_total[threshold]} alarms in all]")
    floor = min_pvalue(n, n, paired=True)
    print(
        f"\nnote: with {n} pairs the smallest signed-rank p-value is {floor:.2g} > "
        f"alpha/{per_suite} = {alpha / per_suite:.2g}, so a suite of {per_suite} paired "
        "comparisons can only flag changes when several are significant at once: 0 suite "
        "alarms there is the floor, not luck (the same floor costs power in suites)."
    )
    print(f"\n{'FAIL' if failed else 'all within alpha'} ({time.perf_counter() - start:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
