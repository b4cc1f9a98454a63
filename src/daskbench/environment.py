"""Fingerprint of where a run happened: machine, packages, dask config, cluster, git.

Two results are comparable when their fingerprints agree on what matters; when they don't,
``Environment.diff`` says what changed (which is how ``daskbench detect`` names suspects).

The fingerprint is stored and shown, so it never holds a secret: values under secret-looking
keys (``coiled.token``, from ``DASK_COILED__TOKEN``) and passwords in URLs are masked
(:mod:`daskbench._secrets`). Dask settings daskbench makes itself are declared with
:func:`set_internal_dask_config` where they are made, and are not reported as the user's.

    >>> env = collect_environment()
    >>> "dask" in env.packages
    True

On a remote cluster the versions that matter are the workers': :func:`cluster_fingerprint`
asks the scheduler and every worker (``Client.get_versions``, plus each worker's CPU model,
memory and CPU count) and summarises them under dotted keys of ``Environment.cluster``::

    hosts                      distinct worker hosts
    scheduler.python           3.11.7
    scheduler.packages.dask    2026.8.0
    workers.python             3.11.7            (every worker agrees)
    workers.packages.numpy     2.4.6 ×3, 2.3.0 ×1  (they don't: version ×count)
    workers.cpu_model          AMD EPYC
    workers.cpu_count          8
    workers.memory_total       33554432000
    version_mismatches         ["numpy: client 2.4.6; workers 2.4.6 ×3, 2.3.0 ×1"]

Flat keys make ``Environment.diff`` name exactly what changed between two runs
(``cluster.workers.packages.dask: 2026.8.0 -> 2026.9.0``). :func:`version_mismatches` is
pure: versions in, warning lines out; the caller prints them.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from daskbench._secrets import mask_config
from daskbench.models import Environment

__all__ = [
    "TRACKED_PACKAGES",
    "cluster_fingerprint",
    "collect_environment",
    "internal_dask_config",
    "machine_info",
    "non_default_dask_config",
    "set_internal_dask_config",
    "summarize_cluster",
    "version_mismatches",
]

# key -> value of every dask setting daskbench itself made in this process.
_INTERNAL: dict[str, Any] = {}

TRACKED_PACKAGES = (
    "daskbench",
    "dask",
    "distributed",
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "xarray",
    "zarr",
    "numcodecs",
    "fsspec",
    "s3fs",
    "cloudpickle",
    "msgpack",
    "tornado",
    "toolz",
    "lz4",
    "psutil",
    "bokeh",
    "numba",
)


def _versions(names: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def machine_info() -> dict[str, Any]:
    """CPU model, CPU count and total memory of this machine (run on each worker)."""
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "memory_total": _memory_total(),
    }


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    else:
        out[prefix] = value


def set_internal_dask_config(settings: Mapping[str, Any]) -> None:
    """Set dask config for daskbench's own needs (dotted keys), globally, and remember it so
    the fingerprint does not report it as the user's configuration."""
    import dask.config

    _INTERNAL.update(settings)
    dask.config.set(dict(settings))


def internal_dask_config() -> dict[str, Any]:
    """The settings :func:`set_internal_dask_config` made in this process."""
    return dict(_INTERNAL)


