"""How often does daskbench cry wolf? A/A simulations of compare and compare_many.

Both sides come from the same distribution, so every "regressed" or "improved" verdict is
a false alarm. Targets: the false alarm rate of one comparison, and the chance of *any*
false alarm in a family of 60 or 120 comparisons (compare_many, Benjamini-Hochberg), are
at most alpha within binomial error: alpha + 3 standard errors per cell (with dozens of
cells some pass alpha + 2 SE by chance alone) and alpha + 2 SE for the rate pooled over a
group of cells. Threshold 0 shows the test alone; the default threshold of 5% also needs
the estimate beyond 5%, which removes most chance hits, so the cells below use threshold 0
unless said otherwise.

Cases: the default t tests, paired (Student on the log ratios, as ``daskbench ab``) and
unpaired (Welch, as ``daskbench compare`` of untagged labels); noise log-normal with CV 3%,
10% and 30%, heavy-tailed (t3) and log-normal with one outlier round (see ``_abnoise``);
n = 6, 8, 10 and 20 rounds (values per side). The t tests are scale-free, so under
log-normal noise the CV does not change their error rates; it is varied anyway.

Last, the tail check behind the choice of test: the share of normal samples whose
two-sided p-value falls below 0.001 (the level a lone change needs in a family of 50) for
Student's t (exact) and for Yuen's 20%-trimmed t, the robust alternative, whose t
reference is too light in the far tails at these sizes.

    python perf/stats_false_alarms.py           # 2,000 comparisons per cell, 200 families
    python perf/stats_false_alarms.py --quick   # 400 comparisons, 40 families
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import special

from _abnoise import NOISES, binomial_line, draw
from daskbench.stats import Verdict, compare, compare_many

ALARMS = {Verdict.REGRESSED, Verdict.IMPROVED}
SIZES = (6, 8, 10, 20)


def pooled(groups: dict[str, list[int]], alpha: float) -> bool:
    failed = False
    for label, (hits, total) in groups.items():
        line = binomial_line(f"pooled: {label}", hits, total, alpha, k=2)
        failed |= line.endswith("FAIL")
        print(line)
    return failed


def single_cells(rng: np.random.Generator, sims: int, alpha: float) -> bool:
    print(f"\nper comparison (compare, threshold 0; {sims} A/A comparisons per cell)")
    failed = False
    groups: dict[str, list[int]] = {}
    for paired in (True, False):
        design = "paired t" if paired else "Welch t"
        for kind, cv in [("lognormal", 0.03), ("lognormal", 0.10), ("lognormal", 0.30)] + [
            (k, 0.10) for k in NOISES[1:]
        ]:
            for n in SIZES:
                a, b = draw(rng, kind, cv, n, size=sims, paired=paired)
                hits = sum(
                    compare(x, y, paired=paired, alpha=alpha, threshold=0.0).verdict in ALARMS
                    for x, y in zip(a, b, strict=True)
                )
                label = f"{design}, {kind} CV {cv:.0%}, n={n}"
                line = binomial_line(label, hits, sims, alpha, k=3)
                failed |= line.endswith("FAIL")
                print(line)
                group = groups.setdefault(f"{design}, {kind}", [0, 0])
                group[0] += hits
                group[1] += sims
    return pooled(groups, alpha) or failed


def family_cells(rng: np.random.Generator, families: int, alpha: float) -> bool:
    print(f"\nper family (compare_many; {families} A/A families per cell): any alarm at all")
    failed = False
    groups: dict[str, list[int]] = {}
    cells: list[tuple[bool, str, float, int, int, float]] = []
    for m in (60, 120):
        for kind in NOISES:
            for n in SIZES:
                cells.append((True, kind, 0.10, n, m, 0.0))
        cells.append((True, "lognormal", 0.10, 10, m, 0.05))
        cells.append((False, "lognormal", 0.10, 10, m, 0.0))
    for paired, kind, cv, n, m, threshold in cells:
        any_alarm = total = 0
        for _ in range(families):
            a, b = draw(rng, kind, cv, n, size=m, paired=paired)
            result = compare_many(
                {i: (a[i], b[i]) for i in range(m)},
                alpha=alpha,
                threshold=threshold,
                paired=paired,
            )
            count = sum(c.verdict in ALARMS for c in result.values())
            total += count
            any_alarm += count > 0
        design = "paired t" if paired else "Welch t"
        label = f"m={m}, {design}, {kind}, n={n}, thr {threshold:.0%}"
        line = binomial_line(label, any_alarm, families, alpha, k=3)
        failed |= line.endswith("FAIL")
        print(f"{line}  [{total} alarms]")
        group = groups.setdefault(f"families of {m}", [0, 0])
        group[0] += any_alarm
        group[1] += families
    return pooled(groups, alpha) or failed


def yuen_tails(rng: np.random.Generator, sims: int) -> None:
    """Two-sided p < 0.001 under normal data: Student's t vs Yuen's 20%-trimmed t."""
    print(f"\ntail check (one-sample, normal data, {sims:,} samples): share with p < 0.001")
    print(f"  {'n':>4} {'Student t':>12} {'Yuen 20%':>12}   (nominal 0.100%)")
    for n in SIZES:
        d = np.sort(rng.normal(size=(sims, n)), axis=1)
        t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
        p_t = 2 * special.stdtr(n - 1, -np.abs(t))
        g = int(0.2 * n)
        h = n - 2 * g
        trimmed = d[:, g : n - g].mean(1)
        winsor = np.clip(d, d[:, [g]], d[:, [n - 1 - g]])
        se = np.sqrt((n - 1) * winsor.var(1, ddof=1) / (h * (h - 1)))
        p_y = 2 * special.stdtr(h - 1, -np.abs(trimmed / se))
        print(f"  {n:>4} {np.mean(p_t < 0.001):>12.3%} {np.mean(p_y < 0.001):>12.3%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    sims, families = (400, 40) if args.quick else (2000, 200)
    rng = np.random.default_rng(args.seed)
    print(f"A/A false alarms of the default t tests, alpha={args.alpha}")
    start = time.perf_counter()
    failed = single_cells(rng, sims, args.alpha)
    failed |= family_cells(rng, families, args.alpha)
    yuen_tails(rng, 200_000 if args.quick else 1_000_000)
    print(f"\n{'FAIL' if failed else 'all within alpha'} ({time.perf_counter() - start:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
