"""Import an asv ``results/`` directory: ``daskbench import --format asv DIR``.

asv (airspeed velocity) keeps one JSON file per machine, commit and environment
(``results/<machine>/<commit>-<env>.json``, result format version 2, asv >= 0.5), the
machine's description (``machine.json``) and the benchmark catalogue (``benchmarks.json``).
Each result file becomes one run:

- label ``<machine>/<environment name>`` (one lineage per machine and environment, as asv
  graphs them), or ``--label``; run id ``<label>@<commit[:12]>``;
- ``started_at`` is the *commit date*, so runs are ordered as asv orders them (a commit
  benchmarked later, e.g. by ``asv run ALL``, still lands at its place in history); when the
  benchmarks actually ran is kept per result and in ``extra["asv_measured_at"]``;
- the fingerprint: commit, machine (CPU, CPU count, RAM, OS, arch), Python, the
  environment's requirements as packages, and ``env_vars``.

Each benchmark x parameter combination is a test, named like pytest's ids:
``bench.TimeSuite.time_sort[10-'quick']`` (asv's parameter reprs, strings unquoted where that
stays unambiguous). Values become metrics by benchmark type: ``time`` -> ``wall_time``,
``peakmemory`` -> ``peak_memory``, ``memory`` -> ``object_size`` (bytes), ``track`` ->
``track`` (with the benchmark's unit). When asv stored the samples (``--record-samples``),
each sample is one repeat; otherwise the one value asv kept (the median, for timings) is
repeat 0. A benchmark that failed (``null``) is a failed result; one not run for some
parameters (``NaN``) is skipped.

Re-benchmarking a commit makes asv overwrite its file; importing it again is then a
conflict naming the run (daskbench never silently replaces measured data).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daskbench.errors import ConfigError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.store import Batch

from ._imported import finite, get, load_json, need

__all__ = ["METRICS", "parse_asv"]

# asv benchmark type -> daskbench metric (unit None: the benchmark's own unit).
METRICS: dict[str, tuple[str, str | None]] = {
    "time": ("wall_time", "s"),
    "peakmemory": ("peak_memory", "B"),
    "memory": ("object_size", "B"),
    "track": ("track", None),
}
_PREFIXES = {"time": "time", "timeraw": "time", "peakmem": "peakmemory", "mem": "memory"}
_VERSION_RE = re.compile(r"^\d+(\.\d+)*$")
FAILED = "asv recorded no result: the benchmark failed (see asv's log)"
SKIPPED = "asv did not run these parameters (NaN)"


def _results_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ConfigError(f"{path}: not a directory (expected an asv results/ directory)")
    if not (path / "benchmarks.json").is_file() and (path / "results").is_dir():
        return path / "results"  # the project directory was given
    return path


def parse_asv(path: Path, *, label: str | None = None) -> Batch:
    """Parse every result file under the asv results directory ``path``; write nothing."""
    root = _results_dir(path)
    catalogue_file = root / "benchmarks.json"
    catalogue = load_json(catalogue_file) if catalogue_file.is_file() else {}
    need(catalogue_file, "(top level)", catalogue, dict)
    files = sorted(
        f
        for machine_dir in root.iterdir()
        if machine_dir.is_dir()
        for f in machine_dir.glob("*.json")
        if f.name != "machine.json"
    )
    if not files:
        raise ConfigError(
            f"{root}: no asv result files (expected <machine>/<commit>-<env>.json files)"
        )
    runs: list[Run] = []
    results: list[Result] = []
    seen: dict[str, Path] = {}
    for file in files:
        run, run_results = _parse_file(file, root, catalogue, label)
        if run.id in seen:
            raise ConfigError(
                f"{file}: maps to run {run.id!r} like {seen[run.id]}; give each machine and "
                "environment its own label (leave out --label)"
            )
        seen[run.id] = file
        runs.append(run)
        results += run_results
    return Batch(tuple(runs), tuple(results))


def _machine(file: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """machine.json next to the result file, overlaid by the result's own params."""
    info: dict[str, Any] = {}
    machine_file = file.parent / "machine.json"
    if machine_file.is_file():
        loaded = load_json(machine_file)
        info.update(need(machine_file, "(top level)", loaded, dict))
    params = get(data, "params", {})
    if isinstance(params, dict):
        info.update(params)
    return info


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


def _bytes(value: Any) -> int:
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(str(value).strip()))
    except (ValueError, TypeError):
        return 0


def _environment(file: Path, data: Mapping[str, Any], commit: str) -> Environment:
    machine = _machine(file, data)
    python = str(get(data, "python") or machine.get("python") or "")
    requirements = get(data, "requirements", {})
    packages = {
        str(k): str(v)
        for k, v in (requirements.items() if isinstance(requirements, dict) else ())
        if v not in (None, "")
    }
    extra: dict[str, Any] = {
        "hostname": str(machine.get("machine", file.parent.name)),
        "asv_env_name": str(get(data, "env_name", "")),
    }
    if python and not _VERSION_RE.match(python):
        extra["asv_python"] = python  # e.g. the interpreter path of an "existing" environment
    env_vars = get(data, "env_vars")
    if env_vars:
        extra["asv_env_vars"] = env_vars
    return Environment(
        python_version=python if _VERSION_RE.match(python) else "",
        platform=" ".join(str(machine[k]) for k in ("os", "arch") if machine.get(k)),
        cpu_model=str(machine.get("cpu", "")),
        cpu_count=_int(machine.get("num_cpu", 0)),
        memory_total=_bytes(machine.get("ram", 0)),
        packages=packages,
        git_commit=commit,
        extra=extra,
    )


