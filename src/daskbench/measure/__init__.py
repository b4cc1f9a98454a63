"""Measurement of a benchmark block on a Dask cluster."""

from daskbench.measure._recorder import Benchmark, ensure_plugin

__all__ = ["Benchmark", "ensure_plugin"]
