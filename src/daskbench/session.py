"""A run of the suite: options, store, cluster, rounds, executions. No pytest import.

The pytest plugin maps fixtures and hooks onto a :class:`Session`; the ``daskbench`` CLI
builds one directly so that bad options fail before pytest starts::

    >>> opts = SessionOptions(db="memory://", scale="ci", repeat=2)
    >>> session = Session(opts)
    >>> session.open_store().url
    'memory://'
    >>> session.close()

Per benchmark and round the session prescribes (:class:`ExecutionPlan`): restart the
workers, wait until the cluster has its starting shape (the health gate), execute the block
``warmup`` times unmeasured, then measured until the round's measured time reaches
``min_time`` (at least once). Every measured execution is one :class:`Result`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from daskbench._options import (
    DEFAULT_DB,
    LABEL,
    MIN_TIME,
    ORDER,
    ORDERS,
    REPEAT,
    RESET,
    SCALE,
    SCALES,
    TIMEOUT,
    WARMUP,
    default_data_dir,
)
from daskbench._secrets import mask_text
from daskbench.cluster import (
    HEALTH_TIMEOUT,
    ClusterHandle,
    ClusterSpec,
    ClusterState,
    open_cluster,
)
from daskbench.environment import collect_environment
from daskbench.errors import (
    ClusterError,
    ConfigError,
    DaskbenchError,
    DegradedClusterError,
    StoreError,
)
from daskbench.models import (
    FAILED_OUTCOMES,
    Measurement,
    Outcome,
    Result,
    Run,
    RunStatus,
    utcnow,
)
from daskbench.report._perf_report import RUN_EXTRA_KEY, performance_report_file
from daskbench.store import Store, open_store

__all__ = [
    "RUN_EXTRA_ENV",
    "ExecutionPlan",
    "NullReporter",
    "Reporter",
    "Session",
    "SessionOptions",
    "new_run_id",
    "run_extra_from_env",
]

_MAX_ERROR_CHARS = 20_000
RUN_EXTRA_ENV = "DASKBENCH_RUN_EXTRA"
#: Diagnostics only (perf/isolation.py): ``off`` disables the isolation of measurements.
ISOLATION_ENV = "DASKBENCH_ISOLATION"
#: Consecutive benchmarks that met a degraded cluster before the run stops.
MAX_DEGRADED_IN_A_ROW = 3


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
class ExecutionPlan:
    """How often one benchmark's block runs per round.

    >>> plan = ExecutionPlan(warmup=1, min_time=1.0)
    >>> plan.more(1, 0.3), plan.more(4, 1.2)
    (True, False)
    >>> ExecutionPlan(warmup=0, min_time=0.0).more(1, 0.01)
    False
    >>> ExecutionPlan(warmup=0, min_time=0.0, min_executions=3).more(2, 9.0)
    True
    """

    warmup: int = WARMUP.default
    min_time: float = MIN_TIME.default
    #: Bound on measured executions per round, whatever ``min_time`` asks for.
    max_executions: int = 100
    #: Measured executions per round at least, whatever ``min_time`` asks for: a
    #: benchmark's own floor (its ``min_executions`` marker).
    min_executions: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"--warmup must be an integer >= 0, got {self.warmup!r}")
        if not self.min_time >= 0:  # also refuses NaN
            raise ConfigError(f"--min-time must be >= 0 seconds, got {self.min_time!r}")
        if self.max_executions < 1:
            raise ConfigError(f"max_executions must be >= 1, got {self.max_executions}")
        if not 1 <= self.min_executions <= self.max_executions:
            raise ConfigError(
                f"min_executions must be between 1 and {self.max_executions}, "
                f"got {self.min_executions}"
            )

    def more(self, done: int, measured_seconds: float) -> bool:
        """Whether another measured execution follows ``done`` of them."""
        wanted = done < self.min_executions or measured_seconds < self.min_time
        return done < self.max_executions and wanted


@dataclass(frozen=True)
class SessionOptions:
    """Validated options of one run; errors name the option and the value."""

    db: str = DEFAULT_DB
    scale: str = SCALE.default
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    repeat: int = REPEAT.default
    label: str = LABEL.default
    data_dir: str = field(default_factory=default_data_dir)
    reset: str = RESET.default
    timeout: float = TIMEOUT.default
    warmup: int = WARMUP.default
    min_time: float = MIN_TIME.default
    order: str = ORDER.default
    seed: int | None = None
    health_timeout: float = HEALTH_TIMEOUT
    command: str = ""
    bench_paths: tuple[str, ...] = ()
    #: Directory for Dask's performance reports (absolute once validated), or None.
    performance_report: str | None = None
    isolate: bool = field(default_factory=lambda: os.environ.get(ISOLATION_ENV) != "off")

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
        if self.order not in ORDERS:
            raise ConfigError(f"--order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.seed is not None and self.order != "random":
            raise ConfigError("--seed applies only to --order random")
        if not self.health_timeout >= 0:
            raise ConfigError(f"--health-timeout must be >= 0 seconds, got {self.health_timeout}")
        self.plan  # noqa: B018 - validates --warmup and --min-time
        if self.performance_report is not None:
            object.__setattr__(
                self, "performance_report", _report_dir(self.performance_report, self.cluster)
            )

    @property
    def plan(self) -> ExecutionPlan:
        return ExecutionPlan(warmup=self.warmup, min_time=float(self.min_time))

    @classmethod
    def from_values(cls, values: dict[str, Any], **fixed: Any) -> SessionOptions:
        """Build from option values keyed by dest (None = not given)."""
        given = {k: v for k, v in values.items() if v is not None}
        sizing = {
            k: given.pop(k) for k in ("workers", "threads_per_worker", "memory_limit") if k in given
        }
        cluster = ClusterSpec(target=given.pop("cluster", "local"), **sizing)
        return cls(cluster=cluster, **given, **fixed)


def _report_dir(value: str, cluster: ClusterSpec) -> str:
    """``--performance-report``: a directory (made when the first report is written)."""
    if not value.strip():
        raise ConfigError("--performance-report must not be empty")
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--performance-report {value}: exists and is not a directory")
    if cluster.target == "local":
        # The scheduler renders the report; a local one has this Python's packages.
        import importlib.util

        if importlib.util.find_spec("bokeh") is None:
            raise ConfigError(
                "--performance-report needs bokeh on the scheduler: pip install 'bokeh>=3.1'"
            )
    return str(path)


def order_round(tests: Sequence[str], order: str, seed: int, round_index: int) -> list[int]:
    """Positions of ``tests`` in the order one round runs them.

    ``random`` draws a new permutation for every round from ``(seed, round)``, so a run
    can be reproduced exactly with the stored seed.

    >>> order_round(["a", "b", "c"], "reverse", 0, 0)
    [2, 1, 0]
    >>> order_round(["a", "b", "c"], "random", 7, 1) == order_round(["a", "b", "c"], "random", 7, 1)
    True
    """
    positions = list(range(len(tests)))
    if order == "reverse":
        positions.reverse()
    elif order == "random":
        random.Random(f"{seed}-{round_index}").shuffle(positions)
    return positions


class Reporter(Protocol):
    """Progress callbacks (the CLI shows them; plain pytest uses none)."""

    def on_collected(self, tests: Sequence[str], repeat: int) -> None: ...

    def on_start(self, test: str, repeat: int) -> None: ...

    def on_finish(self, test: str, repeat: int, results: Sequence[Result]) -> None: ...


class NullReporter:
    def on_collected(self, tests: Sequence[str], repeat: int) -> None:
        pass

    def on_start(self, test: str, repeat: int) -> None:
        pass

    def on_finish(self, test: str, repeat: int, results: Sequence[Result]) -> None:
        pass


class Session:
    """Owns the store, the cluster and the run record of one invocation."""

    def __init__(
        self,
        options: SessionOptions,
        *,
        store: Store | None = None,
        reporter: Reporter | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.reporter: Reporter = reporter or NullReporter()
        #: Where warnings go ("daskbench: warning: ..."); pytest captures sys.stderr while
        #: benchmarks run, so the CLI and the plugin give a writer that reaches the user.
        self.warn: Callable[[str], None] = warn or (lambda text: print(text, file=sys.stderr))
        self._store = store
        self._owns_store = store is None
        self._cluster: ClusterHandle | None = None
        self._run: Run | None = None
        self.seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
        self.results: list[Result] = []
        self.collection_errors: list[str] = []
        #: An error that stopped the whole run (no cluster, lost workers, store), if any.
        self.fatal_error: DaskbenchError | None = None
        #: The signal that interrupted the run ("SIGINT", "SIGTERM"), if any.
        self.interrupted_by: str | None = None
        #: Results the store refused (written to a JSON file at close, never lost).
        self.unsaved: list[Result] = []
        self.unsaved_path: Path | None = None
        #: The cluster's shape when it was last checked (stored with each result).
        self.last_state: ClusterState | None = None
        self._degraded_in_a_row = 0

    @property
    def run_started(self) -> bool:
        """Whether the run record exists (from then on, something was written)."""
        return self._run is not None

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

    def prepare_benchmark(self) -> ClusterHandle:
        """Before each benchmark: restart the workers and wait for the starting shape.

        DegradedClusterError (the benchmark is an error) when the shape cannot be restored;
        after :data:`MAX_DEGRADED_IN_A_ROW` of those in a row, or when the scheduler cannot be
        reached at all, the error is fatal: the run stops.
        """
        handle = self.cluster
        try:
            if self.options.reset == "restart":
                handle.restart()
            self.last_state = handle.ensure_healthy(self.options.health_timeout)
            if self.options.isolate:
                from daskbench.measure import before_benchmark

                before_benchmark(handle.client)
        except DegradedClusterError as exc:
            self.last_state = handle.last_seen
            self._degraded_in_a_row += 1
            if self._degraded_in_a_row >= MAX_DEGRADED_IN_A_ROW:
                raise ClusterError(
                    f"{exc}; {self._degraded_in_a_row} benchmarks in a row met a degraded "
                    "cluster, stopping the run"
                ) from None
            raise
        self._degraded_in_a_row = 0
        return handle

    def performance_report_path(self, test: str) -> Path | None:
        """Where ``test``'s performance report goes (None without --performance-report)."""
        if self.options.performance_report is None:
            return None
        return performance_report_file(self.options.performance_report, self.run.id, test)

    def check_health(self) -> ClusterState:
        """Before each block: the starting shape, waiting for lost workers but not restoring
        (a restoration would drop the data the benchmark prepared)."""
        handle = self.cluster
        now = self.last_state = handle.wait_for(handle.expected, self.options.health_timeout)
        problem = now.shortfall(handle.expected)
        if problem is not None:
            raise DegradedClusterError(
                f"degraded cluster: {problem} (the run started with {handle.expected.describe()})"
            )
        return now

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
                    "warmup": self.options.warmup,
                    "min_time": self.options.min_time,
                    "order": self.options.order,
                    **({"seed": self.seed} if self.options.order == "random" else {}),
                    **(
                        {RUN_EXTRA_KEY: self.options.performance_report}
                        if self.options.performance_report is not None
                        else {}
                    ),
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
                status=RunStatus.RUNNING,
            )
            self.open_store().add_run(run)
            self._run = run
            for line in env.cluster.get("version_mismatches", ()):
                self.warn(f"daskbench: warning: version mismatch: {line}")
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
        execution: int = 0,
        workers: int | None = None,
        threads: int | None = None,
    ) -> Result:
        """Store one benchmark execution now (committed: an interrupted run keeps it).

        A store that fails keeps the result in :attr:`unsaved` (written to a file by
        :meth:`close`) and raises StoreError, which stops the run.
        """
        if error is not None:
            # A benchmark's error may quote a URL with a password or a token: never stored.
            error = mask_text(error)
            if len(error) > _MAX_ERROR_CHARS:
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
            execution=execution,
            workers=workers,
            threads=threads,
        )
        try:
            stored = self.open_store().add_result(result)
        except StoreError:
            self.unsaved.append(result)
            raise
        self.results.append(stored)
        return stored

    @property
    def failed(self) -> bool:
        """True when a benchmark failed, erred or timed out, or collection failed."""
        if self.collection_errors or self.fatal_error is not None:
            return True
        return any(r.outcome in FAILED_OUTCOMES for r in self.results)

    @property
    def status(self) -> RunStatus:
        if self.interrupted_by is not None:
            return RunStatus.INTERRUPTED
        if self.fatal_error is not None:
            return RunStatus.STOPPED
        return RunStatus.COMPLETED

    def _save_unsaved(self) -> None:
        if not self.unsaved or self._run is None:
            return
        from daskbench.report import records_to_json
        from daskbench.report._export import result_record

        path = Path(f"daskbench-unsaved-{self._run.id}.json").resolve()
        records = [result_record(self._run, r) for r in self.unsaved]
        path.write_text(records_to_json(records), encoding="utf-8")
        self.unsaved_path = path

    def close(self) -> None:
        """Finish the run record and release the cluster and the store. Idempotent."""
        try:
            self._save_unsaved()
            if self._run is not None and self._store is not None:
                try:
                    self._store.finish_run(self._run.id, utcnow(), self.status)
                except StoreError:
                    if not self.unsaved:  # else: the store already failed, and said why
                        raise
        finally:
            try:
                if self._cluster is not None:
                    self._cluster.close()
                    self._cluster = None
            finally:
                if self._store is not None and self._owns_store:
                    self._store.close()
                    self._store = None