def non_default_dask_config() -> dict[str, Any]:
    """Dask config values (flattened, dotted keys) the user changed from dask's defaults.

    Secret-looking values are masked; daskbench's own settings are left out (while they
    still have the value daskbench gave them).

    >>> import dask
    >>> with dask.config.set({"coiled.token": "planted", "array.chunk-size": "64MiB"}):
    ...     config = non_default_dask_config()
    >>> config["coiled.token"], config["array.chunk-size"]
    ('***', '64MiB')
    """
    import dask.config

    current: dict[str, Any] = {}
    default: dict[str, Any] = {}
    _flatten("", dask.config.config, current)
    _flatten("", dask.config.merge(*dask.config.defaults), default)
    out = {}
    for key, value in current.items():
        if key in _INTERNAL and _INTERNAL[key] == value:
            continue
        if default.get(key, object()) != value:
            # Keep it JSON-ready: config values are almost always plain, but not always.
            out[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
    return mask_config(dict(sorted(out.items())))


def _git(directory: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _git_state(paths: Iterable[str | Path]) -> tuple[str | None, bool | None]:
    for raw in paths:
        path = Path(raw)
        directory = path if path.is_dir() else path.parent
        if not directory.exists():
            continue
        commit = _git(directory, "rev-parse", "HEAD")
        if commit:
            status = _git(directory, "status", "--porcelain", "--untracked-files=no")
            return commit, (bool(status) if status is not None else None)
    return None, None


# -- the cluster: scheduler and workers ---------------------------------------------------------

# What distributed compares on the scheduler (its other packages need not be installed there).
_SCHEDULER_RELEVANT = frozenset(
    {"python", "dask", "distributed", "tornado", "toolz", "cloudpickle", "lz4"}
)
_MISSING = "missing"


def _python(version: Any) -> str | None:
    """``3.11.7.final.0`` (as get_versions reports it) -> ``3.11.7``."""
    if not version:
        return None
    return ".".join(str(version).split(".")[:3])


def _summary(values: Iterable[Any]) -> Any:
    """One value when all agree, else ``"a ×3, b ×1"`` (most common first)."""
    counts = Counter(values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(
        f"{v} ×{n}" for v, n in sorted(counts.items(), key=lambda i: (-i[1], str(i[0])))
    )


def _packages_of(process: Mapping[str, Any] | None) -> dict[str, Any]:
    packages = dict((process or {}).get("packages") or {})
    packages["python"] = _python(packages.get("python"))
    return packages


def version_mismatches(versions: Mapping[str, Any]) -> list[str]:
    """Warning lines for packages whose versions differ between client, scheduler, workers.

    ``versions`` is what ``Client.get_versions(check=False)`` returns. A package missing
    everywhere is fine; missing on some processes only is a mismatch. The scheduler is only
    compared on what it runs (python, dask, distributed and their core dependencies), like
    distributed's own check.

    >>> same = {"packages": {"python": "3.11.7.final.0", "dask": "2026.8.0"}}
    >>> newer = {"packages": {"python": "3.11.7.final.0", "dask": "2026.9.0"}}
    >>> version_mismatches({"client": same, "scheduler": same, "workers": {"w1": newer}})
    ['dask: client 2026.8.0; scheduler 2026.8.0; workers 2026.9.0']
    """
    client = _packages_of(versions.get("client"))
    scheduler = _packages_of(versions.get("scheduler"))
    workers = [_packages_of(w) for w in (versions.get("workers") or {}).values()]
    names = set(client) | set(scheduler) | {n for w in workers for n in w}
    lines = []
    for name in sorted(names, key=lambda n: (n != "python", n)):
        seen: dict[str, Any] = {"client": client.get(name) or _MISSING}
        if name in _SCHEDULER_RELEVANT:
            seen["scheduler"] = scheduler.get(name) or _MISSING
        if workers:
            seen["workers"] = _summary(w.get(name) or _MISSING for w in workers)
        distinct = {client.get(name) or _MISSING}
        distinct |= {w.get(name) or _MISSING for w in workers}
        if name in _SCHEDULER_RELEVANT:
            distinct.add(scheduler.get(name) or _MISSING)
        if len(distinct) > 1:
            lines.append(f"{name}: " + "; ".join(f"{who} {v}" for who, v in seen.items()))
    return lines


def summarize_cluster(
    versions: Mapping[str, Any],
    machines: Mapping[str, Mapping[str, Any]],
    workers_info: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The cluster fingerprint from ``get_versions``, per-worker :func:`machine_info` and the
    scheduler's worker table (``scheduler_info()["workers"]``). Pure."""
    out: dict[str, Any] = {}
    if workers_info:
        out["hosts"] = len({w.get("host") for w in workers_info.values()})
    scheduler = versions.get("scheduler") or {}
    if scheduler:
        packages = _packages_of(scheduler)
        out["scheduler.python"] = packages.pop("python")
        out["scheduler.platform"] = _platform_of(scheduler)
        for name, version in sorted(packages.items()):
            if version:
                out[f"scheduler.packages.{name}"] = version
    workers = list((versions.get("workers") or {}).values())
    if workers:
        per_worker = [_packages_of(w) for w in workers]
        out["workers.python"] = _summary(p.pop("python") for p in per_worker)
        out["workers.platform"] = _summary(_platform_of(w) for w in workers)
        for name in sorted({n for p in per_worker for n in p}):
            found = [p.get(name) or _MISSING for p in per_worker]
            if any(v != _MISSING for v in found):
                out[f"workers.packages.{name}"] = _summary(found)
    for key in ("cpu_model", "cpu_count", "memory_total"):
        values = [m[key] for m in machines.values() if m.get(key) is not None]
        if values:
            out[f"workers.{key}"] = _summary(values)
    out["version_mismatches"] = version_mismatches(versions)
    return out


def _platform_of(process: Mapping[str, Any]) -> str:
    host = process.get("host") or {}
    parts = (host.get("OS"), host.get("OS-release"), host.get("machine"))
    return " ".join(str(p) for p in parts if p)


def cluster_fingerprint(client: Any) -> dict[str, Any]:
    """Versions and shape of the scheduler and workers ``client`` is connected to.

    Asks ``client.get_versions`` (the tracked packages on every process) and runs
    :func:`machine_info` on every worker (which therefore needs daskbench installed, as the
    shipped suite does anyway). Failures are recorded in the result, never raised.
    """
    try:
        versions = client.get_versions(check=False, packages=list(TRACKED_PACKAGES))
        workers_info = client.scheduler_info(n_workers=-1).get("workers", {})
    except Exception as exc:  # the fingerprint must never stop a run
        return {"fingerprint_error": _error_text(exc)}
    try:
        machines = client.run(machine_info)
        error = None
    except Exception as exc:
        machines, error = {}, _error_text(exc)
    out = summarize_cluster(versions, machines, workers_info)
    if error is not None:
        out["workers.machine_error"] = error
    return out


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def collect_environment(
    *,
    cluster: Mapping[str, Any] | None = None,
    bench_paths: Iterable[str | Path] = (),
    extra: Mapping[str, Any] | None = None,
    client: Any = None,
) -> Environment:
    """Fingerprint this process's environment; ``cluster`` comes from ClusterHandle.describe.

    With a connected ``client``, the scheduler's and workers' side too
    (:func:`cluster_fingerprint`), merged into ``cluster``.
    """
    if client is not None:
        cluster = {**(cluster or {}), **cluster_fingerprint(client)}
    commit, dirty = _git_state(bench_paths)
    return Environment(
        python_version=platform.python_version(),
        platform=platform.platform(),
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 0,
        memory_total=_memory_total(),
        packages=_versions(TRACKED_PACKAGES),
        dask_config=non_default_dask_config(),
        cluster=mask_config(cluster or {}),
        git_commit=commit,
        git_dirty=dirty,
        extra=mask_config({"hostname": socket.gethostname(), **(extra or {})}),
    )
