"""Cluster providers (where the benchmarks run) and the health gate (on what they ran).

``--cluster`` takes one of three forms::

    local                      a LocalCluster on this machine (default), sized by
                               --workers / --threads-per-worker / --memory-limit
    tcp://10.0.0.5:8786        an existing scheduler (any URL with ://)
    mypkg.clusters:make        a callable returning a Cluster or a scheduler address
                               (how dask-kubernetes, dask-jobqueue or Coiled plug in)

daskbench never manages clusters beyond this: a cluster it created is closed at the end,
one it was pointed at is left running.

    >>> ClusterSpec("tcp://10.0.0.5:8786").kind
    'address'
    >>> ClusterState(workers=2, threads=4, memory=8 * 2**30).describe()
    '2 workers, 4 threads, 8.00 GiB'

The health gate: the shape a session sees when it starts (:attr:`ClusterHandle.expected`) is
the shape every benchmark must run on. :meth:`ClusterHandle.ensure_healthy` waits (bounded)
for lost workers to come back, restores a cluster daskbench owns, and otherwise raises
:class:`~daskbench.errors.DegradedClusterError`, so a benchmark is recorded as an error
rather than measured on half a cluster.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from daskbench.environment import set_internal_dask_config
from daskbench.errors import ClusterError, ConfigError, DegradedClusterError
from daskbench.metrics import format_value

__all__ = [
    "MIN_MEMORY_LIMIT",
    "ClusterHandle",
    "ClusterSpec",
    "ClusterState",
    "check_factory",
    "open_cluster",
]

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
ClusterKind = Literal["local", "address", "factory"]

#: A worker process alone takes 100-150 MiB; below this it cannot hold any data.
MIN_MEMORY_LIMIT = 256 * 2**20

#: How long lost workers get to come back (a nanny restarting a killed worker takes 1-5 s,
#: a Kubernetes pod rescheduled on another node can take a minute); ``--health-timeout``.
HEALTH_TIMEOUT = 60.0
#: How long a cluster that daskbench did not create gets to reach its size at start-up.
SETTLE_TIMEOUT = 30.0


def _parse_memory(value: str) -> int | str:
    if value == "auto":
        return value
    from dask.utils import parse_bytes

    try:
        parsed = int(parse_bytes(value))
    except (ValueError, TypeError):
        raise ConfigError(
            f"--memory-limit: cannot parse {value!r} (e.g. 4GiB, 2GB, auto)"
        ) from None
    if parsed < MIN_MEMORY_LIMIT:
        raise ConfigError(
            f"--memory-limit {value} is below the minimum of "
            f"{format_value(MIN_MEMORY_LIMIT, 'B')} per worker (a worker process alone uses "
            "100-150 MiB)"
        )
    return parsed


@dataclass(frozen=True)
class ClusterSpec:
    """Validated cluster options (the ``--cluster`` target and local sizing)."""

    target: str = "local"
    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "local":
            for name in ("workers", "threads_per_worker"):
                value = getattr(self, name)
                if value is not None and value < 1:
                    flag = "--" + name.replace("_", "-")
                    raise ConfigError(f"{flag} must be >= 1, got {value}")
            if self.memory_limit is not None:
                _parse_memory(self.memory_limit)
        else:
            given = [
                "--" + n.replace("_", "-")
                for n in ("workers", "threads_per_worker", "memory_limit")
                if getattr(self, n) is not None
            ]
            if given:
                raise ConfigError(
                    f"{', '.join(given)} only apply to --cluster local, not {self.target!r}"
                )

    @property
    def kind(self) -> ClusterKind:
        if self.target == "local":
            return "local"
        if "://" in self.target:
            return "address"
        if _FACTORY.match(self.target):
            return "factory"
        raise ConfigError(
            f"--cluster: {self.target!r} is not 'local', a scheduler address "
            "(tcp://host:8786) or 'package.module:callable'"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target if self.kind != "address" else "address",
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "memory_limit": self.memory_limit,
        }


@dataclass(frozen=True)
class ClusterState:
    """The shape of a cluster as the scheduler sees it: workers, threads, total memory limit."""

    workers: int
    threads: int
    memory: int

    @classmethod
    def from_scheduler_info(cls, info: Mapping[str, Any]) -> ClusterState:
        workers = list((info.get("workers") or {}).values())
        return cls(
            workers=len(workers),
            threads=sum(int(w.get("nthreads") or 0) for w in workers),
            memory=sum(int(w.get("memory_limit") or 0) for w in workers),
        )

    def describe(self) -> str:
        memory = f", {format_value(self.memory, 'B')}" if self.memory else ""
        plural = "s" if self.workers != 1 else ""
        return f"{self.workers} worker{plural}, {self.threads} threads{memory}"

    def shortfall(self, expected: ClusterState) -> str | None:
        """Why this is not ``expected`` (None when it is): ``1 of 2 workers, ...``."""
        if self == expected:
            return None
        parts = [f"{self.workers} of {expected.workers} workers"]
        if self.threads != expected.threads:
            parts.append(f"{self.threads} of {expected.threads} threads")
        if self.memory != expected.memory:
            have, want = format_value(self.memory, "B"), format_value(expected.memory, "B")
            parts.append(f"{have} of {want} memory")
        return ", ".join(parts)


class ClusterHandle:
    """A connected client, the cluster object if daskbench owns it, and its health.

    ``expected`` is the shape recorded when the handle was opened; :meth:`ensure_healthy`
    holds every benchmark to it.
    """

    def __init__(
        self,
        spec: ClusterSpec,
        client: Any,
        cluster: Any | None,
        owned: bool,
        *,
        recreate: Callable[[], Any] | None = None,
    ):
        self.spec = spec
        self.client = client
        self.cluster = cluster
        self._owned = owned
        self._recreate = recreate
        self.expected = self.state()
        #: How often the cluster was restored (recreated or rescaled) by the health gate.
        self.restorations = 0
        self._restart_error = ""

    def state(self) -> ClusterState:
        """The shape right now."""
        self.last_seen = ClusterState.from_scheduler_info(self.client.scheduler_info(n_workers=-1))
        return self.last_seen

    def describe(self) -> dict[str, Any]:
        """Workers, threads and memory as the scheduler sees them now."""
        info = self.client.scheduler_info(n_workers=-1)
        workers = info.get("workers", {}).values()
        limits = [w.get("memory_limit") or 0 for w in workers]
        return {
            "kind": self.spec.kind,
            "target": self.spec.to_dict()["target"],
            "workers": len(limits),
            "threads": sum(w.get("nthreads", 0) for w in workers),
            "threads_per_worker": sorted({w.get("nthreads", 0) for w in workers}),
            "memory_limit": sum(limits),
            "memory_limit_per_worker": sorted(set(limits)),
        }

    def total_memory(self) -> int:
        return int(self.describe()["memory_limit"])

    def restart(self) -> None:
        """Restart every worker so that no state of one benchmark leaks into the next.

        Does not wait for the workers to come back: :meth:`ensure_healthy` does, for all of
        them (``Client.restart`` would only wait for the workers alive when it was called).
        """
        self._restart_error = ""
        try:
            self.client.restart(wait_for_workers=False)
        except Exception as exc:
            # A worker that fails to restart in time is removed; the health gate decides.
            self._restart_error = f"; the restart failed: {type(exc).__name__}: {exc}"

    def wait_for(self, expected: ClusterState, timeout: float) -> ClusterState:
        """Poll until the shape is ``expected`` or ``timeout`` passes; the last shape seen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                now = self.state()
            except Exception as exc:
                raise ClusterError(f"cannot reach the scheduler: {exc}") from exc
            if now == expected or time.monotonic() >= deadline:
                return now
            time.sleep(0.1)

    def ensure_healthy(self, timeout: float = HEALTH_TIMEOUT) -> ClusterState:
        """Return once the cluster has its starting shape again, restoring it if needed.

        Raises DegradedClusterError ("degraded cluster: 1 of 2 workers ...") when the shape
        cannot be restored within ``timeout`` (twice that for a restoration), and
        ClusterError when the scheduler cannot be reached at all.
        """
        now = self.wait_for(self.expected, timeout)
        if now == self.expected:
            return now
        if self._restore():
            now = self.wait_for(self.expected, timeout)
            if now == self.expected:
                self.restorations += 1
                return now
        raise DegradedClusterError(
            f"degraded cluster: {now.shortfall(self.expected)} "
            f"(the run started with {self.expected.describe()}){self._restart_error}"
        )

    def _restore(self) -> bool:
        """Bring an owned cluster back to size: rescale it, or recreate a LocalCluster."""
        if not self._owned or self.cluster is None:
            return False
        if self._recreate is not None:
            self._replace(self._recreate())
            return True
        scale = getattr(self.cluster, "scale", None)
        if callable(scale):
            try:
                scale(self.expected.workers)
            except Exception:
                return False
            return True
        return False

    def _replace(self, cluster: Any) -> None:
        from distributed import Client

        old_client, old_cluster = self.client, self.cluster
        try:
            old_client.close()
        finally:
            if old_cluster is not None:
                old_cluster.close()
        self.cluster = cluster
        self.client = Client(cluster, set_as_default=True)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._owned and self.cluster is not None:
                self.cluster.close()


