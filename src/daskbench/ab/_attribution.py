"""Where a wall-time change of an A/B comparison went: its breakdown, compared the same way.

For a ``regressed`` or ``improved`` wall-time verdict, every component of that benchmark's
breakdown in seconds (``activity.*``, ``scheduler_cpu``, ``prefix.*``) is compared with the
same statistics as the verdict (paired by round, or unpaired, as the row is), all of them in
one family of their own: :func:`daskbench.stats.compare_many` controls the false discovery
rate of this *attribution family*, apart from the verdict family of the pinned metrics. The
report keeps the few components whose absolute change explains most of the movement
(:func:`daskbench.stats.explaining`), each with its own ratio, interval, q-value and verdict.

A component with a value of 0 (no spilling in one arm) has no ratio: it is kept with its
difference in seconds and a note, never given a verdict. So is a task prefix recorded in one
arm only (below the 95% cut of the other, or not run there).

    >>> a = [1.0, 1.1, 0.9, 1.0, 1.05]
    >>> parts = attribute(
    ...     {"prefix.slow_step": (a, [v + 2.0 for v in a]), "activity.idle": (a, a)},
    ...     paired=True,
    ... )
    >>> [(p.metric, round(p.delta, 3), p.verdict) for p in parts]
    [('prefix.slow_step', 2.0, 'regressed')]
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daskbench.stats import Comparison, Verdict, compare_many, explaining

from ._verdicts import NOT_COMPARED, RowVerdict

__all__ = ["ATTRIBUTED", "Attribution", "attribute"]

#: Components shown per verdict, at most; and the share of the movement they should cover.
MAX_COMPONENTS = 5
SHARE = 0.8

Samples = tuple[Sequence[float], Sequence[float]]
#: The wall-time verdicts that get an attribution.
ATTRIBUTED: tuple[RowVerdict, ...] = (Verdict.REGRESSED, Verdict.IMPROVED)


@dataclass(frozen=True)
class Attribution:
    """One breakdown component of a wall-time verdict: B - A in seconds, and its comparison.

    ``delta``: the median of the per-round differences (paired), or the difference of the
    medians (unpaired). ``comparison`` is None when the component has no ratio (``note``).
    """

    metric: str
    delta: float
    median_a: float | None
    median_b: float | None
    comparison: Comparison | None = None
    note: str = ""

    @property
    def verdict(self) -> RowVerdict:
        return self.comparison.verdict if self.comparison is not None else NOT_COMPARED

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "metric": self.metric,
            "ratio": c.ratio if c else None,
            "ci_low": c.ci_low if c else None,
            "ci_high": (c.ci_high if math.isfinite(c.ci_high) else None) if c else None,
            "delta_seconds": self.delta,
            "qvalue": c.qvalue if c else None,
            "verdict": self.verdict,
        }


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def attribute(
    samples: Mapping[str, Samples],
    *,
    paired: bool,
    alpha: float = 0.05,
    threshold: float = 0.05,
    share: float = SHARE,
    limit: int = MAX_COMPONENTS,
) -> tuple[Attribution, ...]:
    """The components (metric -> (A values, B values), paired values aligned by round) that
    explain most of the change, largest ``|delta|`` first.

    The whole mapping is the FDR family; only the explaining components are returned.
    """
    parts: dict[str, Attribution] = {}
    family: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
    for metric, (a, b) in samples.items():
        if not a and not b:
            continue
        med_a, med_b = _median(a), _median(b)
        if not a or not b:
            delta = (med_b or 0.0) - (med_a or 0.0)
            missing = "A" if not a else "B"
            note = f"not recorded in {missing} (below the cut of task prefixes, or not run)"
            parts[metric] = Attribution(metric, delta, med_a, med_b, note=note)
            continue
        if paired:
            delta = statistics.median(y - x for x, y in zip(a, b, strict=True))
        else:
            delta = statistics.median(b) - statistics.median(a)
        parts[metric] = Attribution(metric, delta, med_a, med_b)
        if min(*a, *b) > 0:
            family[metric] = (a, b)
        else:
            parts[metric] = Attribution(metric, delta, med_a, med_b, note="values of 0: no ratio")
    results = compare_many(family, alpha=alpha, threshold=threshold, paired=paired)
    chosen = explaining({m: p.delta for m, p in parts.items()}, share=share, limit=limit)
    return tuple(
        Attribution(m, parts[m].delta, parts[m].median_a, parts[m].median_b, results.get(m))
        if m in results
        else parts[m]
        for m in chosen
    )
