"""Preloaded into the worker processes of a LocalCluster that daskbench starts.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group, workers included.
The daskbench process shuts the cluster down itself; workers ignoring SIGINT keeps their
KeyboardInterrupt tracebacks out of the user's terminal.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["dask_setup"]


def dask_setup(worker: Any) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
