"""How many executions per round does a benchmark need? Its A/A noise with the first k of them.

Reads an A/A of ``daskbench ab`` whose rounds measured a benchmark several times, and
prints the benchmark's run-to-run noise and MDE as if every round had kept only its first
1, 2, ... executions (the round's value is then their geometric mean, as ``compare`` and
``noise`` take it). Where the noise falls like ``1/sqrt(k)`` the executions vary among
themselves and more of them per round help (a ``min_executions(k)`` marker, or
``--min-time``); where it stays put the noise is the round's (its cluster, its process) and
only more rounds help.

    daskbench ab base.yaml --null --repeat 10 --min-time 10 -k test_stealing_lognormal_durations \\
        --db sqlite:///steal.db
    python perf/executions_noise.py --db sqlite:///steal.db --label base --label base-null \\
        --test test_stealing_lognormal_durations --family-size 40
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from daskbench.ab._compare import ArmSamples, RoundKey, _one_value, load_arm
from daskbench.stats import planned_mde
from daskbench.stats._noise import paired_noise_cv
from daskbench.store import open_store


def executions_by_round(arm: ArmSamples, test: str, metric: str) -> dict[RoundKey, list[float]]:
    """The values of ``test``/``metric`` per round, in the order they were executed."""
    rounds: dict[RoundKey, list[tuple[int, float]]] = defaultdict(list)
    for key, result in arm.passed.get(test, []):
        value = result.value(metric)
        if key is not None and value is not None and value > 0:
            rounds[key].append((result.execution, value))
    return {key: [v for _, v in sorted(values)] for key, values in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database of the A/A")
    parser.add_argument("--label", action="append", required=True, help="the two labels")
    parser.add_argument("--test", required=True, help="benchmark id")
    parser.add_argument("--metric", default="wall_time")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the planned A/B")
    parser.add_argument("--family-size", type=int, default=1)
    args = parser.parse_args()
    if len(args.label) != 2:
        parser.error("--label: give the two labels of the A/A")
    with open_store(args.db) as store:
        a, b = (
            executions_by_round(load_arm(store, label), args.test, args.metric)
            for label in args.label
        )
    common = sorted(a.keys() & b.keys())
    if len(common) < 3:
        parser.error(f"{args.test}: {len(common)} paired rounds with a {args.metric}; need 3")
    most = min(min(len(a[k]), len(b[k])) for k in common)
    print(
        f"{args.test}, {args.metric}: {len(common)} paired rounds, {most} or more executions "
        f"in each; MDE at {args.rounds} rounds in a family of {args.family_size}"
    )
    print(f"{'first k':>8} {'noise (CV)':>11} {'MDE':>7}")
    for k in range(1, most + 1):
        va = [_one_value(a[key][:k]) for key in common]
        vb = [_one_value(b[key][:k]) for key in common]
        cv = paired_noise_cv(va, vb)
        mde = planned_mde(cv, args.rounds, family_size=args.family_size)
        print(f"{k:>8} {cv:>11.1%} {mde:>7.1%}")


if __name__ == "__main__":
    main()