def _local(spec: ClusterSpec) -> Any:
    from distributed import LocalCluster

    kwargs: dict[str, Any] = {"dashboard_address": None, "processes": True}
    if spec.workers is not None:
        kwargs["n_workers"] = spec.workers
    if spec.threads_per_worker is not None:
        kwargs["threads_per_worker"] = spec.threads_per_worker
    if spec.memory_limit is not None:
        kwargs["memory_limit"] = _parse_memory(spec.memory_limit)
    _spawn_ignoring_sigint()
    if not _QUIET_EXIT:
        # Registered after distributed's own atexit hook, so it runs first (LIFO).
        atexit.register(_close_clusters_quietly)
        _QUIET_EXIT.append(True)
    return LocalCluster(**kwargs)


_QUIET_EXIT: list[bool] = []


def _close_clusters_quietly() -> None:
    """At exit, close clusters left open by an interrupt (e.g. Ctrl-C while one started).

    distributed closes them too, but prints assertion tracebacks for workers caught half
    way through starting or restarting; after an interrupt that is noise.
    """
    from distributed.deploy.spec import SpecCluster

    for cluster in list(SpecCluster._instances):
        if cluster.status.name not in ("closed", "closing"):
            with contextlib.suppress(BaseException):
                cluster.close(timeout=10)


