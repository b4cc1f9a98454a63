"""The usage examples in the statistics modules' docstrings run, or they rot."""

import doctest
import importlib

import pytest

MODULES = [
    "daskbench.stats",
    "daskbench.stats._compare",
    "daskbench.stats._fdr",
    "daskbench.stats._noise",
    "daskbench.stats._power",
    "daskbench.stats._ranks",
    "daskbench.stats._sequential",
    "daskbench.stats._ttests",
    "daskbench.stats._validate",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
