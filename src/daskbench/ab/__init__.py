"""A/B testing: compare environments with interleaved rounds and FDR-controlled verdicts.

``daskbench ab base.yaml candidate.yaml --repeat 10 --null`` builds each environment
(:mod:`._venv`), runs the benchmarks in ABBA-interleaved rounds (:mod:`._runner`), compares
every environment with the first (:mod:`._compare`) and writes Markdown, JSON and HTML
reports (:mod:`daskbench.report._ab`). ``daskbench compare`` does the last two steps for labels
already in a database.

    >>> from daskbench.ab import parse_spec
    >>> spec = parse_spec({"config": {"dataframe.shuffle.method": "p2p"}}, "p2p.yaml")
    >>> spec.dask_env()
    {'DASK_DATAFRAME__SHUFFLE__METHOD': "'p2p'"}
"""

from daskbench.ab._compare import ABComparison, Row, compare_labels
from daskbench.ab._spec import EnvSpec, load_spec, parse_spec

__all__ = ["ABComparison", "EnvSpec", "Row", "compare_labels", "load_spec", "parse_spec"]