def _spawn_ignoring_sigint() -> None:
    """Start worker processes with SIGINT ignored from their first instruction on.

    Ctrl-C in a terminal reaches the whole foreground process group, worker processes
    included; this process shuts the cluster down, so workers must not react (they would
    print KeyboardInterrupt tracebacks, often while still importing). A signal ignored at
    exec stays ignored, and Python keeps it so: the spawn start method runs the children
    through a two-line shell wrapper that ignores SIGINT and execs this interpreter.
    """
    import multiprocessing.spawn
    import shlex
    import tempfile

    global _SPAWN_WRAPPER
    if _SPAWN_WRAPPER is None:
        handle, path = tempfile.mkstemp(prefix="daskbench-python-", suffix=".sh")
        with os.fdopen(handle, "w") as script:
            script.write(f"#!/bin/sh\ntrap '' INT\nexec {shlex.quote(sys.executable)} \"$@\"\n")
        Path(path).chmod(0o700)
        atexit.register(Path(path).unlink, missing_ok=True)
        _SPAWN_WRAPPER = path
    multiprocessing.spawn.set_executable(_SPAWN_WRAPPER)


_SPAWN_WRAPPER: str | None = None


def check_factory(target: str) -> Callable[[], Any]:
    """Import ``package.module:callable`` and return the callable (ConfigError if absent).

    Cheap: nothing is called, so ``daskbench run`` checks this before anything is written.
    """
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--cluster {target}: cannot import {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"--cluster {target}: {module_name!r} has no callable {attr!r}")
    return factory  # type: ignore[no-any-return]


