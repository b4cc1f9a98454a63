"""Import pytest-benchmark JSON: ``daskbench import --format pytest-benchmark FILE``.

FILE is what ``pytest --benchmark-json=FILE`` or ``--benchmark-autosave`` wrote, or a
directory of such files (``.benchmarks/``, searched recursively). Each file is one run:

- label: pytest-benchmark's machine id (``Linux-CPython-3.11-64bit``, the folder its
  autosave uses), or ``--label``; run id ``<label>@<datetime of the file>``; ``started_at``
  is that datetime (when the session saved it);
- the fingerprint: ``commit_info`` (commit id, dirty, branch, project, commit time) and
  ``machine_info`` (Python, platform, CPU model and count, node name) -- all but the CPU's
  flag list.

Each benchmark is a test named like its pytest id (``test_sort[1000]``; the full node id is
the result's path, and the test name when two benchmarks of one file share a name). When
the raw timings were saved (``--benchmark-save-data``), each round is one repeat of
``wall_time`` (seconds per iteration, as pytest-benchmark stores them); otherwise the
median of the stats is repeat 0.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daskbench.errors import ConfigError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import Batch

from ._imported import finite, get, load_json, need

__all__ = ["machine_id", "parse_pytest_benchmark"]


def machine_id(machine_info: dict[str, Any]) -> str:
    """pytest-benchmark's storage folder name for the machine, e.g. ``Linux-CPython-3.11-64bit``.

    >>> machine_id({"system": "Linux", "python_implementation": "CPython",
    ...             "python_version": "3.11.7", "cpu": {"bits": 64}})
    'Linux-CPython-3.11-64bit'
    """
    version = ".".join(str(get(machine_info, "python_version", "")).split(".")[:2])
    bits = get(get(machine_info, "cpu", {}), "bits")
    parts = [
        str(get(machine_info, "system", "") or ""),
        str(get(machine_info, "python_implementation", "") or ""),
        version,
        f"{bits}bit" if bits else "",
    ]
    return "-".join(p for p in parts if p) or "pytest-benchmark"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(path.rglob("*.json"))
        if not found:
            raise ConfigError(f"{path}: no pytest-benchmark .json files in this directory")
        return found
    if not path.exists():
        raise ConfigError(f"cannot read {path}: no such file or directory")
    return [path]


def parse_pytest_benchmark(path: Path, *, label: str | None = None) -> Batch:
    """Parse the file (or every file under the directory) ``path``; write nothing."""
    runs: list[Run] = []
    results: list[Result] = []
    seen: dict[str, Path] = {}
    for file in _files(path):
        run, run_results = _parse_file(file, label)
        if run.id in seen:
            raise ConfigError(f"{file}: the same run ({run.id!r}) as {seen[run.id]}")
        seen[run.id] = file
        runs.append(run)
        results += run_results
    return Batch(tuple(runs), tuple(results))


def _stamp(file: Path, value: Any) -> datetime:
    text = need(file, "datetime", value, str)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{file}: field 'datetime': not an ISO 8601 time: {text!r}") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _environment(file: Path, data: dict[str, Any]) -> Environment:
    machine = need(file, "machine_info", get(data, "machine_info", {}), dict)
    commit = get(data, "commit_info", {}) or {}
    need(file, "commit_info", commit, dict)
    cpu = get(machine, "cpu", {}) or {}
    commit_id = get(commit, "id")
    extra: dict[str, Any] = {
        "hostname": get(machine, "node", ""),
        "pytest_benchmark_version": get(data, "version", ""),
    }
    for key in ("python_implementation", "python_compiler"):
        if get(machine, key):
            extra[key] = get(machine, key)
    for key in ("branch", "project", "time", "author_time"):
        if get(commit, key) is not None:
            extra[f"commit_{key}"] = get(commit, key)
    if get(cpu, "hz_actual_friendly"):
        extra["cpu_hz"] = get(cpu, "hz_actual_friendly")
    count = get(cpu, "count", 0)
    return Environment(
        python_version=str(get(machine, "python_version", "") or ""),
        platform="-".join(
            str(get(machine, k)) for k in ("system", "release", "machine") if get(machine, k)
        ),
        cpu_model=str(get(cpu, "brand_raw", "") or get(machine, "processor", "") or ""),
        cpu_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        git_commit=commit_id if isinstance(commit_id, str) and commit_id != "unversioned" else None,
        git_dirty=get(commit, "dirty") if isinstance(get(commit, "dirty"), bool) else None,
        extra=extra,
    )


def _parse_file(file: Path, label: str | None) -> tuple[Run, list[Result]]:
    data = need(file, "(top level)", load_json(file), dict)
    benchmarks = need(file, "benchmarks", get(data, "benchmarks"), list)
    stamp = _stamp(file, get(data, "datetime"))
    env = _environment(file, data)
    run_label = label or machine_id(get(data, "machine_info", {}))
    run_id = f"{run_label}@{stamp:%Y%m%dT%H%M%S.%f}Z"
    names = Counter(get(b, "name") for b in benchmarks)
    results: list[Result] = []
    for i, bench in enumerate(benchmarks):
        where = f"benchmarks[{i}]"
        need(file, where, bench, dict)
        name = need(file, f"{where}.name", get(bench, "name"), str)
        fullname = str(get(bench, "fullname", "") or "")
        test = fullname if names[name] > 1 and fullname else name
        stats = need(file, f"{where}.stats", get(bench, "stats"), dict)
        raw = get(stats, "data")
        if raw:
            need(file, f"{where}.stats.data", raw, list)
            values = [finite(file, f"{where}.stats.data[{k}]", v) for k, v in enumerate(raw)]
        else:
            values = [finite(file, f"{where}.stats.median", get(stats, "median"))]
        for repeat, value in enumerate(values):
            results.append(
                Result(
                    run_id=run_id,
                    test=test,
                    repeat=repeat,
                    outcome=Outcome.PASSED,
                    started_at=stamp,
                    finished_at=stamp,
                    measurements=(Measurement("wall_time", value, "s"),),
                    path=fullname,
                )
            )
    run = Run(
        id=run_id,
        label=run_label,
        started_at=stamp,
        finished_at=stamp,
        command=f"pytest --benchmark-json ({file.name})",
        environment=env,
    )
    return run, results
