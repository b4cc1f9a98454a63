"""daskbench: statistical performance-regression testing for Dask.

The public API fits on one screen; everything else is private. Names are imported lazily so
that loading the pytest plugin (on every pytest run) stays cheap::

    >>> import daskbench
    >>> from daskbench import compare, open_store
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("daskbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_EXPORTS = {
    "ClusterSpec": "daskbench.cluster",
    "DaskbenchError": "daskbench.errors",
    "Environment": "daskbench.models",
    "Measurement": "daskbench.models",
    "Metric": "daskbench.metrics",
    "Outcome": "daskbench.models",
    "Result": "daskbench.models",
    "Run": "daskbench.models",
    "Session": "daskbench.session",
    "SessionOptions": "daskbench.session",
    "Store": "daskbench.store",
    "compare": "daskbench.stats",
    "compare_many": "daskbench.stats",
    "detect_change_points": "daskbench.stats",
    "get_metric": "daskbench.metrics",
    "minimum_detectable_effect": "daskbench.stats",
    "open_store": "daskbench.store",
    "register_metric": "daskbench.metrics",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from daskbench.cluster import ClusterSpec
    from daskbench.errors import DaskbenchError
    from daskbench.metrics import Metric, get_metric, register_metric
    from daskbench.models import Environment, Measurement, Outcome, Result, Run
    from daskbench.session import Session, SessionOptions
    from daskbench.stats import (
        compare,
        compare_many,
        detect_change_points,
        minimum_detectable_effect,
    )
    from daskbench.store import Store, open_store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'daskbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