def _ms(file: Path, where: str, value: Any) -> datetime:
    stamp = finite(file, where, value)
    try:
        return datetime.fromtimestamp(stamp / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        raise ConfigError(f"{file}: field {where!r}: not a time in ms: {value!r}") from None


def _parse_file(
    file: Path, root: Path, catalogue: Mapping[str, Any], label: str | None
) -> tuple[Run, list[Result]]:
    data = need(file, "(top level)", load_json(file), dict)
    version = get(data, "version")
    if version != 2:
        raise ConfigError(
            f"{file}: asv result format version {version!r}; only version 2 (asv >= 0.5) is "
            "read: convert older results with `asv update`"
        )
    commit = need(file, "commit_hash", get(data, "commit_hash"), str)
    env_name = need(file, "env_name", get(data, "env_name"), str)
    date = _ms(file, "date", get(data, "date"))
    columns = need(file, "result_columns", get(data, "result_columns"), list)
    entries = need(file, "results", get(data, "results"), dict)
    machine = file.parent.name
    run_label = label or f"{machine}/{env_name}"
    run_id = f"{run_label}@{commit[:12]}"
    env = _environment(file, data, commit)
    results: list[Result] = []
    for name in sorted(entries):
        results += _benchmark(file, run_id, name, entries[name], columns, catalogue, date)
    measured = [r.started_at for r in results]
    if measured:
        env.extra["asv_measured_at"] = min(measured).isoformat()
    env.extra["asv_file"] = str(file.relative_to(root))
    run = Run(
        id=run_id,
        label=run_label,
        started_at=date,
        finished_at=max((r.finished_at for r in results), default=None),
        command=f"asv run ({root.name}/{machine})",
        environment=env,
    )
    return run, results


def _kind(name: str, info: Mapping[str, Any]) -> tuple[str, str]:
    """(metric, unit) of benchmark ``name``, from benchmarks.json or else its prefix."""
    kind = info.get("type")
    if not isinstance(kind, str):
        prefix = name.rsplit(".", 1)[-1].split("_", 1)[0]
        kind = _PREFIXES.get(prefix, "track")
    metric, unit = METRICS.get(kind, ("track", None))
    return metric, unit if unit is not None else str(info.get("unit") or "")


def _param_text(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def _test_ids(name: str, params: Sequence[Sequence[str]]) -> list[str]:
    combos = list(itertools.product(*params)) if params else [()]
    if combos == [()]:
        return [name]
    plain = ["-".join(_param_text(str(p)) for p in combo) for combo in combos]
    if len(set(plain)) < len(plain):  # unquoting made two ids equal: keep asv's reprs
        plain = ["-".join(str(p) for p in combo) for combo in combos]
    return [f"{name}[{p}]" for p in plain]


def _column(row: Sequence[Any], columns: Sequence[Any], name: str) -> Any:
    try:
        i = columns.index(name)
    except ValueError:
        return None
    return row[i] if i < len(row) else None


def _benchmark(
    file: Path,
    run_id: str,
    name: str,
    row: Any,
    columns: Sequence[Any],
    catalogue: Mapping[str, Any],
    date: datetime,
) -> list[Result]:
    where = f"results.{name}"
    row = need(file, where, row, list)
    info = catalogue.get(name) if isinstance(catalogue.get(name), dict) else {}
    assert isinstance(info, dict)
    metric, unit = _kind(name, info)
    params = _column(row, columns, "params") or []
    need(file, f"{where}.params", params, list)
    for i, values in enumerate(params):
        need(file, f"{where}.params[{i}]", values, list)
    tests = _test_ids(name, params)
    values = _column(row, columns, "result")
    if values is not None:
        need(file, f"{where}.result", values, list)
        if len(values) != len(tests):
            raise ConfigError(
                f"{file}: field {where + '.result'!r}: {len(values)} values for "
                f"{len(tests)} parameter combinations"
            )
    samples = _column(row, columns, "samples")
    if samples is not None:
        need(file, f"{where}.samples", samples, list)
    started_raw = _column(row, columns, "started_at")
    started = _ms(file, f"{where}.started_at", started_raw) if started_raw is not None else date
    duration = _column(row, columns, "duration")
    seconds = finite(file, f"{where}.duration", duration) if duration is not None else 0.0
    finished = started + timedelta(seconds=max(seconds, 0.0))

    def make(test: str, repeat: int, outcome: Outcome, value: float | None = None) -> Result:
        found = (Measurement(metric, value, unit),) if value is not None else ()
        error = {Outcome.FAILED: FAILED, Outcome.SKIPPED: SKIPPED}.get(outcome)
        return Result(run_id, test, repeat, outcome, started, finished, found, error)

    out: list[Result] = []
    for i, test in enumerate(tests):
        value = values[i] if values is not None else None
        if value is None:
            out.append(make(test, 0, Outcome.FAILED))
            continue
        number = need(file, f"{where}.result[{i}]", value, (int, float))
        if isinstance(number, float) and math.isnan(number):
            out.append(make(test, 0, Outcome.SKIPPED))
            continue
        finite(file, f"{where}.result[{i}]", number)
        mine = samples[i] if samples is not None and i < len(samples) else None
        if mine:
            need(file, f"{where}.samples[{i}]", mine, list)
            for k, sample in enumerate(mine):
                v = finite(file, f"{where}.samples[{i}][{k}]", sample)
                out.append(make(test, k, Outcome.PASSED, v))
        else:
            out.append(make(test, 0, Outcome.PASSED, float(number)))
    return out
