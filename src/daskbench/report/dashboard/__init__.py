"""A static dashboard of the history: ``daskbench dashboard --db URL --out DIR``.

Plain HTML, one vendored charting library (uPlot, MIT) shared by all pages, and compact data
files; no CDN and no server needed (the pages open from ``file://``)::

    >>> import tempfile
    >>> from pathlib import Path
    >>> from daskbench.store import open_store
    >>> with open_store("memory://") as store:  # a real history has a page per test
    ...     build_dashboard(store, Path(tempfile.mkdtemp()) / "site").tests
    0
"""

from daskbench.report.dashboard._build import BuildStats, build_dashboard

__all__ = ["BuildStats", "build_dashboard"]
