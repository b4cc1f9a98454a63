"""A run of the suite: options, store, cluster, repeats. No pytest import.

The pytest plugin maps fixtures and hooks onto a :class:`Session`; the ``daskbench`` CLI
builds one directly so that bad options fail before pytest starts::

    >>> opts = SessionOptions(db="memory://", scale="ci", repeat=2)
    >>> session = Session(opts)
    >>> session.open_store().url
    'memory://'
    >>> session.close()
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from daskbench._options import SCALES, default_data_dir
from daskbench.cluster import ClusterHandle, ClusterSpec, open_cluster
from daskbench.environment import collect_environment
from daskbench.errors import ConfigError, DaskbenchError
from daskbench.models import Measurement, Outcome, Result, Run, utcnow
from daskbench.store import Store, open_store

__all__ = [
    "RUN_EXTRA_ENV",
    "NullReporter",
    "Reporter",
    "Session",
    "SessionOptions",
    "new_run_id",
    "run_extra_from_env",
]

_MAX_ERROR_CHARS = 20_000
RUN_EXTRA_ENV = "DASKBENCH_RUN_EXTRA"


def run_extra_from_env() -> dict[str, Any]:
    """Tags for ``Run.environment.extra`` from $DASKBENCH_RUN_EXTRA (a JSON object).

    How a driver such as ``daskbench ab`` marks the runs it starts (experiment id, round)
    without new options; ConfigError when the variable is not a JSON object.
    """
    raw = os.environ.get(RUN_EXTRA_ENV, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f"${RUN_EXTRA_ENV} must be a JSON object, got {raw[:80]!r}")
    return value


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique, readable: ``20261126T101500-3f9a1c``."""
    now = now or utcnow()
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class SessionOptions:
    """Validated options of one run; errors name the option and the value."""

    db: str = "sqlite:///daskbench.db"
    scale: str = "ci"
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    repeat: int = 1
    label: str = "default"
    data_dir: str = field(default_factory=default_data_dir)
    reset: str = "restart"
    timeout: float = 1800.0
    command: str = ""
    bench_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"--scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if not isinstance(self.repeat, int) or self.repeat < 1:
            raise ConfigError(f"--repeat must be an integer >= 1, got {self.repeat!r}")
        if not self.label or not self.label.strip():
            raise ConfigError("--label must not be empty")
        if self.reset not in ("restart", "none"):
            raise ConfigError(f"--reset must be 'restart' or 'none', got {self.reset!r}")
        if self.timeout < 0:
            raise ConfigError(f"--timeout must be >= 0 seconds, got {self.timeout}")
        if not self.db:
            raise ConfigError("--db must not be empty")

    @classmethod
    def from_values(cls, values: dict[str, Any], **fixed: Any) -> SessionOptions:
        """Build from option values keyed by dest (None = not given)."""
        given = {k: v for k, v in values.items() if v is not None}
        sizing = {
            k: given.pop(k) for k in ("workers", "threads_per_worker", "memory_limit") if k in given
        }
        cluster = ClusterSpec(target=given.pop("cluster", "local"), **sizing)
        return cls(cluster=cluster, **given, **fixed)


class Reporter(Protocol):
    """Progress callbacks (the CLI shows them live; plain pytest uses none)."""

    def on_collected(self, tests: Sequence[str], repeat: int) -> None: ...

    def on_start(self, test: str, repeat: int) -> None: ...

    def on_result(self, result: Result) -> None: ...


class NullReporter:
    def on_collected(self, tests: Sequence[str], repeat: int) -> None:
        pass

    def on_start(self, test: str, repeat: int) -> None:
        pass

    def on_result(self, result: Result) -> None:
        pass


class Session:
    """Owns the store, the cluster and the run record of one invocation."""

    def __init__(
        self,
        options: SessionOptions,
        *,
        store: Store | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.options = options
        self.reporter: Reporter = reporter or NullReporter()
        self._store = store
        self._owns_store = store is None
        self._cluster: ClusterHandle | None = None
        self._run: Run | None = None
        self.results: list[Result] = []
        self.collection_errors: list[str] = []
        #: An error that stopped the whole run (no cluster, lost workers), if any.
        self.fatal_error: DaskbenchError | None = None

    # -- resources, opened lazily so plain pytest users pay nothing --------------------
    def open_store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.options.db)
        return self._store

    @property
    def cluster(self) -> ClusterHandle:
        if self._cluster is None:
            self._cluster = open_cluster(self.options.cluster)
        return self._cluster

    def reset_cluster(self) -> None:
        if self.options.reset == "restart":
            self.cluster.reset()

    @property
    def run(self) -> Run:
        """The run record, created (with the environment fingerprint) on first use."""
        if self._run is None:
            started = utcnow()
            cluster = self._cluster.describe() if self._cluster is not None else {}
            env = collect_environment(
                cluster=cluster,
                client=self._cluster.client if self._cluster is not None else None,
                bench_paths=self.options.bench_paths or (Path.cwd(),),
                extra={
                    "data_dir": self.options.data_dir,
                    "repeat": self.options.repeat,
                    **run_extra_from_env(),
                },
            )
            run = Run(
                id=new_run_id(started),
                label=self.options.label,
                started_at=started,
                scale=self.options.scale,
                command=self.options.command,
                environment=env,
            )
            self.open_store().add_run(run)
            self._run = run
            for line in env.cluster.get("version_mismatches", ()):
                print(f"daskbench: warning: version mismatch: {line}", file=sys.stderr)
        return self._run

    # -- results -------------------------------------------------------------------------
    def record(
        self,
        *,
        test: str,
        repeat: int,
        outcome: Outcome,
        started_at: datetime,
        finished_at: datetime,
        measurements: Iterable[Measurement] = (),
        error: str | None = None,
        path: str = "",
    ) -> Result:
        """Store one benchmark execution now (committed: an interrupted run keeps it)."""
        if error is not None and len(error) > _MAX_ERROR_CHARS:
            error = "...\n" + error[-_MAX_ERROR_CHARS:]
        result = Result(
            run_id=self.run.id,
            test=test,
            repeat=repeat,
            outcome=outcome,
            started_at=started_at,
            finished_at=finished_at,
            measurements=tuple(measurements) if outcome is Outcome.PASSED else (),
            error=error,
            path=path,
        )
        stored = self.open_store().add_result(result)
        self.results.append(stored)
        self.reporter.on_result(stored)
        return stored

    @property
    def failed(self) -> bool:
        """True when a benchmark failed, erred or timed out, or collection failed."""
        bad = (Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT)
        if self.collection_errors or self.fatal_error is not None:
            return True
        return any(r.outcome in bad for r in self.results)

    def close(self) -> None:
        """Finish the run record and release the cluster and the store. Idempotent."""
        try:
            if self._run is not None and self._store is not None:
                self._store.finish_run(self._run.id, utcnow())
        finally:
            try:
                if self._cluster is not None:
                    self._cluster.close()
                    self._cluster = None
            finally:
                if self._store is not None and self._owns_store:
                    self._store.close()
                    self._store = None
