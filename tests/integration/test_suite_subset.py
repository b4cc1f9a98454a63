"""One benchmark per category of the shipped suite runs green on a real LocalCluster.

The suite is collected exactly as ``daskbench run`` does (``pytest --pyargs
daskbench.suite`` with the daskbench plugin) in a subprocess, at the internal ``tiny`` sizing
(``DASKBENCH_SUITE_SIZING=tiny``, see ``daskbench/suite/conftest.py``) so the whole subset
takes well under a minute. Warnings are errors, as in the project's own tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# one benchmark per category (marker), the cheapest meaningful one where there is a choice
SUBSET = {
    "dataframe": "test_shuffle and p2p",
    "tpch": "test_tpch_q3",
    "array": "test_map_overlap",
    "xarray": "test_xarray_zarr_roundtrip",
    "futures": "test_client_map_many_tasks",
    "stealing": "test_stealing_lognormal_durations",
    "spill": "test_spill_persist_and_reduce",
    "io": "test_csv_to_parquet",
}


def test_one_benchmark_per_category_passes_at_tiny_size(tmp_path):
    expression = " or ".join(f"({k})" for k in SUBSET.values())
    env = {
        **os.environ,
        "DASKBENCH_SUITE_SIZING": "tiny",
        # distributed's SpecCluster closes a worker whose name is missing from the scheduler
        # 15 s after an earlier removal; with a restart every few seconds that window is hit
        "DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "1h",
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "daskbench.suite",
        "-k",
        expression,
        "-p",
        "no:benchmark",  # pytest-benchmark's fixture of the same name
        "-p",
        "no:cacheprovider",
        "-W",
        "error",
        "-W",
        "ignore::ResourceWarning",
        "-W",
        "ignore:Port:UserWarning",
        "-rA",
        "--daskbench-db",
        f"sqlite:///{tmp_path / 'history.db'}",
        "--daskbench-workers",
        "2",
        "--daskbench-threads-per-worker",
        "1",
        "--daskbench-memory-limit",
        "1GiB",
        "--daskbench-data-dir",
        str(tmp_path / "data"),
    ]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    passed = [line for line in proc.stdout.splitlines() if line.startswith("PASSED")]
    assert len(passed) == len(SUBSET), output[-6000:]
    markers = {line.split("::")[0].rsplit("test_", 1)[-1].removesuffix(".py") for line in passed}
    assert markers == set(SUBSET), markers
