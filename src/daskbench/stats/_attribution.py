"""Which parts of a breakdown explain a change: the largest absolute changes first.

A wall-time change is attributed to the components of its breakdown (activities, task
prefixes; seconds) whose own change is largest in absolute terms. Components are taken in
order of ``|delta|`` until they account for ``share`` of the summed ``|delta|`` of all
components, and at most ``limit`` of them: the few lines a reader needs, not the whole
breakdown. The components overlap (a task prefix's time is also some activity's time), so
their deltas are not meant to add up to the wall-time change; the share is of the total
movement of the breakdown.

    >>> explaining({"compute": 2.0, "slow_step": 1.9, "idle": -0.3, "other": 0.01})
    ['compute', 'slow_step']
    >>> explaining({"a": 0.0})
    []
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

from daskbench.errors import StatsInputError

__all__ = ["explaining"]

K = TypeVar("K")


def explaining(deltas: Mapping[K, float], *, share: float = 0.8, limit: int = 5) -> list[K]:
    """The keys of the largest ``|delta|``, until they cover ``share`` of the total or
    ``limit`` keys; zero deltas never explain anything. Ties keep the mapping's order.

    >>> explaining({"a": 1.0, "b": -1.0, "c": 1.0}, share=0.5)
    ['a', 'b']
    >>> explaining({"a": 1.0, "b": 1.0, "c": 1.0}, limit=2)
    ['a', 'b']
    """
    if not (math.isfinite(share) and 0 < share <= 1):
        raise StatsInputError(f"share must be in (0, 1], got {share!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StatsInputError(f"limit must be an integer >= 1, got {limit!r}")
    sizes = {k: abs(float(v)) for k, v in deltas.items()}
    if any(not math.isfinite(v) for v in sizes.values()):
        raise StatsInputError("deltas must be finite")
    total = math.fsum(sizes.values())
    chosen: list[K] = []
    covered = 0.0
    for key, size in sorted(sizes.items(), key=lambda kv: -kv[1]):  # stable: ties keep order
        if size <= 0 or len(chosen) >= limit or covered >= share * total:
            break
        chosen.append(key)
        covered += size
    return chosen
