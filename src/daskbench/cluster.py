"""Cluster providers: where the benchmarks run.

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
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from daskbench.environment import set_internal_dask_config
from daskbench.errors import ClusterError, ConfigError

__all__ = ["ClusterHandle", "ClusterSpec", "open_cluster"]

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
ClusterKind = Literal["local", "address", "factory"]


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
    if parsed <= 0:
        raise ConfigError(f"--memory-limit must be positive, got {value!r}")
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


class ClusterHandle:
    """A connected client, the cluster object if daskbench owns it, and its description."""

    def __init__(self, spec: ClusterSpec, client: Any, cluster: Any | None, owned: bool):
        self.spec = spec
        self.client = client
        self.cluster = cluster
        self._owned = owned

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

    def reset(self) -> None:
        """Restart every worker so no state of one benchmark leaks into the next."""
        try:
            self.client.restart(wait_for_workers=True)
        except Exception as exc:
            raise ClusterError(f"could not restart the cluster's workers: {exc}") from exc

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
    return LocalCluster(**kwargs)


def _factory(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--cluster {target}: cannot import {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"--cluster {target}: {module_name!r} has no callable {attr!r}")
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


def open_cluster(spec: ClusterSpec, *, connect_timeout: float = 30.0) -> ClusterHandle:
    """Create or connect to the cluster described by ``spec`` and return a handle."""
    from distributed import Client

    if spec.kind != "address":
        _survive_frequent_restarts()
    cluster: Any = None
    owned = False
    try:
        if spec.kind == "local":
            cluster, owned = _local(spec), True
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
    except Exception as exc:
        client.close()
        if owned:
            cluster.close()
        raise ClusterError(f"cluster {spec.target!r} has no workers: {exc}") from exc
    return ClusterHandle(spec, client, cluster, owned)
