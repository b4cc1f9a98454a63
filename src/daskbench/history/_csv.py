"""Import a benchmark history from CSV: ``daskbench import --format csv FILE``.

One row per measurement, columns ``test,metric,value,timestamp`` and optionally ``label``,
``revision`` and ``run_id``. Rows sharing a ``run_id`` form one run; without one, rows
sharing ``label`` and ``timestamp`` do. Within a run, the k-th row of a (test, metric) is
repeat k of that test::

    test,metric,value,timestamp,revision
    test_sum,wall_time,1.25,2025-03-01T02:00:00Z,abc123
    test_sum,peak_memory,2.1e9,2025-03-01T02:00:00Z,abc123

The whole file is parsed and checked before anything is written; a bad row is a one-line
:class:`~daskbench.errors.ConfigError` naming the file, the line and the column. Timestamps
are ISO 8601 (naive ones are taken as UTC) or Unix seconds. A value no measurement can have
is refused the same way (:meth:`daskbench.metrics.Metric.invalid`): 0 or less for the metrics
compared as ratios (``wall_time``, ``peak_memory``, ``avg_memory``, ...), a negative time,
size or count. Everything is then written in one transaction: an import that fails or is
killed half-way leaves nothing, and can simply be run again.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from daskbench.errors import ConfigError, StoreError
from daskbench.metrics import get_metric
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import Store

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["ImportSummary", "import_csv", "parse_csv"]

REQUIRED = ("test", "metric", "value", "timestamp")
OPTIONAL = ("label", "revision", "run_id")
DEFAULT_LABEL = "default"


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote (or, for ``parse_csv``, would write)."""

    runs: tuple[Run, ...]
    results: tuple[Result, ...]
    skipped_runs: tuple[str, ...] = ()

    @property
    def measurements(self) -> int:
        return sum(len(r.measurements) for r in self.results)