def _factory(target: str) -> Any:
    factory = check_factory(target)
    try:
        return factory()
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        # Not the run's exit: a factory that exits gave no cluster.
        raise ClusterError(
            f"--cluster {target}: the factory exited (SystemExit({exc.code!r})) instead of "
            "returning a Cluster or a scheduler address"
        ) from None
    except BaseException as exc:
        raise ClusterError(f"--cluster {target}: the factory raised {exc!r}") from exc


def _survive_frequent_restarts() -> None:
    # A SpecCluster (LocalCluster, and most factories' clusters) closes a worker's nanny
    # when, `lost-worker-timeout` after that worker left, no worker of its name is
    # connected. Restarting before every benchmark makes that check land inside a later
    # restart sooner or later (after ~8 restarts here), and the nanny is then closed for
    # good. Workers restarted by their nanny always come back, so never give up on them.
    # Set globally (not in a `with`): the cluster reads it from its own event loop later.
    set_internal_dask_config({"distributed.deploy.lost-worker-timeout": "3650d"})


def _settle(client: Any, cluster: Any | None, timeout: float) -> None:
    """Wait until a cluster that is still starting has all the workers it will have."""
    spec = getattr(cluster, "worker_spec", None)
    if isinstance(spec, Mapping) and spec:
        client.wait_for_workers(len(spec), timeout=timeout)
        return
    # An address or an opaque cluster: wait until the worker count holds for 2 s.
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(client.scheduler_info(n_workers=-1).get("workers") or {})
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 2.0:
            return
        time.sleep(0.2)


def _connect_timeout() -> float:
    """Dask's own connect timeout (``distributed.comm.timeouts.connect``, 30 s by default)."""
    import dask.config
    from dask.utils import parse_timedelta

    value = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s")
    return float(value) if value else 30.0


def open_cluster(spec: ClusterSpec, *, connect_timeout: float | None = None) -> ClusterHandle:
    """Create or connect to the cluster described by ``spec`` and return a handle.

    ``connect_timeout`` bounds connecting to the scheduler and waiting for its first worker;
    by default Dask's ``distributed.comm.timeouts.connect`` (30 s unless configured, e.g.
    ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``), as any other Dask client would use.
    """
    from distributed import Client

    if connect_timeout is None:
        connect_timeout = _connect_timeout()

    if spec.kind != "address":
        _survive_frequent_restarts()
    cluster: Any = None
    owned = False
    recreate: Callable[[], Any] | None = None
    try:
        if spec.kind == "local":
            cluster, owned = _local(spec), True
            recreate = lambda: _local(spec)  # noqa: E731
            address: Any = cluster
        elif spec.kind == "address":
            address = spec.target
        else:
            produced = _factory(spec.target)
            if isinstance(produced, str):
                address = produced
            elif hasattr(produced, "scheduler_address"):
                cluster, owned, address = produced, True, produced
            else:
                raise ConfigError(
                    f"--cluster {spec.target}: the factory returned {type(produced).__name__}, "
                    "expected a Cluster or a scheduler address string"
                )
        client = Client(address, timeout=connect_timeout, set_as_default=True)
    except (ConfigError, ClusterError):
        if owned:
            cluster.close()
        raise
    except Exception as exc:
        if owned:
            cluster.close()
        raise ClusterError(f"cannot connect to cluster {spec.target!r}: {exc}") from exc
    try:
        client.wait_for_workers(1, timeout=connect_timeout)
        if spec.kind != "local":
            _settle(client, cluster, SETTLE_TIMEOUT)
        return ClusterHandle(spec, client, cluster, owned, recreate=recreate)
    except Exception as exc:
        client.close()
        if owned:
            cluster.close()
        raise ClusterError(f"cluster {spec.target!r} has no workers: {exc}") from exc
