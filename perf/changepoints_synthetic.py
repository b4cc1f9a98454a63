"""Precision and recall of ``detect_change_points`` on synthetic benchmark histories.

Each history has 0-4 steps of 3-30% (either direction) separated by at least 25 values, in
multiplicative noise with a coefficient of variation of 2-10%. Mixed in, as in real CI data:

* spikes: each value has a 1% chance of being multiplied by 1.5-3 (a noisy neighbour);
* bimodal noise in a third of the histories: each value has a 30% chance of coming from a
  second mode 3-6 noise standard deviations higher (e.g. a cache that is sometimes cold);
* skewed noise in another third (log-normal instead of normal).

A detection matches a true step when it is within 2 values of it (one-to-one, closest first).
"Steps of at least 3 sd" are those with ``|step| >= 3 * sd`` where sd is the standard deviation
of the whole noise distribution (for bimodal noise, of the mixture, about 2.3x the cv). For that
subset, precision ignores detections that are attempts at a smaller step: matched to one, or
unmatched with a smaller step as the nearest true step within 10 values.

    python perf/changepoints_synthetic.py [--histories 400] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from daskbench.stats import detect_change_points

TOLERANCE = 2


@dataclass
class History:
    values: np.ndarray
    steps: list[int]
    sizes: list[float]  # |relative step| / sd of the noise: the step in noise standard deviations
    kind: str


def make_history(rng: np.random.Generator) -> History:
    n = int(rng.integers(150, 401))
    n_steps = int(rng.integers(0, 5))
    cv = float(rng.uniform(0.02, 0.10))
    steps: list[int] = []
    for _ in range(200):  # rejection sampling of step positions, >= 25 apart and from the ends
        steps = sorted(rng.integers(25, n - 24, size=n_steps).tolist())
        gaps = np.diff([0, *steps, n])
        if (gaps >= 25).all():
            break
    else:
        steps = []
    rels = [float(rng.uniform(0.03, 0.30)) * float(rng.choice([-1.0, 1.0])) for _ in steps]
    level = np.ones(n)
    for s, rel in zip(steps, rels, strict=True):
        level[s:] *= 1.0 + rel
    kind = str(rng.choice(["normal", "bimodal", "lognormal"]))
    sd = cv
    if kind == "lognormal":
        noise = rng.lognormal(0.0, cv, n) / np.exp(cv * cv / 2)
    else:
        noise = 1.0 + rng.normal(0.0, cv, n)
        if kind == "bimodal":
            second = rng.random(n) < 0.3
            offset = cv * float(rng.uniform(3.0, 6.0))
            noise[second] += offset
            sd = float(np.sqrt(cv * cv + 0.3 * 0.7 * offset * offset))  # mixture sd
    sizes = [abs(rel) / sd for rel in rels]
    values = 10.0 * level * noise
    spikes = rng.random(n) < 0.01
    values[spikes] *= rng.uniform(1.5, 3.0, spikes.sum())
    return History(values, steps, sizes, kind)


def match(truth: list[int], found: list[int], tol: int) -> dict[int, int]:
    """One-to-one matching of found -> truth index, closest pairs first."""
    pairs = sorted(
        (abs(t - f), i, j)
        for i, t in enumerate(truth)
        for j, f in enumerate(found)
        if abs(t - f) <= tol
    )
    used_t: set[int] = set()
    out: dict[int, int] = {}
    for _, i, j in pairs:
        if i not in used_t and j not in out:
            used_t.add(i)
            out[j] = i
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--min-size", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    histories = [make_history(rng) for _ in range(args.histories)]

    tp = fp = n_true = 0
    big_true = big_tp = big_det = 0
    null_histories = null_false = 0
    per_kind: dict[str, list[int]] = {}
    elapsed = 0.0
    for h in histories:
        t0 = time.perf_counter()
        cps = detect_change_points(h.values, alpha=args.alpha, min_size=args.min_size)
        elapsed += time.perf_counter() - t0
        found = [cp.index for cp in cps]
        m = match(h.steps, found, TOLERANCE)
        tp += len(m)
        fp += len(found) - len(m)
        n_true += len(h.steps)
        big = {i for i, s in enumerate(h.sizes) if s >= 3.0}
        big_true += len(big)
        big_tp += sum(1 for i in m.values() if i in big)
        # Detections that aim at a small true step are neither right nor wrong here.
        for j, f in enumerate(found):
            if j in m:
                big_det += m[j] in big
                continue
            dist = [abs(f - s) for s in h.steps]
            nearest = int(np.argmin(dist)) if dist else -1
            big_det += nearest < 0 or nearest in big or dist[nearest] > 10
        k = per_kind.setdefault(h.kind, [0, 0, 0])
        k[0] += len(m)
        k[1] += len(found) - len(m)
        k[2] += len(h.steps)
        if not h.steps:
            null_histories += 1
            null_false += len(found)

    def ratio(a: int, b: int) -> str:
        return f"{a / b:.3f}" if b else "n/a"

    points = sum(h.values.size for h in histories)
    print(
        f"histories: {len(histories)} ({points} values), true steps: {n_true}, "
        f"tolerance: +-{TOLERANCE} values, alpha={args.alpha}, min_size={args.min_size}"
    )
    print(
        f"all steps (3-30%):   precision {ratio(tp, tp + fp)}  recall {ratio(tp, n_true)}  "
        f"(TP {tp}, FP {fp}, FN {n_true - tp})"
    )
    print(
        f"steps >= 3 sd:       precision {ratio(big_tp, big_det)}  recall {ratio(big_tp, big_true)}"
        f"  ({big_true} steps)"
    )
    for kind, (ktp, kfp, ktrue) in sorted(per_kind.items()):
        print(f"  {kind:9s} noise:   precision {ratio(ktp, ktp + kfp)}  recall {ratio(ktp, ktrue)}")
    print(f"histories without a step: {null_histories}, false change points in them: {null_false}")
    print(f"detect_change_points: {elapsed * 1e3 / len(histories):.2f} ms per history")


if __name__ == "__main__":
    main()
