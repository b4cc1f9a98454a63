"""Flat records of results for ``daskbench export`` (JSON list or CSV), one per result.

Missing values are ``None`` (null in JSON, empty in CSV), never 0: a metric that was not
measured (a failed benchmark, an older daskbench) must not look like a measured zero.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from daskbench.metrics import CORE_METRICS
from daskbench.models import Result, Run
from daskbench.store import Store

__all__ = ["export_records", "records_to_csv", "records_to_json", "result_record"]

_CORE = [m.name for m in CORE_METRICS]
_FIXED = [
    "run_id",
    "label",
    "started_at",
    "finished_at",
    "run_started_at",
    "test",
    "path",
    "repeat",
    "execution",
    "workers",
    "threads",
    "outcome",
    "error",
    "scale",
    *_CORE,
    "dask_version",
    "distributed_version",
    "python_version",
    "git_commit",
    # The cluster that ran it (the workers' side; see environment.cluster_fingerprint).
    "cluster_workers",
    "cluster_threads",
    "cluster_memory_limit",
    "worker_python_version",
    "worker_dask_version",
    "worker_distributed_version",
    "version_mismatches",
]


def result_record(run: Run, result: Result) -> dict[str, Any]:
    """The flat export record of one result of ``run``."""
    packages = run.environment.packages
    rec: dict[str, Any] = {
        "run_id": run.id,
        "label": run.label,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "run_started_at": run.started_at.isoformat(),
        "test": result.test,
        "path": result.path or None,
        "repeat": result.repeat,
        "execution": result.execution,
        "workers": result.workers,
        "threads": result.threads,
        "outcome": result.outcome.value,
        "error": result.error,
        "scale": run.scale,
        "dask_version": packages.get("dask"),
        "distributed_version": packages.get("distributed"),
        "python_version": run.environment.python_version or None,
        "git_commit": run.environment.git_commit,
        **_cluster_fields(run.environment.cluster),
    }
    metrics = result.metrics
    for name in _CORE:
        rec[name] = metrics.pop(name, None)
    rec.update(sorted(metrics.items()))
    return rec


def _cluster_fields(cluster: dict[str, Any]) -> dict[str, Any]:
    mismatches = cluster.get("version_mismatches") or []
    return {
        "cluster_workers": cluster.get("workers"),
        "cluster_threads": cluster.get("threads"),
        "cluster_memory_limit": cluster.get("memory_limit"),
        "worker_python_version": cluster.get("workers.python"),
        "worker_dask_version": cluster.get("workers.packages.dask"),
        "worker_distributed_version": cluster.get("workers.packages.distributed"),
        "version_mismatches": "; ".join(map(str, mismatches)) or None,
    }


def export_records(
    store: Store, *, label: str | None = None, run_id: str | None = None
) -> list[dict[str, Any]]:
    """One flat dict per result, oldest run first."""
    runs = {run_id: store.get_run(run_id)} if run_id else {r.id: r for r in store.runs(label=label)}
    results = store.results(run_id=run_id, label=label)
    records = [result_record(runs[r.run_id], r) for r in results if r.run_id in runs]
    # Every record has every field: a custom metric one benchmark did not record is null.
    custom = sorted({k for rec in records for k in rec} - set(_FIXED))
    return [{**rec, **{k: rec.get(k) for k in custom}} for rec in records]


def records_to_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), indent=2, allow_nan=False)


def records_to_csv(records: Sequence[dict[str, Any]]) -> str:
    extra = sorted({k for rec in records for k in rec} - set(_FIXED))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*_FIXED, *extra], lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: ("" if v is None else v) for k, v in rec.items()})
    return buf.getvalue()
