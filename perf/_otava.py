"""Run apache-otava on our series, in its own virtual environment, for side-by-side figures.

Otava is never a dependency of daskbench: on first use this creates a venv under
``~/.cache/daskbench-perf/otava`` and pip-installs ``apache-otava`` there. The series are
handed over in an ``.npz`` file and analysed by a small script run with the venv's Python,
which times only the analysis (not interpreter start-up or data loading) and prints JSON.

The analysis is ``otava.analysis.compute_change_points`` (the windowed E-divisive "Hunter"
method behind ``otava analyze``), with the same options as the command line: ``window_len``
(default 50), ``max_pvalue`` (default 0.001) and ``min_magnitude`` (default 0.0).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import numpy as np

OTAVA_VERSION = "0.8.0"
VENV = Path.home() / ".cache" / "daskbench-perf" / "otava"

_RUNNER = r"""
import json, sys, time
import numpy as np
from otava.analysis import compute_change_points

data = np.load(sys.argv[1])
opts = json.loads(sys.argv[2])
series = [data[f"s{i}"].tolist() for i in range(len(data.files))]
found, times, cpu = None, [], []
for _ in range(opts["repeats"]):
    t0, c0 = time.perf_counter(), time.process_time()
    found = [
        [int(cp.index) for cp in compute_change_points(
            s, window_len=opts["window_len"], max_pvalue=opts["max_pvalue"],
            min_magnitude=opts["min_magnitude"])[0]]
        for s in series
    ]
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
json.dump({"found": found, "times": times, "cpu": cpu}, sys.stdout)
"""


def python() -> Path:
    """The venv's interpreter, creating the venv and installing otava on first use."""
    exe = VENV / "bin" / "python"
    if not exe.exists():
        print(
            f"creating {VENV} with apache-otava=={OTAVA_VERSION} (first use only) ...",
            file=sys.stderr,
        )
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(exe), "-m", "pip", "install", "-q", f"apache-otava=={OTAVA_VERSION}"],
            check=True,
        )
    return exe


def run(
    series: list[np.ndarray],
    *,
    window_len: int = 50,
    max_pvalue: float = 0.001,
    min_magnitude: float = 0.0,
    repeats: int = 1,
) -> tuple[list[list[int]], list[float], list[float]]:
    """Otava's change point indices per series, and wall and CPU seconds of each repeat."""
    exe = python()
    opts = {
        "window_len": window_len,
        "max_pvalue": max_pvalue,
        "min_magnitude": min_magnitude,
        "repeats": repeats,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "series.npz"
        np.savez(path, **{f"s{i}": np.asarray(s, dtype=np.float64) for i, s in enumerate(series)})
        out = subprocess.run(
            [str(exe), "-c", _RUNNER, str(path), json.dumps(opts)],
            check=True,
            capture_output=True,
            text=True,
        )
    result = json.loads(out.stdout)
    return result["found"], result["times"], result["cpu"]
