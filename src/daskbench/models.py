"""Frozen domain objects: what a run of the suite produced.

A :class:`Run` is one invocation of ``daskbench run`` (or one environment of an A/B
experiment, or one imported CI run); it has many :class:`Result` s, one per benchmark
execution, and each result many :class:`Measurement` s. The :class:`Environment` is the
fingerprint of where the run happened. An :class:`Ack` says that a change of one benchmark's
metric at one run was expected.

Objects are validated where they are built; errors name the field and the value::

    >>> Measurement("wall_time", 1.5, "s").value
    1.5
    >>> Measurement("wall_time", float("nan"), "s")
    Traceback (most recent call last):
    ...
    daskbench.errors.ConfigError: Measurement.value for 'wall_time' must be finite, got nan

Mappings inside these objects are plain dicts for easy JSON round trips; treat them as
read-only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from daskbench.errors import ConfigError

__all__ = [
    "FAILED_OUTCOMES",
    "Ack",
    "Environment",
    "Measurement",
    "Outcome",
    "Result",
    "Run",
    "RunStatus",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every stored timestamp is)."""
    return datetime.now(UTC)


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ConfigError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


class Outcome(StrEnum):
    """How one benchmark execution ended."""

    PASSED = "passed"
    FAILED = "failed"  # the benchmark body raised (an assertion or another exception)
    ERROR = "error"  # setup or teardown failed (e.g. data generation, cluster reset)
    SKIPPED = "skipped"
    TIMEOUT = "timeout"


#: Outcomes that make a run fail (exit 1): the benchmark itself or its set-up went wrong.
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT})


class RunStatus(StrEnum):
    """How a run ended. ``None`` on a :class:`Run` means unknown (stored before revision 0003)."""

    RUNNING = "running"  # started, not finished (or the process died without a word)
    COMPLETED = "completed"  # every selected benchmark was attempted
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM; finished results are kept
    STOPPED = "stopped"  # stopped by an error (cluster lost, store failure)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One metric value of one benchmark execution."""

    metric: str
    value: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.metric or not isinstance(self.metric, str):
            raise ConfigError(f"Measurement.metric must be a non-empty string, got {self.metric!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ConfigError(
                f"Measurement.value for {self.metric!r} must be a number, got {self.value!r}"
            )
        if not math.isfinite(self.value):
            raise ConfigError(
                f"Measurement.value for {self.metric!r} must be finite, got {self.value!r}"
            )
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class Environment:
    """Fingerprint of the machine, packages, dask config and cluster of a run."""

    python_version: str = ""
    platform: str = ""
    cpu_model: str = ""
    cpu_count: int = 0
    memory_total: int = 0
    packages: dict[str, str] = field(default_factory=dict)
    dask_config: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` inverts it."""
        return {
            "python_version": self.python_version,
            "platform": self.platform,
            "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count,
            "memory_total": self.memory_total,
            "packages": dict(self.packages),
            "dask_config": dict(self.dask_config),
            "cluster": dict(self.cluster),
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        """Build from :meth:`to_dict` output; unknown keys land in ``extra``."""
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = dict(kwargs.pop("extra", None) or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        return cls(**kwargs, extra=extra)

    def flat(self) -> dict[str, Any]:
        """Flattened view (``packages.dask``, ``cluster.workers``, ...) for diffs and tables."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    out[f"{key}.{sub}"] = subvalue
            else:
                out[key] = value
        return out

    def diff(self, other: Environment) -> dict[str, tuple[Any, Any]]:
        """Keys whose values differ between ``self`` and ``other``: key -> (mine, theirs)."""
        mine, theirs = self.flat(), other.flat()
        return {
            key: (mine.get(key), theirs.get(key))
            for key in sorted(mine.keys() | theirs.keys())
            if mine.get(key) != theirs.get(key)
        }


@dataclass(frozen=True)
class Run:
    """One invocation: a label, a scale, an environment, and (later) its results."""

    id: str
    label: str
    started_at: datetime
    finished_at: datetime | None = None
    scale: str = "ci"
    command: str = ""
    environment: Environment = field(default_factory=Environment)
    status: RunStatus | None = None

    def __post_init__(self) -> None:
        if self.status is not None:
            object.__setattr__(self, "status", RunStatus(self.status))
        if not self.id:
            raise ConfigError("Run.id must be a non-empty string")
        if not self.label:
            raise ConfigError(f"Run.label must be a non-empty string (run {self.id})")
        _require_aware("Run.started_at", self.started_at)
        _require_aware("Run.finished_at", self.finished_at)

    @property
    def revision(self) -> str | None:
        """The git commit (or imported revision) the run measured, if known."""
        return self.environment.git_commit


@dataclass(frozen=True)
class Result:
    """One execution of one benchmark in one round of a run.

    ``repeat`` is the round; ``execution`` numbers the measured executions of one round
    (more than one with ``--min-time``). ``workers`` and ``threads`` are the cluster's shape
    when the execution ran (None when unknown, e.g. imported results).
    """

    run_id: str
    test: str
    repeat: int
    outcome: Outcome
    started_at: datetime
    finished_at: datetime
    measurements: tuple[Measurement, ...] = ()
    error: str | None = None
    path: str = ""
    id: int | None = None
    execution: int = 0
    workers: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if not self.test:
            raise ConfigError(f"Result.test must be a non-empty string (run {self.run_id})")
        if self.repeat < 0:
            raise ConfigError(f"Result.repeat must be >= 0, got {self.repeat} for {self.test}")
        if self.execution < 0:
            raise ConfigError(
                f"Result.execution must be >= 0, got {self.execution} for {self.test}"
            )
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"Result.{name} must be >= 0, got {value} for {self.test}")
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        object.__setattr__(self, "measurements", tuple(self.measurements))
        _require_aware("Result.started_at", self.started_at)
        _require_aware("Result.finished_at", self.finished_at)
        names = [m.metric for m in self.measurements]
        if len(names) != len(set(names)):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(f"Result {self.test}: metric recorded twice: {', '.join(dup)}")

    @property
    def metrics(self) -> dict[str, float]:
        """metric name -> value."""
        return {m.metric: m.value for m in self.measurements}

    def value(self, metric: str) -> float | None:
        """The value of ``metric``, or None when it was not measured."""
        for m in self.measurements:
            if m.metric == metric:
                return m.value
        return None


@dataclass(frozen=True)
class Ack:
    """An acknowledged change: ``metric`` of ``test`` changed at run ``run_id``, as expected.

    ``daskbench ack`` writes these; ``daskbench detect`` no longer fails on a change they
    cover. ``id`` is set by the store.
    """

    run_id: str
    test: str
    metric: str
    reason: str
    created_at: datetime
    author: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("run_id", "test", "metric", "reason"):
            if not getattr(self, name):
                raise ConfigError(f"Ack.{name} must be a non-empty string")
        _require_aware("Ack.created_at", self.created_at)