@dataclass
class _RunRows:
    """Rows of one run while parsing: where it was first seen, and its results."""

    label: str
    line: int
    revision: str | None = None
    first: datetime | None = None
    last: datetime | None = None
    # (test, repeat) -> [(metric, value, timestamp)]
    results: dict[tuple[str, int], list[tuple[str, float, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    repeats: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (``Z`` allowed; naive means UTC) or Unix seconds, as an aware UTC datetime."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"Unix time {text!r} out of range") from None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp or Unix seconds: {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def _generated_run_id(label: str, stamp: datetime) -> str:
    # Deterministic, so importing the same rows twice finds the run already there.
    text = stamp.strftime("%Y%m%dT%H%M%S")
    if stamp.microsecond:
        text += f".{stamp.microsecond:06d}"
    return f"{label}@{text}Z"


def parse_csv(path: Path) -> ImportSummary:
    """Parse and validate ``path`` into runs and results, writing nothing."""
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{name}: empty file, expected a header line")
            columns = _check_header(name, [h.strip() for h in header])
            runs = _parse_rows(name, reader, columns)
        except csv.Error as exc:
            raise ConfigError(f"{name}:{reader.line_num}: malformed CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: not UTF-8 text ({exc.reason})") from None
    if not runs:
        raise ConfigError(f"{name}: no data rows after the header")
    return _build(name, runs)


def _check_header(name: str, header: list[str]) -> dict[str, int]:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(
            f"{name}:1: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})"
        )
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise ConfigError(
            f"{name}:1: unknown column(s) {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(REQUIRED + OPTIONAL)})"
        )
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise ConfigError(f"{name}:1: column(s) {', '.join(dup)} appear more than once")
    return {c: i for i, c in enumerate(header)}


def _parse_rows(name: str, reader: Reader, columns: dict[str, int]) -> dict[str, _RunRows]:
    runs: dict[str, _RunRows] = {}
    width = len(columns)
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != width:
            raise ConfigError(f"{name}:{line}: expected {width} fields, got {len(row)}")

        def cell(column: str, row: list[str] = row) -> str:
            i = columns.get(column)
            return row[i].strip() if i is not None else ""

        def bad(column: str, why: str, line: int = line) -> ConfigError:
            return ConfigError(f"{name}:{line}: column {column!r}: {why}")

        test, metric = cell("test"), cell("metric")
        if not test:
            raise bad("test", "empty")
        if not metric:
            raise bad("metric", "empty")
        try:
            value = float(cell("value"))
        except ValueError:
            raise bad("value", f"not a number: {cell('value')!r}") from None
        if not math.isfinite(value):
            raise bad("value", f"must be finite, got {cell('value')!r}")
        impossible = get_metric(metric).invalid(value)
        if impossible is not None:
            raise bad("value", impossible)
        try:
            stamp = parse_timestamp(cell("timestamp"))
        except ValueError as exc:
            raise bad("timestamp", str(exc)) from None
        label = cell("label") or DEFAULT_LABEL
        revision = cell("revision") or None
        run_id = cell("run_id") or _generated_run_id(label, stamp)

        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = _RunRows(label=label, line=line)
        elif run.label != label:
            raise bad(
                "label", f"run {run_id!r} has label {run.label!r} (line {run.line}), got {label!r}"
            )
        if revision is not None:
            if run.revision is not None and run.revision != revision:
                raise bad(
                    "revision",
                    f"run {run_id!r} has revision {run.revision!r}, got {revision!r}",
                )
            run.revision = revision
        run.first = stamp if run.first is None else min(run.first, stamp)
        run.last = stamp if run.last is None else max(run.last, stamp)
        repeat = run.repeats[(test, metric)]
        run.repeats[(test, metric)] += 1
        run.results[(test, repeat)].append((metric, value, stamp))
    return runs


def _build(name: str, runs: dict[str, _RunRows]) -> ImportSummary:
    built_runs: list[Run] = []
    built_results: list[Result] = []
    command = f"daskbench import {Path(name).name}"
    for run_id, rows in runs.items():
        assert rows.first is not None
        assert rows.last is not None
        built_runs.append(
            Run(
                id=run_id,
                label=rows.label,
                started_at=rows.first,
                finished_at=rows.last,
                command=command,
                environment=Environment(git_commit=rows.revision),
            )
        )
        for (test, repeat), measured in rows.results.items():
            built_results.append(
                Result(
                    run_id=run_id,
                    test=test,
                    repeat=repeat,
                    outcome=Outcome.PASSED,
                    started_at=min(m[2] for m in measured),
                    finished_at=max(m[2] for m in measured),
                    measurements=tuple(
                        Measurement(metric, value, get_metric(metric).unit)
                        for metric, value, _ in measured
                    ),
                )
            )
    return ImportSummary(tuple(built_runs), tuple(built_results))


def import_csv(
    store: Store,
    path: Path,
    *,
    skip_existing: bool = False,
    parsed: ImportSummary | None = None,
) -> ImportSummary:
    """Parse ``path`` (unless ``parsed`` is given) and add its runs and results to ``store``,
    in one transaction: all of them or, on any error or interruption, none.

    A run id already in the store is an error (nothing written), or with ``skip_existing``
    that run's rows are left out: re-importing a growing export adds only the new runs.
    """
    if parsed is None:
        parsed = parse_csv(path)
    existing = {r.id for r in store.runs()}
    clash = [r.id for r in parsed.runs if r.id in existing]
    if clash and not skip_existing:
        more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
        raise ConfigError(
            f"{path}: run {clash[0]!r}{more} already in the history; nothing imported "
            "(use --skip-existing to import only new runs)"
        )
    skipped = set(clash)
    new_runs = tuple(r for r in parsed.runs if r.id not in skipped)
    new_results = tuple(r for r in parsed.results if r.run_id not in skipped)
    try:
        store.add_runs_with_results(new_runs, new_results)
    except StoreError as exc:
        # E.g. another import of the same file committed first: it wrote everything.
        raise StoreError(f"{path}: {exc}") from None
    return ImportSummary(new_runs, new_results, tuple(sorted(skipped)))
