"""How big each workload is: sizes derived from the cluster's memory and threads.

Every benchmark asks a :class:`Sizing` for its sizes instead of hard-coding them, so the same
test is meaningful on a 2-core laptop and on a 100-node cluster::

    >>> shape = ClusterShape(n_workers=2, nthreads=2, memory=8 * 2**30)
    >>> sizing = Sizing(shape, "small")
    >>> sizing.nbytes(0.5) == 4 * 2**30      # half of one cluster memory
    True
    >>> Sizing(shape, "ci").nbytes(0.5) <= 32 * 2**20   # ci is capped whatever the cluster
    True

A scale is a :class:`ScaleProfile`: a budget expressed as a fraction of cluster memory (capped
at ``ci`` so CI stays fast on any machine), a target partition size, and a task budget.
Workloads pass a *relative* size: ``nbytes(0.5)`` is half the scale's budget, so the ratio
between workloads is the same at every scale.

``tiny`` is an internal scale used only by daskbench's own integration tests (selected with
the ``DASKBENCH_SUITE_SIZING`` environment variable, see ``suite/conftest.py``); it is never
offered by ``daskbench run``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daskbench.errors import ConfigError

__all__ = [
    "PROFILES",
    "SCALES",
    "ClusterShape",
    "ScaleProfile",
    "Sizing",
    "ladder_floor",
]

KiB, MiB, GiB = 2**10, 2**20, 2**30

#: Memory assumed per thread when a worker reports no memory limit (``memory_limit=0``).
DEFAULT_MEMORY_PER_THREAD = 2 * GiB


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """What the sizing needs to know about a cluster: workers, threads and memory in bytes."""

    n_workers: int
    nthreads: int
    memory: int
    min_worker_memory: int = 0

    def __post_init__(self) -> None:
        for name in ("n_workers", "nthreads", "memory"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"ClusterShape.{name} must be a positive int, got {value!r}")
        if self.min_worker_memory == 0:
            object.__setattr__(self, "min_worker_memory", self.memory // self.n_workers)

    @classmethod
    def from_scheduler_info(cls, info: Mapping[str, Any]) -> ClusterShape:
        """Read the shape from ``client.scheduler_info(n_workers=-1)``.

        Workers without a memory limit count :data:`DEFAULT_MEMORY_PER_THREAD` per thread.
        """
        workers: Mapping[str, Mapping[str, Any]] = info.get("workers") or {}
        if not workers:
            raise ConfigError("the cluster has no workers; cannot size the benchmarks")
        limits = []
        nthreads = 0
        for ws in workers.values():
            threads = int(ws.get("nthreads") or 1)
            nthreads += threads
            limit = int(ws.get("memory_limit") or 0)
            limits.append(limit if limit > 0 else threads * DEFAULT_MEMORY_PER_THREAD)
        return cls(len(workers), nthreads, sum(limits), min(limits))


@dataclass(frozen=True, slots=True)
class ScaleProfile:
    """The knobs of one scale; see the module docstring."""

    memory_fraction: float  # budget = this fraction of total cluster memory ...
    max_bytes: int | None  # ... capped here (ci), so ci stays small on big machines
    partition_bytes: int  # target size of one partition / chunk
    max_partitions: int | None  # cap on partitions (ci: bounded scheduler overhead)
    tasks_per_thread: int  # task-count workloads: tasks per thread ...
    min_tasks: int  # ... at least this many ...
    max_tasks: int | None  # ... and at most this many
    spill_factor: float  # spill workloads hold this multiple of cluster memory


PROFILES: dict[str, ScaleProfile] = {
    "tiny": ScaleProfile(0.002, 4 * MiB, 256 * KiB, 8, 50, 50, 200, 0.0),
    "ci": ScaleProfile(0.02, 48 * MiB, 2 * MiB, 32, 500, 500, 2_000, 0.0),
    "small": ScaleProfile(1.0, None, 64 * MiB, None, 250, 10_000, None, 1.5),
    "large": ScaleProfile(2.0, None, 128 * MiB, None, 250, 100_000, None, 1.5),
}

#: Scales offered to users (``tiny`` is for daskbench's own tests).
SCALES = ("ci", "small", "large")

# TPC-H scale factors the generator is run at: rounding down to this ladder keeps data sets
# comparable between clusters of slightly different memory.
_SF_LADDER = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000)


def ladder_floor(value: float, ladder: tuple[float, ...] = _SF_LADDER) -> float:
    """The largest ladder step <= ``value`` (the smallest step if ``value`` is below all)."""
    steps = [s for s in ladder if s <= value]
    return steps[-1] if steps else ladder[0]


@dataclass(frozen=True, slots=True)
class Sizing:
    """Sizes for one scale on one cluster. Build it with :meth:`from_client` in benchmarks."""

    shape: ClusterShape
    scale: str

    def __post_init__(self) -> None:
        if self.scale not in PROFILES:
            raise ConfigError(f"unknown scale {self.scale!r}; expected one of {sorted(PROFILES)}")

    @classmethod
    def from_client(cls, client: Any, scale: str) -> Sizing:
        """Size for the workers currently connected to ``client``."""
        return cls(ClusterShape.from_scheduler_info(client.scheduler_info(n_workers=-1)), scale)

    @property
    def profile(self) -> ScaleProfile:
        return PROFILES[self.scale]

    @property
    def is_ci(self) -> bool:
        """True for the capped scales (``ci`` and ``tiny``), where references are cheap."""
        return self.profile.max_bytes is not None

    def nbytes(self, relative: float = 1.0) -> int:
        """``relative`` times the scale's byte budget (at least one partition)."""
        if relative <= 0:
            raise ConfigError(f"relative size must be > 0, got {relative}")
        p = self.profile
        budget = self.shape.memory * p.memory_fraction
        if p.max_bytes is not None:
            budget = min(budget, p.max_bytes)
        return max(int(budget * relative), p.partition_bytes)

    def spill_nbytes(self) -> int:
        """Bytes a spill workload must hold: a multiple of cluster memory (capped at ci)."""
        p = self.profile
        if p.spill_factor <= 0:
            return self.nbytes(1.0)
        return int(self.shape.memory * p.spill_factor)

    def npartitions(self, nbytes: int, *, per_thread: int = 2) -> int:
        """Partitions for ``nbytes``: ~``partition_bytes`` each, >= ``per_thread`` per thread."""
        p = self.profile
        n = max(math.ceil(nbytes / p.partition_bytes), per_thread * self.shape.nthreads)
        if p.max_partitions is not None:
            n = min(n, p.max_partitions)
        return max(n, 1)

    def rows(self, nbytes: int, row_bytes: int) -> int:
        """Rows of ``row_bytes`` each that fill ``nbytes``."""
        return max(nbytes // row_bytes, 1)

    def square_shape(self, nbytes: int, itemsize: int = 8) -> tuple[int, int]:
        """A square 2-D array shape of about ``nbytes``."""
        side = max(math.isqrt(nbytes // itemsize), 1)
        return (side, side)

    def chunk_side(self, itemsize: int = 8, *, ndim: int = 2) -> int:
        """Edge of a cubic chunk of about ``partition_bytes``."""
        return max(int((self.profile.partition_bytes / itemsize) ** (1 / ndim)), 1)

    def n_tasks(self, relative: float = 1.0) -> int:
        """Tasks for task-count workloads (futures, stealing), scaled by threads."""
        p = self.profile
        n = max(
            int(p.tasks_per_thread * self.shape.nthreads * relative), int(p.min_tasks * relative)
        )
        if p.max_tasks is not None:
            n = min(n, int(p.max_tasks * relative))
        return max(n, 1)

    def tpch_scale_factor(self) -> float:
        """TPC-H scale factor: about half the budget in GiB, rounded down a 1-3-10 ladder.

        SF 1 is roughly 1 GiB in memory, so ci gets SF 0.01, a 8 GiB laptop at ``small``
        SF 3, and 10 workers with 16 GiB each at ``large`` SF 100.
        """
        return ladder_floor(self.nbytes(0.5) / GiB)
