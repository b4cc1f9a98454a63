"""The run options, declared once and mapped onto both pytest and the ``daskbench`` CLI.

pytest sees them with a ``--daskbench-`` prefix (``pytest --daskbench-repeat 3``), the CLI
without (``daskbench run --repeat 3``). Values are validated by :class:`SessionOptions`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daskbench.cluster import HEALTH_TIMEOUT

__all__ = ["OPTIONS", "ORDERS", "SCALES", "OptionSpec", "add_options", "default_data_dir"]

SCALES = ("ci", "small", "large")
ORDERS = ("file", "reverse", "random")


def default_data_dir() -> str:
    """Where generated benchmark inputs are cached: $DASKBENCH_DATA_DIR or the user cache."""
    env = os.environ.get("DASKBENCH_DATA_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "daskbench" / "data")


@dataclass(frozen=True)
class OptionSpec:
    name: str  # dashed, without prefix: "threads-per-worker"
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "db",
        str,
        "sqlite:///daskbench.db",
        "history database URL (sqlite:///x.db, postgresql://...)",
    ),
    OptionSpec("scale", str, "ci", "workload size", SCALES),
    OptionSpec("cluster", str, "local", "local | scheduler address | package.module:callable"),
    OptionSpec(
        "workers", int, None, "workers of the local cluster (default: sized to the machine)"
    ),
    OptionSpec("threads-per-worker", int, None, "threads per worker of the local cluster"),
    OptionSpec(
        "memory-limit", str, None, "memory limit per worker of the local cluster, e.g. 4GiB"
    ),
    OptionSpec("repeat", int, 1, "rounds: every benchmark once per round, round-robin"),
    OptionSpec("label", str, "default", "label of this run (environment or experiment name)"),
    OptionSpec("data-dir", str, None, "directory or fsspec URL for generated inputs (cached)"),
    OptionSpec(
        "reset", str, "restart", "reset the cluster before each benchmark", ("restart", "none")
    ),
    OptionSpec(
        "timeout", float, 1800.0, "seconds before a benchmark is stopped as timed out (0: never)"
    ),
    OptionSpec(
        "warmup",
        int,
        1,
        "unmeasured executions of each benchmark before the measured one(s), in the same "
        "cluster state (0: none)",
    ),
    OptionSpec(
        "min-time",
        float,
        0.0,
        "execute a benchmark's block again (each a value) until the measured time of the "
        "round reaches this many seconds (0: once per round)",
    ),
    OptionSpec(
        "order",
        str,
        "file",
        "order of the benchmarks within a round (random: a new permutation each round)",
        ORDERS,
    ),
    OptionSpec("seed", int, None, "seed of --order random (default: chosen and stored)"),
    OptionSpec(
        "health-timeout",
        float,
        HEALTH_TIMEOUT,
        "seconds to wait for lost workers to come back before a benchmark is recorded as an "
        "error (degraded cluster)",
    ),
)


def add_options(addoption: Callable[..., Any], prefix: str = "") -> None:
    """Declare every option through an argparse-style ``addoption`` (pytest's parser group)."""
    for spec in OPTIONS:
        kwargs: dict[str, Any] = {
            "dest": f"daskbench_{spec.dest}",
            "default": None,  # None = not given; SessionOptions applies the defaults
            "help": f"{spec.help} (default: {spec.default})",
        }
        if spec.choices:
            kwargs["choices"] = spec.choices
        if spec.type is not str:
            kwargs["type"] = spec.type
        addoption(f"--{prefix}{spec.name}", **kwargs)
