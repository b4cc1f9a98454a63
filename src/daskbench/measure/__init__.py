"""Measurement of a benchmark block on a Dask cluster."""

from daskbench.measure._isolation import before_benchmark
from daskbench.measure._recorder import Benchmark, ensure_plugin

__all__ = ["Benchmark", "before_benchmark", "ensure_plugin"]
