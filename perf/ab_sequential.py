"""Sequential A/B (``daskbench ab --max-repeat``) on simulated experiments.

Every experiment is a family of comparisons (benchmark x metric) with paired rounds (see
``_abnoise`` for the noise). The sequential design looks after round ``--repeat`` and
after every round from then on, each comparison stopping when decided (or hopeless, or at
``--max-repeat``); ``daskbench.stats.sequential_compare_many`` replays exactly what
``daskbench ab`` does after each round, so simulating all rounds up front and replaying
is the same as running the loop.

1. A/A with optional stopping: nothing changed, so every regressed/improved verdict is a
   false alarm. Per comparison and per family (any alarm), the rate must stay at most
   alpha (alpha + 3 binomial SE per cell, + 2 SE pooled). Futility off peeks the most;
   threshold 0 shows the test alone. For contrast, "naive": the fixed-n t test with
   Benjamini-Hochberg re-run after every round, stopping each comparison when it is flagged.
2. Power and rounds: 60 comparisons, 3 real slowdowns among 57 unchanged. For each
   sequential design: the share of real changes decided, the mean rounds used by real and
   unchanged comparisons, and the fixed design (``compare_many`` at n rounds for every
   comparison) that matches its power, with the ratio of mean rounds per comparison (what
   the runner spends: it re-runs only the benchmarks still undecided).

    python perf/ab_sequential.py             # 2,000 experiments per A/A cell, 600 per power cell
    python perf/ab_sequential.py --quick     # 300 / 100
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import special

from _abnoise import NOISES, binomial_line, draw
from daskbench.stats import SequentialDesign, Verdict, compare_many, sequential_compare_many

ALARMS = {Verdict.REGRESSED, Verdict.IMPROVED}
FIRST, LIMIT = 5, 20


def _series(a: np.ndarray, b: np.ndarray) -> dict[int, list[tuple[int, float, float]]]:
    return {
        i: [(r, float(a[i, r]), float(b[i, r])) for r in range(a.shape[1])]
        for i in range(a.shape[0])
    }


def naive_rates(
    rng: np.random.Generator, experiments: int, m: int, alpha: float, threshold: float
) -> tuple[int, int]:
    """Fixed-n paired t + BH after every round from FIRST to LIMIT, stop when flagged.

    Returns (comparisons flagged, experiments with any flag). Vectorised; the wrong way.
    """
    a, b = draw(rng, "lognormal", 0.10, LIMIT, size=experiments * m)
    d = (np.log(b) - np.log(a)).reshape(experiments, m, LIMIT)
    bound = math.log1p(threshold)
    flagged = np.zeros((experiments, m), dtype=bool)
    for n in range(FIRST, LIMIT + 1):
        x = d[:, :, :n]
        mean = x.mean(-1)
        se = x.std(-1, ddof=1) / math.sqrt(n)
        p = 2 * special.stdtr(n - 1, -np.abs(mean / se))
        p = np.where(flagged, 0.0, p)  # flagged ones stay flagged (they stopped)
        order = np.sort(p, axis=1)
        ok = order <= np.arange(1, m + 1) * alpha / m
        k = np.where(ok.any(1), m - np.argmax(ok[:, ::-1], 1), 0)
        rejected = p <= np.where(k > 0, k * alpha / m, -1.0)[:, None]
        flagged |= rejected & (np.abs(mean) > bound)
    return int(flagged.sum()), int(flagged.any(1).sum())


def aa_section(rng: np.random.Generator, experiments: int, alpha: float) -> bool:
    print(
        f"\n1. A/A with optional stopping: rounds {FIRST}..{LIMIT}, a look after every round "
        f"({experiments} experiments per cell, CV 10%)"
    )
    failed = False
    pooled: dict[str, list[int]] = {}
    cells = [(1, k, 0.05, 0.0) for k in NOISES] + [(60, k, 0.05, 0.0) for k in NOISES]
    cells += [
        (60, "lognormal", 0.05, 0.05),
        (60, "lognormal", 0.0, 0.0),
        (1, "lognormal", 0.0, 0.0),
    ]
    for m, kind, threshold, futility in cells:
        design = SequentialDesign(FIRST, LIMIT, alpha=alpha, threshold=threshold, futility=futility)
        alarms = any_alarm = 0
        rounds = []
        for _ in range(experiments):
            a, b = draw(rng, kind, 0.10, LIMIT, size=m)
            result = sequential_compare_many(_series(a, b), design)
            count = sum(c.verdict in ALARMS for c in result.comparisons.values())
            alarms += count
            any_alarm += count > 0
            rounds.append(np.mean(list(result.rounds_used.values())))
        tag = f"m={m}, {kind}, thr {threshold:.0%}, futility {'on' if futility else 'off'}"
        for scope, hits, total in (
            ("per comparison", alarms, experiments * m),
            ("per family", any_alarm, experiments),
        ):
            if m == 1 and scope == "per family":
                continue
            line = binomial_line(f"{tag}, {scope}", hits, total, alpha, k=3, width=62)
            failed |= line.endswith("FAIL")
            print(f"{line}  [mean rounds {np.mean(rounds):.1f}]")
            group = pooled.setdefault(scope, [0, 0])
            group[0] += hits
            group[1] += total
    for scope, (hits, total) in pooled.items():
        line = binomial_line(f"pooled, {scope}", hits, total, alpha, k=2, width=62)
        failed |= line.endswith("FAIL")
        print(line)
    print("  for contrast, naive re-testing (fixed-n t + BH after every round, thr 5%):")
    for m in (1, 60):
        flagged, families = naive_rates(rng, experiments, m, alpha, 0.05)
        print(
            f"    m={m:<3} per comparison {flagged / (experiments * m):6.2%}, "
            f"per family {families / experiments:6.2%}  (alpha = {alpha:.0%})"
        )
    return failed


def fixed_power(
    rng: np.random.Generator,
    experiments: int,
    kind: str,
    cv: float,
    effect: np.ndarray,
    n: int,
    alpha: float,
    k: int,
) -> float:
    hits = 0
    m = effect.size
    for _ in range(experiments):
        a, b = draw(rng, kind, cv, n, size=m, effect=effect)
        result = compare_many({i: (a[i], b[i]) for i in range(m)}, paired=True, alpha=alpha)
        hits += sum(result[i].verdict == Verdict.REGRESSED for i in range(k))
    return hits / (experiments * k)


def power_section(rng: np.random.Generator, experiments: int, alpha: float) -> None:
    m, k = 60, 3
    print(
        f"\n2. power and rounds: {m} comparisons, {k} real slowdowns, {experiments} experiments "
        "per cell, first look at 5 rounds, futility 5%"
    )
    header = (
        f"{'scenario':<22}{'max':>5}{'power':>8}{'rounds real':>13}{'unchanged':>11}"
        f"{'all':>7}{'false/exp':>11}  {'fixed n at equal power':<28}{'rounds / fixed':>15}"
    )
    print(header)
    print("-" * len(header))
    fixed_ns = (5, 6, 8, 10, 12, 15, 20, 25, 30, 40)
    for kind, cv, slow in (
        ("lognormal", 0.10, 1.5),
        ("lognormal", 0.20, 1.5),
        ("lognormal", 0.10, 1.2),
        ("lognormal", 0.03, 1.1),
        ("outlier round", 0.10, 1.5),
    ):
        effect = np.array([slow] * k + [1.0] * (m - k))
        fixed: dict[int, float] = {}
        for limit in (10, 20, 40):
            design = SequentialDesign(FIRST, limit, alpha=alpha)
            decided = false = 0
            real_rounds, null_rounds = [], []
            for _ in range(experiments):
                a, b = draw(rng, kind, cv, limit, size=m, effect=effect)
                result = sequential_compare_many(_series(a, b), design)
                c = result.comparisons
                decided += sum(c[i].verdict == Verdict.REGRESSED for i in range(k))
                false += sum(c[i].verdict in ALARMS for i in range(k, m))
                real_rounds += [result.rounds_used[i] for i in range(k)]
                null_rounds += [result.rounds_used[i] for i in range(k, m)]
            power = decided / (experiments * k)
            mean_all = (sum(real_rounds) + sum(null_rounds)) / (experiments * m)
            match = ""
            saved = ""
            for n in fixed_ns:
                if n not in fixed:
                    fixed[n] = fixed_power(rng, experiments, kind, cv, effect, n, alpha, k)
                if fixed[n] >= power:
                    match = f"n={n} (power {fixed[n]:.1%})"
                    saved = f"{mean_all / n:.2f}x"
                    break
            else:
                match = f"none up to n={fixed_ns[-1]} ({fixed[fixed_ns[-1]]:.1%})"
            label = f"{kind} CV {cv:.0%} {slow:g}x"
            print(
                f"{label:<22}{limit:>5}{power:>8.1%}{np.mean(real_rounds):>13.1f}"
                f"{np.mean(null_rounds):>11.1f}{mean_all:>7.1f}{false / experiments:>11.3f}"
                f"  {match:<28}{saved:>15}"
            )
        curve = ", ".join(f"n={n} {p:.0%}" for n, p in sorted(fixed.items()))
        print(f"{'':<22}fixed design power: {curve}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations")
    parser.add_argument("--seed", type=int, default=20240610)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    aa, power = (300, 100) if args.quick else (2000, 600)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(f"Sequential A/B (e-process, e-BH), alpha={args.alpha}")
    failed = aa_section(rng, aa, args.alpha)
    power_section(rng, power, args.alpha)
    print(f"\n{'FAIL' if failed else 'all within alpha'} ({time.perf_counter() - start:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
