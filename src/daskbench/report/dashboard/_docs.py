"""What a test is: its docstring and category, found without importing anything.

A result's ``path`` is its pytest node id (``test_dataframe.py::test_shuffle[p2p]``). The
docstring is read with :mod:`ast` from that file, looked up relative to the current
directory and to the shipped suite, so building a dashboard never runs benchmark code. The
category is the module name without ``test_`` (``dataframe``); for imported histories without
a path, the part of the test name before the first ``.``, ``/`` or ``::``, else ``other``.

    >>> category("test_dataframe.py::test_shuffle[p2p]", "test_shuffle[p2p]")
    'dataframe'
    >>> category("", "io.test_read_parquet")
    'io'
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

__all__ = ["category", "docstring"]

_SPLIT = re.compile(r"::|/|\.")


def _suite_dir() -> Path | None:
    try:
        import daskbench.suite
    except ImportError:  # pragma: no cover - a build without the suite
        return None
    return Path(daskbench.suite.__file__).parent


def category(path: str, test: str) -> str:
    if path:
        module = Path(path.split("::", 1)[0]).stem
        return module.removeprefix("test_").removesuffix("_test") or module
    parts = _SPLIT.split(test, maxsplit=1)
    return parts[0] if len(parts) > 1 and parts[0] else "other"


@cache
def _docstrings(file: Path) -> dict[str, str]:
    """function or Class::function name -> docstring, for every test function in ``file``."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = ast.get_docstring(node) or ""
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}::{sub.name}"] = ast.get_docstring(sub) or ""
    return found


def docstring(path: str, test: str) -> str:
    """The test function's docstring, or ``""`` when its source cannot be found."""
    if not path or "::" not in path:
        return ""
    file_part, _, node = path.partition("::")
    name = node.split("[", 1)[0] or test.split("[", 1)[0]
    candidates = [Path(file_part)]
    suite = _suite_dir()
    if suite is not None:
        candidates += [suite / file_part, suite / Path(file_part).name]
    for candidate in candidates:
        if candidate.is_file():
            docs = _docstrings(candidate.resolve())
            if name in docs:
                return docs[name]
    return ""
