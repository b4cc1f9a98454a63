"""Does compare find the changes it should? Power at the MDE, large effects in a family.

1. Power at the planned MDE. ``planned_mde(cv, n, family_size=m)`` promises 80% power for
   a lone change in a family of ``m`` (it must pass ``alpha / m``). We simulate a true
   slowdown of exactly that size (log-normal noise, see ``_abnoise``) and count
   "regressed" verdicts of ``compare`` at level ``alpha / m`` (what Benjamini-Hochberg
   asks of a lone change). Target: 80% within 2 binomial standard errors. ``mde est``
   is the median MDE a report would show (from the data). With the default threshold of
   5% a verdict also needs the *estimate* beyond 5%: where the MDE is near or below 5%
   that, not the test, bounds the power -- by design.
2. Issue 9's case: ~60 comparisons, 3 real 1.5x slowdowns among 57 unchanged ones, 8 and
   10 paired rounds, default threshold: how many real ones are decided, and how many
   unchanged ones are flagged, for the default t test and the earlier rank test.
3. Rounds needed (pure functions, as the CLI can print them before running): the fewest
   paired rounds for 80% power, by noise, effect and family size; and the fewest rounds at
   which any verdict is possible at all.

    python perf/stats_power.py           # 2,000 simulations per cell, 300 families
    python perf/stats_power.py --quick   # 400, 60
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from _abnoise import NOISES, draw
from daskbench.stats import (
    Verdict,
    compare,
    compare_many,
    min_rounds,
    minimum_detectable_effect,
    planned_mde,
    rounds_needed,
    sequential_min_rounds,
)

ALARMS = {Verdict.REGRESSED, Verdict.IMPROVED}


def _pct(x: float | None) -> str:
    return "never" if x is None or math.isinf(x) else f"{x:.1%}"


def power_at_mde(rng: np.random.Generator, sims: int, alpha: float) -> list[str]:
    target = 0.8
    se = math.sqrt(target * (1 - target) / sims)
    header = (
        f"{'design':<9}{'CV':>5}{'n':>4}{'m':>5}{'MDE':>9}{'mde est':>9}"
        f"{'power thr 0':>13}{'thr 5%':>8}  verdict (thr 0)"
    )
    print(f"\n1. power at the planned MDE ({sims} simulations per cell, target 80%)")
    print(header)
    print("-" * len(header))
    short = []
    for paired in (True, False):
        for cv in (0.03, 0.10, 0.30):
            for n in (6, 8, 10, 20):
                for m in (1, 60, 120):
                    level = alpha / m
                    mde = planned_mde(cv, n, alpha=alpha, family_size=m, paired=paired)
                    a, b = draw(rng, "lognormal", cv, n, size=sims, effect=1 + mde, paired=paired)
                    hits = {0.0: 0, 0.05: 0}
                    estimates = []
                    for x, y in zip(a, b, strict=True):
                        for threshold in hits:
                            c = compare(x, y, paired=paired, alpha=level, threshold=threshold)
                            hits[threshold] += c.verdict == Verdict.REGRESSED
                        estimates.append(
                            minimum_detectable_effect(x, y, paired=paired, family_size=m)
                        )
                    p0, p5 = hits[0.0] / sims, hits[0.05] / sims
                    ok = p0 >= target - 2 * se
                    design = "paired" if paired else "Welch"
                    if not ok:
                        short.append(f"{design} CV {cv:.0%} n={n} m={m}")
                    print(
                        f"{design:<9}{cv:>5.0%}{n:>4}{m:>5}{_pct(mde):>9}"
                        f"{_pct(float(np.median(estimates))):>9}{p0:>13.1%}{p5:>8.1%}"
                        f"  {'OK' if ok else 'BELOW TARGET'}"
                    )
    print(f"(binomial SE of a power near 80%: {se:.1%})")
    return short


def family_scenario(rng: np.random.Generator, families: int, alpha: float) -> None:
    m, k = 60, 3
    print(
        f"\n2. {m} comparisons, {k} real 1.5x slowdowns among {m - k} unchanged, paired, "
        f"threshold 5% ({families} families per cell)"
    )
    header = (
        f"{'noise':<15}{'CV':>5}{'n':>4}  {'method':<6}{'real decided':>14}"
        f"{'false/family':>14}{'families w/ false':>19}{'mean FDP':>10}"
    )
    print(header)
    print("-" * len(header))
    effect = np.array([1.5] * k + [1.0] * (m - k))
    for kind in NOISES:
        for cv in (0.03, 0.10, 0.20, 0.30) if kind == "lognormal" else (0.10,):
            for n in (8, 10):
                stats = {"t": [0, 0, 0, 0.0], "rank": [0, 0, 0, 0.0]}
                for _ in range(families):
                    a, b = draw(rng, kind, cv, n, size=m, effect=effect)
                    pairs = {i: (a[i], b[i]) for i in range(m)}
                    for method, acc in stats.items():
                        result = compare_many(pairs, paired=True, alpha=alpha, method=method)  # type: ignore[arg-type]
                        real = sum(result[i].verdict == Verdict.REGRESSED for i in range(k))
                        false = sum(result[i].verdict in ALARMS for i in range(k, m))
                        acc[0] += real
                        acc[1] += false
                        acc[2] += false > 0
                        acc[3] += false / max(real + false, 1)
                for method, (real, false, any_false, fdp) in stats.items():
                    print(
                        f"{kind:<15}{cv:>5.0%}{n:>4}  {method:<6}"
                        f"{real / (k * families):>14.1%}{false / families:>14.3f}"
                        f"{any_false / families:>19.1%}{fdp / families:>10.3f}"
                    )


def rounds_table(alpha: float) -> None:
    print("\n3. paired rounds needed for 80% power (planned; None: more than 1000)")
    effects = (0.05, 0.10, 0.50)
    header = f"{'CV':>5}" + "".join(
        f"{f'+{e:.0%} m={m}':>13}" for e in effects for m in (1, 60, 120)
    )
    print(header)
    print("-" * len(header))
    for cv in (0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 0.30):
        cells = [
            rounds_needed(e, cv, alpha=alpha, family_size=m) for e in effects for m in (1, 60, 120)
        ]
        print(f"{cv:>5.0%}" + "".join(f"{c!s:>13}" for c in cells))
    print("\nfewest rounds at which any verdict is possible, whatever the effect:")
    for m in (1, 60, 120):
        print(
            f"  family of {m:>3}: t test {min_rounds(m, alpha=alpha)}, "
            f"signed-rank {min_rounds(m, alpha=alpha, method='rank')}, "
            f"sequential (e-BH) {sequential_min_rounds(m, alpha=alpha)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations")
    parser.add_argument("--seed", type=int, default=20240602)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    sims, families = (400, 60) if args.quick else (2000, 300)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(f"Power of the default t tests, alpha={args.alpha}")
    short = power_at_mde(rng, sims, args.alpha)
    family_scenario(rng, families, args.alpha)
    rounds_table(args.alpha)
    if short:
        print("\nbelow target at:", ", ".join(short))
    print(f"({time.perf_counter() - start:.0f}s)")
    return 1 if short else 0


if __name__ == "__main__":
    raise SystemExit(main())
