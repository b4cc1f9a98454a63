"""From stored results to verdicts: every candidate label against one baseline label.

Per candidate, all its (benchmark x metric) comparisons form one family for
:func:`daskbench.stats.compare_many`, so the false discovery rate is controlled over the
hundreds of comparisons of one A/B pair. Only the metrics asked for join that *verdict
family*; breakdown metrics (``activity.*``, ``prefix.*``, ``bytes.*``) are refused there
(:func:`daskbench.metrics.check_verdict_metrics`): twenty of them per benchmark would dilute
the correction of the pinned metrics and flood the report.

Results of runs tagged with an experiment and a round (``daskbench ab`` tags them) are
paired by round; otherwise the samples are pooled and compared unpaired. Failed results
never enter the statistics but are counted.

With a :class:`~daskbench.stats.SequentialDesign` (``daskbench ab --max-repeat``) the family
is judged by :func:`daskbench.stats.sequential_compare_many` instead, which says how many
rounds each comparison used and which benchmarks still need rounds
(:attr:`ABComparison.open_tests`).

    >>> from daskbench.store import open_store
    >>> with open_store("memory://") as store:
    ...     compare_labels(store, "main", ["branch"]).rows
    ()
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from daskbench._options import DEFAULT_METRICS
from daskbench.errors import NotFoundError, StatsInputError
from daskbench.metrics import attribution_metrics, check_verdict_metrics, get_metric
from daskbench.models import Outcome, Result, Run
from daskbench.stats import (
    Comparison,
    SequentialDesign,
    Verdict,
    compare_many,
    sequential_compare_many,
)
from daskbench.store import Store

from ._attribution import ATTRIBUTED, Attribution, attribute
from ._verdicts import NOT_COMPARED, VERDICT_ORDER, NotCompared, RowVerdict

__all__ = [
    "DEFAULT_METRICS",
    "NOT_COMPARED",
    "VERDICT_ORDER",
    "ABComparison",
    "ArmSamples",
    "NotCompared",
    "Row",
    "RowVerdict",
    "arm_values",
    "compare_labels",
    "load_arm",
]


RoundKey = tuple[str, int]
#: The metric whose verdicts are attributed to the breakdown.
ATTRIBUTED_METRIC = "wall_time"


@dataclass(frozen=True)
class ArmSamples:
    """The results of one label: passed results per test (keyed by round when tagged)."""

    label: str
    runs: tuple[Run, ...]
    passed: dict[str, list[tuple[RoundKey | None, Result]]]
    failed: dict[str, int]

    @property
    def tests(self) -> list[str]:
        return sorted(self.passed.keys() | self.failed.keys())

    @property
    def rounds(self) -> int:
        keys = {key for items in self.passed.values() for key, _ in items if key is not None}
        return len(keys) or max((len(v) for v in self.passed.values()), default=0)


def _round_key(run: Run) -> RoundKey | None:
    extra = run.environment.extra
    experiment, rnd = extra.get("experiment"), extra.get("round")
    if isinstance(experiment, str) and isinstance(rnd, int) and not isinstance(rnd, bool):
        return (experiment, rnd)
    return None


def load_arm(
    store: Store,
    label: str,
    *,
    experiment: str | None = None,
    tests: Iterable[str] | None = None,
) -> ArmSamples:
    """Results of ``label`` (only of ``experiment`` when given). NotFoundError if none."""
    runs = [
        r
        for r in store.runs(label=label)
        if experiment is None or r.environment.extra.get("experiment") == experiment
    ]
    if not runs:
        where = f" in experiment {experiment}" if experiment else ""
        known = ", ".join(store.labels()) or "none"
        raise NotFoundError(f"no runs with label {label!r}{where} (labels: {known})")
    by_id = {r.id: r for r in runs}
    wanted = set(tests) if tests is not None else None
    passed: dict[str, list[tuple[RoundKey | None, Result]]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for result in store.results(label=label):
        run = by_id.get(result.run_id)
        if run is None or (wanted is not None and result.test not in wanted):
            continue
        if result.outcome is Outcome.PASSED:
            passed[result.test].append((_round_key(run), result))
        elif result.outcome is not Outcome.SKIPPED:
            failed[result.test] += 1
    return ArmSamples(label, tuple(runs), dict(passed), dict(failed))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Row:
    """One benchmark x metric of one candidate against the baseline."""

    candidate: str
    test: str
    metric: str
    comparison: Comparison | None
    a: tuple[float, ...]
    b: tuple[float, ...]
    failed_a: int = 0
    failed_b: int = 0
    note: str = ""
    confirmed: bool = False
    verdict_before_confirm: RowVerdict | None = None
    rounds_used: int | None = None  # rounds of the experiment this comparison used (paired)
    # A regressed/improved wall_time: the breakdown components that explain it (own family).
    attribution: tuple[Attribution, ...] = ()

    @property
    def verdict(self) -> RowVerdict:
        return self.comparison.verdict if self.comparison is not None else NOT_COMPARED

    @property
    def unit(self) -> str:
        return get_metric(self.metric).unit

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "candidate": self.candidate,
            "test": self.test,
            "metric": self.metric,
            "unit": self.unit,
            "verdict": self.verdict,
            "median_a": c.median_a if c else None,
            "median_b": c.median_b if c else None,
            "ratio": c.ratio if c else None,
            "ci_low": c.ci_low if c else None,
            "ci_high": _finite(c.ci_high) if c else None,
            "ci_level": c.ci_level if c else None,
            "pvalue": c.pvalue if c else None,
            "qvalue": c.qvalue if c else None,
            "mde": _finite(c.mde) if c else None,
            "n_a": len(self.a),
            "n_b": len(self.b),
            "failed_a": self.failed_a,
            "failed_b": self.failed_b,
            "paired": c.paired if c else None,
            "test_method": c.method if c else None,
            "noise_cv": c.noise_cv if c else None,
            "noisy": c.noisy if c else None,
            "rounds_used": self.rounds_used,
            "stop": (c.stop or None) if c else None,
            "note": (c.note if c and c.note else self.note),
            "confirmed": self.confirmed,
            "verdict_before_confirm": self.verdict_before_confirm,
            "a": list(self.a),
            "b": list(self.b),
            "attribution": [part.to_dict() for part in self.attribution],
        }


@dataclass(frozen=True)
class ABComparison:
    """All rows of one experiment (or of labels compared after the fact)."""

    baseline: str
    candidates: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]
    paired: bool
    rounds: int
    alpha: float
    threshold: float
    arms: dict[str, ArmSamples] = field(default_factory=dict)
    sequential: SequentialDesign | None = None
    open_tests: tuple[str, ...] = ()  # benchmarks a sequential design still wants rounds of

    def rows_of(self, candidate: str) -> list[Row]:
        return [r for r in self.rows if r.candidate == candidate]

    def counts(self, candidate: str) -> dict[RowVerdict, int]:
        out = dict.fromkeys(VERDICT_ORDER, 0)
        for row in self.rows_of(candidate):
            out[row.verdict] += 1
        return out

    def flagged_tests(self, verdicts: Sequence[RowVerdict]) -> list[str]:
        return sorted({r.test for r in self.rows if r.verdict in verdicts})

    @property
    def regressed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict is Verdict.REGRESSED]

    @property
    def method(self) -> str:
        """How the verdicts were reached, in words (for reports)."""
        methods = sorted({r.comparison.method for r in self.rows if r.comparison is not None})
        names = {
            "paired-t": "t tests on the per-round log ratios",
            "welch-t": "Welch t tests on log values",
            "wilcoxon": "Wilcoxon signed-rank tests",
            "mann-whitney": "Mann-Whitney tests",
            "sequential-t": "sequential t e-values (anytime-valid)",
        }
        tests = ", ".join(names.get(m, m) for m in methods) or "no tests"
        if self.sequential is not None:
            design = self.sequential
            return (
                f"{tests}, e-BH over the family (FDR {self.alpha:.0%} per candidate); "
                f"rounds {design.first} to {design.max_rounds}, each comparison stopping "
                "when decided"
            )
        return f"{tests} with Benjamini-Hochberg q-values (FDR {self.alpha:.0%} per candidate)"


def _is_paired(arms: Sequence[ArmSamples]) -> bool:
    """Pair by round only if every passed result is tagged, and the results of one test and
    round all come from one run (its executions, with ``--min-time``)."""
    for arm in arms:
        for items in arm.passed.values():
            runs: dict[RoundKey, str] = {}
            for key, result in items:
                if key is None or runs.setdefault(key, result.run_id) != result.run_id:
                    return False
    return True


def _one_value(values: Sequence[float]) -> float:
    """The value of one round (or repeat) with several executions: their geometric mean.

    Every comparison works on logs, and executions of one round share its conditions: they
    are not independent samples, so they count once, averaged.
    """
    if len(values) == 1 or min(values) <= 0:
        return values[0] if len(values) == 1 else min(values)  # <= 0: refused later
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


# The values of A and B of one benchmark x metric, and (paired) the round of each pair.
Keyed = tuple[tuple[float, ...], tuple[float, ...], tuple[RoundKey, ...]]


def arm_values(arm: ArmSamples, test: str, metric: str, paired: bool) -> dict[Any, float]:
    """One value per round (paired) or per repeat of a run (unpaired) of ``test``/``metric``.

    Several executions of one round or repeat count once (:func:`_one_value`).
    """
    groups: dict[Any, list[float]] = {}
    for key, result in arm.passed.get(test, []):
        v = result.value(metric)
        if v is not None:
            # Unpaired: each repeat of a run is a sample; its executions count once.
            groups.setdefault(key if paired else (result.run_id, result.repeat), []).append(v)
    return {k: _one_value(vs) for k, vs in groups.items()}


def _samples(
    a: ArmSamples,
    b: ArmSamples,
    test: str,
    metric: str,
    paired: bool,
    rounds: Sequence[RoundKey] | None = None,
) -> Keyed:
    """The values of ``test``/``metric`` in both arms (paired: by round, with the rounds;
    only those of ``rounds`` when given)."""
    va, vb = arm_values(a, test, metric, paired), arm_values(b, test, metric, paired)
    if paired:
        common = sorted(va.keys() & vb.keys() & set(rounds if rounds is not None else va))
        return tuple(va[k] for k in common), tuple(vb[k] for k in common), tuple(common)
    return tuple(va.values()), tuple(vb.values()), ()


def _rounds_run(arms: Sequence[ArmSamples]) -> int:
    """Rounds of the experiment so far: one past the highest round tagged."""
    rounds = [k[1] for arm in arms for items in arm.passed.values() for k, _ in items if k]
    return max(rounds, default=-1) + 1


def _sequential(
    pairs: dict[tuple[str, str], Keyed],
    design: SequentialDesign,
    rounds_run: int,
) -> tuple[dict[tuple[str, str], Comparison], dict[tuple[str, str], int], set[str]]:
    """Sequential verdicts of one family, the rounds each used, the tests still open."""
    experiments = {k[0] for _, _, keys in pairs.values() for k in keys}
    if len(experiments) > 1:
        raise StatsInputError(
            f"a sequential analysis needs the rounds of one experiment, got {len(experiments)}"
        )
    series = {
        key: [(k[1], x, y) for k, x, y in zip(keys, a, b, strict=True)]
        for key, (a, b, keys) in pairs.items()
    }
    result = sequential_compare_many(
        series,
        design,
        lower_is_better={k: get_metric(k[1]).lower_is_better for k in series},
        rounds_run=rounds_run,
    )
    return result.comparisons, result.rounds_used, {test for test, _ in result.open}


def compare_arms(
    baseline: ArmSamples,
    candidates: Sequence[ArmSamples],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    alpha: float = 0.05,
    threshold: float = 0.05,
    paired: bool | None = None,
    sequential: SequentialDesign | None = None,
    rounds_run: int | None = None,
) -> ABComparison:
    """Compare every candidate with the baseline; one FDR family per candidate.

    With ``sequential`` (which needs results paired by round, of one experiment) every
    family is judged by the sequential design after ``rounds_run`` rounds (default: as many
    as the results show), at the design's alpha and threshold; ``open_tests`` then lists
    the benchmarks that want another round.
    """
    metrics = check_verdict_metrics(metrics)
    if paired is None:
        paired = _is_paired([baseline, *candidates])
    if sequential is not None and not paired:
        raise StatsInputError(
            "a sequential analysis needs results paired by round (one per benchmark and round)"
        )
    if sequential is not None and rounds_run is None:
        rounds_run = _rounds_run([baseline, *candidates])
    rows: list[Row] = []
    open_tests: set[str] = set()
    for cand in candidates:
        tests = sorted(set(baseline.tests) | set(cand.tests))
        pairs: dict[tuple[str, str], Keyed] = {}
        pending: list[Row] = []
        for test in tests:
            for metric in metrics:
                a, b, keys = _samples(baseline, cand, test, metric, paired)
                note = ""
                if not a or not b:
                    missing = [
                        arm.label
                        for arm in (baseline, cand)
                        if not any(r.value(metric) is not None for _, r in arm.passed.get(test, []))
                    ]
                    note = (
                        f"no passed results with {metric} from {' and '.join(missing)}"
                        if missing
                        else "no round in which both passed"
                    )
                elif min(a + b) <= 0:
                    note = f"{metric} has values <= 0; ratios are undefined"
                else:
                    pairs[(test, metric)] = (a, b, keys)
                fa, fb = baseline.failed.get(test, 0), cand.failed.get(test, 0)
                pending.append(Row(cand.label, test, metric, None, a, b, fa, fb, note))
        used: dict[tuple[str, str], int] = {}
        try:
            if sequential is not None:
                results, used, still = _sequential(pairs, sequential, rounds_run or 0)
                open_tests |= still
            else:
                results = compare_many(
                    {k: (v[0], v[1]) for k, v in pairs.items()},
                    alpha=alpha,
                    threshold=threshold,
                    paired=paired,
                    lower_is_better={k: get_metric(k[1]).lower_is_better for k in pairs},
                )
        except StatsInputError as exc:
            raise StatsInputError(f"{cand.label} vs {baseline.label}: {exc}") from exc
        for row in pending:
            key = (row.test, row.metric)
            comparison = results.get(key)
            if comparison is not None:
                n = comparison.n_a if sequential is not None else len(row.a)
                row = Row(
                    row.candidate,
                    row.test,
                    row.metric,
                    comparison,
                    row.a[:n],  # a sequential comparison shows the pairs it used
                    row.b[:n],
                    row.failed_a,
                    row.failed_b,
                    rounds_used=used.get(key, n) if paired else None,
                )
                if row.metric == ATTRIBUTED_METRIC and row.verdict in ATTRIBUTED:
                    rounds = pairs[key][2][:n] if paired else None
                    parts = _attribution(baseline, cand, row.test, paired, rounds, comparison)
                    row = replace(row, attribution=parts)
            rows.append(row)
    rows = [r for r in rows if not _metric_absent(r, baseline, candidates)]
    return ABComparison(
        baseline=baseline.label,
        candidates=tuple(c.label for c in candidates),
        metrics=tuple(metrics),
        rows=tuple(rows),
        paired=paired,
        rounds=max([baseline.rounds, *(c.rounds for c in candidates)]),
        alpha=alpha if sequential is None else sequential.alpha,
        threshold=threshold if sequential is None else sequential.threshold,
        arms={a.label: a for a in (baseline, *candidates)},
        sequential=sequential,
        open_tests=tuple(sorted(open_tests)),
    )


def _attribution(
    a: ArmSamples,
    b: ArmSamples,
    test: str,
    paired: bool,
    rounds: Sequence[RoundKey] | None,
    verdict: Comparison,
) -> tuple[Attribution, ...]:
    """The breakdown components of ``test`` that explain its wall-time verdict, compared on
    the rounds (paired) or samples the verdict used, in a family of their own."""
    names = {
        name for arm in (a, b) for _, result in arm.passed.get(test, []) for name in result.metrics
    }
    samples: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for metric in attribution_metrics(names):
        xs, ys, _ = _samples(a, b, test, metric, paired, rounds)
        if paired and not (xs and ys):
            # Recorded in one arm only: its values, without pairs (no comparison).
            xs, ys, _ = _samples(a, b, test, metric, False)
            if xs and ys:
                continue  # in both arms, never in the same round: nothing to pair
        samples[metric] = (xs, ys)
    return attribute(samples, paired=paired, alpha=verdict.alpha, threshold=verdict.threshold)


def _metric_absent(row: Row, baseline: ArmSamples, candidates: Sequence[ArmSamples]) -> bool:
    """A metric that no passed result of any arm recorded for this test is not a row."""
    if row.comparison is not None or row.a or row.b:
        return False
    for arm in (baseline, *candidates):
        for _, result in arm.passed.get(row.test, []):
            if result.value(row.metric) is not None:
                return False
    # Keep tests that only failed: the report must show them.
    return any(arm.passed.get(row.test) for arm in (baseline, *candidates))


def compare_labels(
    store: Store,
    baseline: str,
    candidates: Sequence[str],
    *,
    experiment: str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    alpha: float = 0.05,
    threshold: float = 0.05,
    paired: bool | None = None,
    tests: Iterable[str] | None = None,
    sequential: SequentialDesign | None = None,
    rounds_run: int | None = None,
) -> ABComparison:
    """Load the labels from ``store`` and compare (see :func:`compare_arms`).

    With no runs at all in the store this is an empty comparison; a missing label among
    others is a NotFoundError naming it.
    """
    if not store.labels():
        return ABComparison(
            baseline, tuple(candidates), tuple(metrics), (), False, 0, alpha, threshold
        )
    wanted = list(tests) if tests is not None else None
    base = load_arm(store, baseline, experiment=experiment, tests=wanted)
    cands = [load_arm(store, c, experiment=experiment, tests=wanted) for c in candidates]
    return compare_arms(
        base,
        cands,
        metrics=metrics,
        alpha=alpha,
        threshold=threshold,
        paired=paired,
        sequential=sequential,
        rounds_run=rounds_run,
    )
