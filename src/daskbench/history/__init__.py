"""A benchmark's history over months of CI: import it, find regressions, acknowledge them.

    >>> from daskbench.store import open_store
    >>> from daskbench.history import detect, load_history
    >>> with open_store("memory://") as store:
    ...     detect(load_history(store)).failing
    []

``daskbench import`` / ``detect`` / ``ack`` / ``dashboard`` (in :mod:`._cli`) are the command
line over these functions; the dashboard itself lives in :mod:`daskbench.report.dashboard`.
"""

from daskbench.history._acks import acknowledge
from daskbench.history._csv import ImportSummary, import_csv, parse_csv
from daskbench.history._detect import Change, Detection, Pending, detect
from daskbench.history._series import History, Series, TestHistory, load_history
from daskbench.report._history import to_json, to_markdown, to_text

__all__ = [
    "Change",
    "Detection",
    "History",
    "ImportSummary",
    "Pending",
    "Series",
    "TestHistory",
    "acknowledge",
    "detect",
    "import_csv",
    "load_history",
    "parse_csv",
    "to_json",
    "to_markdown",
    "to_text",
]
