"""Every docstring example in the package runs, so none of them can rot.

Every module of ``daskbench`` is imported and its examples run (ELLIPSIS on), each module a
test of its own. Nothing is skipped silently: a module that cannot be imported on its own and
an example marked ``+SKIP`` must be listed below with the reason.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import daskbench

# Modules that only work inside another program: they must hold no examples.
NOT_IMPORTABLE = {
    "daskbench.store.migrations.env": "alembic's migration environment: runs inside alembic",
}
# Modules with examples that cannot run here, and why.
SKIPPED_EXAMPLES = {
    "daskbench.measure._recorder": "a benchmark as pytest runs it, with a cluster's fixtures",
}


def _modules() -> list[str]:
    names = ["daskbench"]
    for info in pkgutil.walk_packages(daskbench.__path__, "daskbench."):
        names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_every_module_is_covered() -> None:
    assert "daskbench.cli" in MODULES
    assert "daskbench.report._ab" in MODULES
    assert set(NOT_IMPORTABLE) <= set(MODULES)
    for name in NOT_IMPORTABLE:
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.origin is not None
        assert ">>>" not in Path(spec.origin).read_text(), f"{name} has examples nobody runs"


@pytest.mark.parametrize("name", [m for m in MODULES if m not in NOT_IMPORTABLE])
def test_module_examples(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    skipped = 0
    for test in finder.find(module, name):
        skipped += sum(bool(ex.options.get(doctest.SKIP)) for ex in test.examples)
        runner.run(test, out=print)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, capsys.readouterr().out
    assert bool(skipped) == (name in SKIPPED_EXAMPLES), (
        f"{name}: {skipped} example(s) marked +SKIP; list the module and the reason in "
        "SKIPPED_EXAMPLES (or make them run)"
    )
