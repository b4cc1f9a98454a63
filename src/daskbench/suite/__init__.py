"""The daskbench benchmark suite: realistic end-to-end Dask workloads as pytest tests.

``daskbench run`` collects it with ``pytest --pyargs daskbench.suite``. One module per
category, each category a marker (``dataframe``, ``tpch``, ``array``, ``xarray``, ``futures``,
``stealing``, ``spill``, ``io``). Workload sizes come from the cluster's memory and threads
through :mod:`daskbench.suite._sizing`, so one test is meaningful on 2 workers and on 100.

Every benchmark uses the fixtures of the daskbench pytest plugin (``client``, ``cluster``,
``benchmark``, ``scale``, ``data_dir``) plus the suite's own ``sizing`` fixture
(``suite/conftest.py``), generates its inputs deterministically outside the measured block,
and asserts its result so that a change that is fast because it is wrong never looks like
an improvement.

For daskbench's own tests only, the environment variable ``DASKBENCH_SUITE_SIZING=tiny``
overrides the plugin's scale with an internal, even smaller scale.
"""
