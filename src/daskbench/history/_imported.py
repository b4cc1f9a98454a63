"""What the importers of other tools' results share: reading JSON, naming bad fields, writing.

An import of asv or pytest-benchmark results is a :class:`~daskbench.store._merge.Batch` of
runs and results, written with :meth:`Store.merge <daskbench.store.Store.merge>`: one
transaction, all or nothing, and idempotent (re-importing a results directory that grew
adds only its new runs; a run whose data changed is an error naming it). Run ids are derived
from the files (label and commit or date), so the same file always maps to the same run.

Errors are one line naming the file and the field (``benchmarks[3].stats.median``), or the
line for malformed JSON, like the CSV importer's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daskbench.errors import ConfigError
from daskbench.store import Batch, MergeCounts, Store

__all__ = ["FORMATS", "import_foreign", "load_json", "need", "parse_foreign"]

FORMATS = ("asv", "pytest-benchmark")


def load_json(path: Path) -> Any:
    """The parsed file; ConfigError naming the file (and line) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(text)  # accepts NaN and Infinity, which asv writes
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def need(path: Path, where: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` if it is a ``kind``, else ConfigError naming the file and the field."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        names = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in names)
        raise ConfigError(f"{path}: field {where!r}: expected {wanted}, got {_short(value)}")
    return value


def finite(path: Path, where: str, value: Any) -> float:
    """A finite number (ints allowed), else ConfigError naming the field."""
    number = need(path, where, value, (int, float))
    if not math.isfinite(number):
        raise ConfigError(f"{path}: field {where!r}: must be finite, got {number!r}")
    return float(number)


_KIND_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def get(mapping: Mapping[str, Any], key: str, default: Any = None) -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def parse_foreign(fmt: str, path: Path, *, label: str | None = None) -> Batch:
    """Parse ``path`` in format ``fmt`` (one of :data:`FORMATS`) into runs and results."""
    if fmt == "asv":
        from daskbench.history._asv import parse_asv

        return parse_asv(path, label=label)
    if fmt == "pytest-benchmark":
        from daskbench.history._pytest_benchmark import parse_pytest_benchmark

        return parse_pytest_benchmark(path, label=label)
    raise ConfigError(f"unknown import format {fmt!r} (expected {', '.join(FORMATS)})")


def import_foreign(store: Store, batch: Batch, path: Path) -> str:
    """Write a parsed import in one transaction and say what was imported."""
    return summary(write(store, batch, path), path)


def write(store: Store, batch: Batch, path: Path) -> MergeCounts:
    """All or nothing, idempotent (see the module docstring).

    If the store gains a dedicated atomic "add runs with results" method, this is the one
    line to switch; ``merge`` is used because it also makes re-imports idempotent.
    """
    return store.merge(batch, source=str(path))


def summary(counts: MergeCounts, path: Path) -> str:
    text = (
        f"imported {counts.runs} run(s), {counts.results} result(s), "
        f"{counts.measurements} measurement(s) from {path}"
    )
    if counts.runs_present or counts.results_present:
        text += (
            f"; already in the history: {counts.runs_present} run(s), "
            f"{counts.results_present} result(s)"
        )
    return text
