"""Making every measured block start from the same state, whatever ran before it.

A benchmark's numbers must not depend on the benchmarks that ran before it in the same
process and cluster. Restarting the workers (``--reset restart``) gives fresh worker
processes; what survives a restart, and what this module neutralises before every block
(warm-up and measured alike, outside the timed region):

* **garbage** left by earlier benchmarks in the client process (which, for a LocalCluster,
  is also the scheduler's process) and in the workers: a full collection before each
  benchmark (:func:`before_benchmark`), and during every block the objects that existed
  before it are frozen (``gc.freeze``) in the client, the scheduler and every worker, so the
  collector's work inside the block depends only on what the block allocates, not on the
  heap left behind by earlier benchmarks or earlier executions. (A full collection scans
  the whole heap. Unfrozen, a freshly restarted worker runs one within its first few
  executions, once what they left behind reaches a quarter of its old objects, where a
  long-lived worker, whose old generation is large, runs one only now and then: a cost of
  fresh workers that a direct loop on a long-lived cluster does not pay.)
* **freed memory still held by the workers' allocators** (``malloc_trim``), which otherwise
  shows up in the next benchmark's process memory (peak and average memory);
* **dirty pages** written by an earlier benchmark (spilling, P2P shuffles, parquet output),
  which the kernel would otherwise flush during the next one (``os.sync`` on every
  worker's host).

Full collections cost 0.1-0.3 s, so they happen once per benchmark and round, before its
warm-up; freezing costs microseconds per process (plus a round trip to the workers, outside
the timed region) and happens around every block. The scheduler's side of
the freeze happens in the task-activity plugin's window
(:func:`~daskbench.measure._scheduler_plugin.start_window`), which already runs on the
scheduler at the start of every block.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from contextlib import suppress
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


def before_block(client: Any) -> None:
    """Freeze the heaps of the client process and the workers for the block (the
    scheduler's: in start_window)."""
    gc.freeze()
    client.run(gc.freeze)


def after_block(client: Any) -> None:
    """Undo the freeze (called whether the block raised or not; a worker that is gone, or
    a cluster that cannot be reached, must not hide the block's own outcome)."""
    gc.unfreeze()
    with suppress(Exception):
        client.run(gc.unfreeze)
