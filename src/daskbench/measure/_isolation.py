"""Making every measured block start from the same state, whatever ran before it.

A benchmark's numbers must not depend on the benchmarks that ran before it in the same
process and cluster. Restarting the workers (``--reset restart``) gives fresh worker
processes; what survives a restart, and what this module neutralises before every block
(warm-up and measured alike, outside the timed region):

* **garbage** left by earlier benchmarks in the client process (which, for a LocalCluster,
  is also the scheduler's process) and in the workers: a full collection before each
  benchmark (:func:`before_benchmark`), and during every block the objects that existed
  before it are frozen (``gc.freeze``), so the collector's work inside the block depends
  only on what the block allocates, not on the heap left behind by earlier benchmarks;
* **freed memory still held by the workers' allocators** (``malloc_trim``), which otherwise
  shows up in the next benchmark's process memory (peak and average memory);
* **dirty pages** written by an earlier benchmark (spilling, P2P shuffles, parquet output),
  which the kernel would otherwise flush during the next one (``os.sync`` on every
  worker's host).

Full collections cost 0.1-0.3 s, so they happen once per benchmark and round, before its
warm-up; freezing costs microseconds and happens around every block. The scheduler's side of
the freeze happens in the task-activity plugin's window
(:func:`~daskbench.measure._scheduler_plugin.start_window`), which already runs on the
scheduler at the start of every block.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from typing import Any

__all__ = ["after_block", "before_benchmark", "before_block", "prepare_worker"]


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - musl or non-Linux: nothing to trim
        return
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - no glibc
        pass


def prepare_worker() -> None:
    """Run on every worker: collect garbage, return freed memory, flush dirty pages."""
    gc.collect()
    _malloc_trim()
    if hasattr(os, "sync"):
        os.sync()


def _collect_scheduler() -> None:
    gc.collect()


def before_benchmark(client: Any) -> None:
    """Once per benchmark and round, before its first execution."""
    client.run(prepare_worker)
    client.run_on_scheduler(_collect_scheduler)
    gc.collect()


def before_block() -> None:
    """Freeze the client process's heap for the block (the scheduler's: in start_window)."""
    gc.freeze()


def after_block() -> None:
    """Undo the freeze (called whether the block raised or not)."""
    gc.unfreeze()
