"""The exception tree of daskbench.

Every error a user can provoke with bad input is a :class:`DaskbenchError`; the CLI turns it
into a one-line message and a non-zero exit, never a traceback::

    DaskbenchError
    ├── ConfigError          bad option, spec file or URL
    ├── ClusterError         the cluster could not be created or reached
    │   └── DegradedClusterError  fewer workers/threads/memory than the run started with
    ├── StoreError           the history database cannot be opened, migrated or written
    │   └── NotFoundError    a run, result or label that does not exist
    ├── StatsInputError      NaN/inf, empty or otherwise unusable samples (also a ValueError)
    ├── BenchmarkError       a benchmark misused the fixtures (e.g. nested ``with benchmark()``)
    └── CollectionError      pytest could not collect the benchmarks
"""

from __future__ import annotations

__all__ = [
    "BenchmarkError",
    "ClusterError",
    "CollectionError",
    "ConfigError",
    "DaskbenchError",
    "DegradedClusterError",
    "NotFoundError",
    "StatsInputError",
    "StoreError",
]


class DaskbenchError(Exception):
    """Base class of every error daskbench raises on purpose."""


class ConfigError(DaskbenchError):
    """An option, spec file or URL is invalid. The message names the field and the value."""


class ClusterError(DaskbenchError):
    """A cluster could not be created, reached or reset."""


class DegradedClusterError(ClusterError):
    """The cluster lost workers (or threads, or memory) and could not be restored in time.

    A benchmark that meets this is recorded as an ``error``, never measured.
    """


class StoreError(DaskbenchError):
    """The history database could not be opened, migrated, read or written."""


class NotFoundError(StoreError):
    """A run, result or label asked for does not exist in the store."""


class StatsInputError(DaskbenchError, ValueError):
    """Samples unusable for statistics: empty, NaN, infinite, or of the wrong shape."""


class BenchmarkError(DaskbenchError):
    """A benchmark used the daskbench fixtures in a way that cannot be measured."""


class CollectionError(DaskbenchError):
    """pytest could not collect the benchmarks (import error, bad path, bad expression)."""
