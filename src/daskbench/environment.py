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
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from daskbench._secrets import mask_config
from daskbench.models import Environment

__all__ = [
    "TRACKED_PACKAGES",
    "collect_environment",
    "internal_dask_config",
    "non_default_dask_config",
    "set_internal_dask_config",
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


def collect_environment(
    *,
    cluster: Mapping[str, Any] | None = None,
    bench_paths: Iterable[str | Path] = (),
    extra: Mapping[str, Any] | None = None,
) -> Environment:
    """Fingerprint this process's environment; ``cluster`` comes from ClusterHandle.describe."""
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
