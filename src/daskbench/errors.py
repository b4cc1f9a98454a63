"""The exception tree of daskbench, and the one table of exit codes.

Every error a user can provoke with bad input is a :class:`DaskbenchError`; it carries the
exit code it means (``exit_code``), and :func:`daskbench.cli.main` prints its message as one
line and exits with that code, never a traceback::

    DaskbenchError               exit 2 unless noted
    ├── ConfigError          bad option, spec file or URL
    ├── ClusterError         the cluster could not be created or reached
    │   └── DegradedClusterError  fewer workers/threads/memory than the run started with
    ├── StoreError           the history database cannot be opened, migrated or written
    │   └── NotFoundError    a run, result or label that does not exist
    ├── StatsInputError      NaN/inf, empty or otherwise unusable samples (also a ValueError)
    ├── BenchmarkError       a benchmark misused the fixtures (e.g. nested ``with benchmark()``)
    ├── CollectionError      pytest could not collect the benchmarks
    ├── NothingSelected      no benchmark matched the selection (exit 5)
    └── Interrupted          stopped by SIGINT (exit 130) or SIGTERM (exit 143)

Exit codes are :class:`ExitCode` members everywhere (commands, ``daskbench ab`` reading its
children's codes); no other module spells them as numbers:

    >>> int(ExitCode.NO_TESTS), ConfigError("x").exit_code.name
    (5, 'USAGE')
    >>> Interrupted.from_signal(15).exit_code
    <ExitCode.TERMINATED: 143>
"""

from __future__ import annotations

import signal
from enum import IntEnum
from typing import ClassVar

__all__ = [
    "BenchmarkError",
    "ClusterError",
    "CollectionError",
    "ConfigError",
    "DaskbenchError",
    "DegradedClusterError",
    "ExitCode",
    "Interrupted",
    "NotFoundError",
    "NothingSelected",
    "StatsInputError",
    "StoreError",
]


class ExitCode(IntEnum):
    """What a ``daskbench`` process's exit status means (the README's table)."""

    OK = 0
    FAILED = 1  # a benchmark failed, or a regression with --fail-on-regression
    USAGE = 2  # bad input: one line on stderr, nothing written
    NO_TESTS = 5  # no benchmark selected (pytest's code for the same thing)
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as shells report it
    TERMINATED = 143  # SIGTERM (what CI sends on cancel): 128 + 15

    @classmethod
    def of_signal(cls, signum: int) -> ExitCode:
        """The code for a process stopped by ``signum`` (SIGTERM or else SIGINT)."""
        return cls.TERMINATED if signum == signal.SIGTERM else cls.INTERRUPTED

    @classmethod
    def of_status(cls, status: int) -> ExitCode | None:
        """A child's status (``subprocess`` gives ``-N`` for a signal N) as a member; None
        for a status outside the table (a crash)."""
        if status < 0:
            return cls.of_signal(-status) if -status in (signal.SIGINT, signal.SIGTERM) else None
        try:
            return cls(status)
        except ValueError:
            return None


class DaskbenchError(Exception):
    """Base class of every error daskbench raises on purpose."""

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE


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


class NothingSelected(DaskbenchError):
    """The selection (paths, ``-k``, ``-m``) matched no benchmark."""

    exit_code = ExitCode.NO_TESTS


class Interrupted(DaskbenchError):
    """The work was stopped by a signal; finished results are kept.

    ``exit_code`` is per instance: 130 after SIGINT, 143 after SIGTERM.
    """

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.INTERRUPTED) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]

    @classmethod
    def from_signal(cls, signum: int, message: str = "") -> Interrupted:
        code = ExitCode.of_signal(signum)
        what = "terminated (SIGTERM)" if code is ExitCode.TERMINATED else "interrupted"
        return cls(message or what, code)
