"""Where ``daskbench run --performance-report DIR`` puts Dask's performance reports.

One HTML file per benchmark and run, ``DIR/<run id>/<test>.html`` (the run id keeps the
reports of earlier runs written to the same directory); the run records ``DIR`` in its
environment (``extra["performance_report"]``), and the dashboard's runs page links the files
it finds there::

    >>> from pathlib import Path
    >>> performance_report_file("reports", "20261201T101500-3f9a1c", "test_sum").as_posix()
    'reports/20261201T101500-3f9a1c/test_sum.html'
    >>> performance_report_file("r", "run", "test_a[x/y]").name
    'test_a-x-y-04846ece.html'
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from daskbench.models import Run

__all__ = ["RUN_EXTRA_KEY", "existing_reports", "performance_report_file"]

#: The key of ``Run.environment.extra`` that holds the report directory.
RUN_EXTRA_KEY = "performance_report"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def performance_report_file(directory: str | os.PathLike[str], run_id: str, test: str) -> Path:
    """The report file of ``test`` in run ``run_id``: a file-name-safe, unique name (a short
    hash of the test id is added when characters had to be replaced)."""
    name = _UNSAFE.sub("-", test).strip("-.")[:80] or "test"
    if name != test:
        name = f"{name}-{hashlib.sha1(test.encode()).hexdigest()[:8]}"
    return Path(directory) / run_id / f"{name}.html"


def existing_reports(run: Run, tests: Iterable[str], relative_to: Path) -> list[tuple[str, str]]:
    """``(test, href)`` of the reports of ``run`` that exist now, sorted by test; ``href`` is
    relative to ``relative_to`` (the dashboard's directory), so that both can move together.
    """
    directory = run.environment.extra.get(RUN_EXTRA_KEY)
    if not isinstance(directory, str) or not directory:
        return []
    links = []
    for test in sorted(set(tests)):
        path = performance_report_file(directory, run.id, test)
        if not path.is_file():
            continue
        try:
            href = Path(os.path.relpath(path, relative_to.absolute())).as_posix()
        except ValueError:  # another drive (Windows): an absolute URI
            href = path.absolute().as_uri()
        links.append((test, href))
    return links
